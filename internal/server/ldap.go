package server

import (
	"crypto/tls"
	"fmt"
	"net"

	"github.com/hygie-sante/hygie/internal/ldapd"
)

// ldapListeners returns the LDAP address book listeners: StartTLS on
// listen.ldap and implicit TLS on listen.ldaps (Start wraps the latter in
// TLS). Each has its own ldapd.Server, so that each listener's close stops
// only what it serves; they share the bind throttle.
func (n *Node) ldapListeners(tlsCfg *tls.Config) ([]imapListener, error) {
	if n.Cfg.Listen.LDAP == "" && n.Cfg.Listen.LDAPS == "" {
		return nil, nil
	}
	cfg := ldapd.Config{Accounts: n.Accounts, St: n.St, Audit: n.Audit, TLS: tlsCfg, BaseDN: n.Cfg.LDAPBaseDN, Log: n.Log,
		Throttle: n.loginThrottle("ldap")}
	plain, err := ldapd.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("ldap_base_dn: %w", err)
	}
	implicit, err := ldapd.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("ldap_base_dn: %w", err)
	}
	return []imapListener{
		{"ldap", n.Cfg.Listen.LDAP, false, plain.Serve, plain.Close},
		{"ldaps", n.Cfg.Listen.LDAPS, true, func(ln net.Listener) error { return implicit.ServeTLS(ln) }, implicit.Close},
	}, nil
}

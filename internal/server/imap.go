package server

import (
	"crypto/tls"
	"net"
	"time"

	"github.com/hygie-sante/hygie/internal/auth"
	"github.com/hygie-sante/hygie/internal/imapd"
)

type imapListener struct {
	name, addr string
	implicit   bool
	serve      func(net.Listener) error
	close      func() error
}

// imapListeners returns the IMAP listeners: STARTTLS on listen.imap and
// implicit TLS on listen.imaps (Start wraps the latter in TLS), both served
// by one IMAP server.
func (n *Node) imapListeners(tlsCfg *tls.Config) []imapListener {
	if n.Cfg.Listen.IMAP == "" && n.Cfg.Listen.IMAPS == "" {
		return nil
	}
	srv := imapd.New(imapd.Config{Accounts: n.Accounts, St: n.St, Audit: n.Audit, TLS: tlsCfg, Log: n.Log,
		MaxMessageSize: uint32(min(n.Cfg.SMTP.MaxMessageSize, 1<<31)), Opened: n.imapOpened,
		Tokens: n.Tokens, Throttle: auth.NewThrottle(10, 15*time.Minute)})
	return []imapListener{
		{"imap", n.Cfg.Listen.IMAP, false, srv.Serve, srv.Close},
		{"imaps", n.Cfg.Listen.IMAPS, true, srv.Serve, func() error { return nil }},
	}
}

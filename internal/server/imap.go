package server

import (
	"context"
	"crypto/tls"
	"net"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/imapd"
	"github.com/hygie-sante/hygie/internal/store"
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
		Tokens: n.Tokens, Throttle: n.loginThrottle("imap"),
		BoxAction: func(ctx context.Context, tx *store.Tx, box, member *account.Account, action, detail string) error {
			return account.RecordBoxActionTx(ctx, tx, box.ID, member, action, detail)
		}})
	return []imapListener{
		{"imap", n.Cfg.Listen.IMAP, false, srv.Serve, srv.Close},
		{"imaps", n.Cfg.Listen.IMAPS, true, srv.Serve, func() error { return nil }},
	}
}

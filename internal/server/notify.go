package server

import (
	"context"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/notify"
	"github.com/hygie-sante/hygie/internal/store"
)

// registerNotify installs the Notifications of SPEC §2.5: the job handlers
// of the daily digest and of RFC 8098 receipts, the pipeline's opening hook,
// and the digest job itself (created once, whatever the number of nodes).
// It returns the delivery effect that sends arrival notifications, for
// registerEffects.
func (n *Node) registerNotify() mail.Effect {
	nt, err := notify.New(notify.Config{St: n.St, Accounts: n.Accounts, Pipeline: n.Pipeline, Router: n.Router, Log: n.Log,
		PlatformName: n.Cfg.PlatformName, PublicURL: func() string { return n.Cfg.PublicURL }, Hostname: n.Cfg.Hostname,
		DigestTime: n.Cfg.DigestTime, Wake: n.Runner.Wake})
	if err != nil {
		// Validate checked digest_time; keep the node up without notifications.
		n.Log.Error("notifications disabled", "err", err)
		return func(context.Context, *store.Tx, *mail.Delivery) error { return nil }
	}
	n.Runner.Handlers[notify.JobDigest] = nt.HandleDigest
	n.Runner.Handlers[notify.JobMDN] = nt.HandleMDN
	n.Pipeline.OnOpened = nt.Opened
	if err := nt.SeedDigest(context.Background()); err != nil {
		n.Log.Error("daily digest not scheduled", "err", err)
	}
	return nt.Received
}

// imapOpened reports a message an IMAP client marked \Seen for the first
// time as opened (opening notification, RFC 8098 receipt).
func (n *Node) imapOpened(ctx context.Context, reader *account.Account, messageID int64) {
	if err := n.Pipeline.Opened(ctx, reader, messageID); err != nil {
		n.Log.Error("imap: opening not recorded", "reader", reader.Login, "message", messageID, "err", err)
	}
}

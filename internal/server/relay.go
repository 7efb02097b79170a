package server

import (
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/relay"
)

// registerRelay installs the job handler that delivers to other operators:
// by static route or MX, over STARTTLS presenting our certificate, retried
// for queue.retry_for, then bounced with a DSN (SPEC §4 and §5).
func (n *Node) registerRelay() {
	q := n.Cfg.Queue
	r := relay.New(relay.Config{
		St: n.St, Pipeline: n.Pipeline, Accounts: n.Accounts, Audit: n.Audit, Log: n.Log,
		Hostname: n.Cfg.Hostname, Cert: n.Cert, Roots: n.PeerCAs, Routes: n.Cfg.Routes,
		RetryFor: q.RetryFor.Duration, InitialBackoff: q.InitialBackoff.Duration, MaxBackoff: q.MaxBackoff.Duration,
	})
	n.Runner.Handlers[mail.JobRemote] = r.Handle
}

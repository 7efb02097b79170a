package server

import (
	"github.com/hygie-sante/hygie/internal/autoreply"
	"github.com/hygie-sante/hygie/internal/mail"
)

// registerAutoReply installs the job handler that sends automatic replies
// (« Réponse automatique », SPEC §2.4) and returns the delivery effect that
// decides them.
func (n *Node) registerAutoReply() mail.Effect {
	q := n.Cfg.Queue
	r := &autoreply.Responder{St: n.St, Accounts: n.Accounts, Pipeline: n.Pipeline, Router: n.Router, Log: n.Log,
		RetryFor: q.RetryFor.Duration, InitialBackoff: q.InitialBackoff.Duration, MaxBackoff: q.MaxBackoff.Duration}
	n.Runner.Handlers[autoreply.JobKind] = r.Handle
	return r.Effect
}

package server

import "github.com/hygie-sante/hygie/internal/outmail"

// registerOutmail installs the handler that sends the platform's own mail
// (notifications, password resets) through the smarthost.
func (n *Node) registerOutmail() {
	s := &outmail.Sender{St: n.St, Smarthost: n.Cfg.Smarthost, User: n.Cfg.SmarthostUser, Password: n.Cfg.SmarthostPassword,
		From: n.Cfg.NotifyFrom, Hostname: n.Cfg.Hostname, RetryFor: n.Cfg.Queue.RetryFor.Duration,
		InitialBackoff: n.Cfg.Queue.InitialBackoff.Duration, MaxBackoff: n.Cfg.Queue.MaxBackoff.Duration,
		Audit: n.Audit, Log: n.Log}
	n.Runner.Handlers[outmail.JobKind] = s.Handle
}

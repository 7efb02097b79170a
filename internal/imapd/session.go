package imapd

import (
	"context"
	"errors"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/hygie-sante/hygie/internal/account"
)

// session is one IMAP connection. imapserver calls its methods one command
// at a time, except Idle which runs beside the reading of DONE.
type session struct {
	srv      *Server
	conn     *imapserver.Conn
	remoteIP string
	ctx      context.Context
	cancel   context.CancelFunc

	user *account.Account // nil until logged in
	sel  *selection       // nil unless a folder is selected
}

var (
	_ imapserver.SessionIMAP4rev2   = (*session)(nil)
	_ imapserver.SessionAppendLimit = (*session)(nil)
)

// Close ends the session (imapserver calls it when the connection ends).
func (s *session) Close() error {
	s.closeSelection()
	s.cancel()
	return nil
}

func (s *session) login() string {
	if s.user == nil {
		return ""
	}
	return s.user.Login
}

// Login authenticates with the account's address and password (RFC 9051
// §6.2.3; AUTHENTICATE PLAIN ends here too). imapserver refuses both before
// TLS. Every attempt is recorded in the audit trail (SPEC §4); failures are
// throttled per login and IP.
func (s *session) Login(username, password string) error {
	if len(username) > 320 {
		username = username[:320]
	}
	att, ok := s.try(username)
	if !ok {
		s.audit(username, "throttled", "")
		return no(imap.ResponseCodeUnavailable, "Too many failed logins, try again later")
	}
	acc, err := s.srv.cfg.Accounts.Authenticate(s.ctx, username, password)
	if err != nil {
		detail := err.Error()
		if !errors.Is(err, account.ErrBadLogin) {
			s.srv.log.Error("imap login", "user", username, "ip", s.remoteIP, "err", err)
			detail = "internal error"
			att.Drop(s.ctx) // not a guess
		}
		s.audit(username, "failed", detail)
		return imapserver.ErrAuthFailed
	}
	att.Succeed(s.ctx)
	if !s.audit(acc.Login, "ok", "") {
		// No trace, no access.
		return no(imap.ResponseCodeUnavailable, "Login temporarily unavailable")
	}
	s.user = acc
	s.srv.log.Info("imap login", "user", acc.Login, "ip", s.remoteIP)
	return nil
}

// AppendLimit is the largest message APPEND accepts (RFC 7889).
func (s *session) AppendLimit() uint32 { return s.srv.cfg.MaxMessageSize }

// Namespace describes the personal and shared namespaces (RFC 2342 §5).
func (s *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{
		Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: delim}},
		Shared:   []imap.NamespaceDescriptor{{Prefix: SharedPrefix + string(delim), Delim: delim}},
	}, nil
}

package imapd

import (
	"errors"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-sasl"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/auth"
)

var _ imapserver.SessionSASL = (*session)(nil)

// AuthenticateMechanisms lists the SASL mechanisms of AUTHENTICATE (RFC
// 9051 §6.2.2): PLAIN, plus XOAUTH2 and OAUTHBEARER (RFC 7628) carrying an
// access token of the CPS provider when one is configured (SPEC §5).
// imapserver advertises them only once TLS is on.
func (s *session) AuthenticateMechanisms() []string {
	if s.srv.cfg.Tokens == nil {
		return []string{sasl.Plain}
	}
	return []string{sasl.Plain, auth.XOAuth2, sasl.OAuthBearer}
}

// Authenticate starts a SASL exchange for mech.
func (s *session) Authenticate(mech string) (sasl.Server, error) {
	switch {
	case mech == sasl.Plain:
		// As imapserver does without SessionSASL.
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && identity != username {
				return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAuthorizationFailed,
					Text: "SASL identity not supported"}
			}
			return s.Login(username, password)
		}), nil
	case s.srv.cfg.Tokens == nil:
	case mech == auth.XOAuth2:
		return auth.NewXOAuth2Server(func(user, token string) error {
			if user == "" {
				token = "" // XOAUTH2 requires the user
			}
			return s.tokenLogin(mech, user, token)
		}), nil
	case mech == sasl.OAuthBearer:
		return auth.NewOAuthBearerServer(func(user, token string) error { return s.tokenLogin(mech, user, token) }), nil
	}
	return nil, &imap.Error{Type: imap.StatusResponseTypeNo, Text: "SASL mechanism not supported"}
}

// tokenLogin logs in with an access token for user: audited with the
// mechanism in the detail, throttled per user and address.
func (s *session) tokenLogin(mech, user, token string) error {
	if len(user) > 320 {
		user = user[:320]
	}
	att, ok := s.try(user)
	if !ok {
		s.audit(user, "throttled", mech)
		return no(imap.ResponseCodeUnavailable, "Too many failed logins, try again later")
	}
	acc, err := s.srv.cfg.Accounts.AuthenticateToken(s.ctx, s.srv.cfg.Tokens, user, token)
	if err != nil {
		detail := mech + ": " + err.Error()
		if !errors.Is(err, account.ErrBadLogin) {
			s.srv.log.Error("imap token login", "user", user, "ip", s.remoteIP, "err", err)
			detail = mech + ": internal error"
			att.Drop(s.ctx) // not a guess
		}
		s.audit(user, "failed", detail)
		return imapserver.ErrAuthFailed
	}
	att.Succeed(s.ctx)
	if !s.audit(acc.Login, "ok", mech) {
		// No trace, no access.
		return no(imap.ResponseCodeUnavailable, "Login temporarily unavailable")
	}
	s.user = acc
	s.srv.log.Info("imap login", "user", acc.Login, "ip", s.remoteIP, "mechanism", mech)
	return nil
}

// try counts a login attempt for user from this session's IP (the
// throttle: per person and IP).
func (s *session) try(user string) (*auth.Attempt, bool) {
	return s.srv.cfg.Throttle.Try(s.ctx, s.srv.cfg.Accounts.LoginKey(s.ctx, user)+"|"+s.remoteIP)
}

// audit records a login attempt, reporting whether it was recorded.
func (s *session) audit(user, result, detail string) bool {
	if err := s.srv.cfg.Audit.Login(s.ctx, "imap", user, s.remoteIP, result, detail); err != nil {
		s.srv.log.Error("imap login: audit", "user", user, "ip", s.remoteIP, "err", err)
		return false
	}
	return true
}

package smtpd

import (
	"errors"

	"github.com/emersion/go-sasl"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/auth"
)

// tokenMechanisms carry an access token of the CPS provider (SPEC §5,
// client software access).
var tokenMechanisms = []string{auth.XOAuth2, sasl.OAuthBearer}

// tokenAuth returns the SASL server of a token mechanism, or nil when mech
// is not one or no token validator is configured.
func (s *submissionSession) tokenAuth(mech string) sasl.Server {
	if s.cfg.Tokens == nil {
		return nil
	}
	switch mech {
	case auth.XOAuth2:
		return auth.NewXOAuth2Server(func(user, token string) error {
			if user == "" {
				token = "" // XOAUTH2 requires the user
			}
			return s.tokenLogin(mech, user, token)
		})
	case sasl.OAuthBearer:
		return auth.NewOAuthBearerServer(func(user, token string) error { return s.tokenLogin(mech, user, token) })
	}
	return nil
}

// tokenLogin logs in with an access token for user, audited (mechanism in
// the detail) and throttled like a password login.
func (s *submissionSession) tokenLogin(mech, user, token string) error {
	ctx, cancel := ctxTimeout()
	defer cancel()
	if len(user) > 320 {
		user = user[:320]
	}
	ip := remoteIP(s.conn)
	att, ok := s.cfg.Throttle.Try(ctx, s.cfg.Accounts.LoginKey(ctx, user)+"|"+ip)
	if !ok {
		s.audit(user, ip, "throttled", mech)
		return errThrottled
	}
	a, err := s.cfg.Accounts.AuthenticateToken(ctx, s.cfg.Tokens, user, token)
	if err != nil {
		if !errors.Is(err, account.ErrBadLogin) {
			att.Drop(ctx) // not a guess
			s.audit(user, ip, "failed", mech+": internal error")
			return toSMTP(err, s.cfg.Log)
		}
		s.audit(user, ip, "failed", mech+": "+err.Error())
		return errBadAuth
	}
	att.Succeed(ctx)
	s.audit(a.Login, ip, "ok", mech)
	s.user = a
	return nil
}

func (s *submissionSession) audit(user, ip, result, detail string) {
	ctx, cancel := ctxTimeout()
	defer cancel()
	if err := s.cfg.Audit.Login(ctx, "smtp", user, ip, result, detail); err != nil {
		s.cfg.Log.Error("smtp login: audit", "user", user, "ip", ip, "err", err)
	}
}

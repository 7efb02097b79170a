package smtpd

import (
	"errors"
	"io"
	"strings"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/address"
	"github.com/hygie-sante/hygie/internal/mail"
)

// submissionSession is one client connection on the submission port.
type submissionSession struct {
	cfg      *Config
	conn     *smtp.Conn
	user     *account.Account
	identity *account.Account
	from     string
	rcpts    []mail.Destination
}

var (
	errAuthRequired = &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "authentication required"}
	errBadAuth      = &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "authentication credentials invalid"}
	errThrottled    = &smtp.SMTPError{Code: 454, EnhancedCode: smtp.EnhancedCode{4, 7, 0}, Message: "too many failed logins, try again later"}
)

// AuthMechanisms lists PLAIN (RFC 4616) and LOGIN; go-smtp offers them only
// over TLS (AllowInsecureAuth is false).
// XOAUTH2 and OAUTHBEARER are added when access tokens are configured.
func (s *submissionSession) AuthMechanisms() []string {
	mechs := []string{sasl.Plain, sasl.Login}
	if s.cfg.Tokens != nil {
		mechs = append(mechs, tokenMechanisms...)
	}
	return mechs
}

// Auth starts a SASL exchange.
func (s *submissionSession) Auth(mech string) (sasl.Server, error) {
	switch mech {
	case sasl.Plain:
		return sasl.NewPlainServer(func(identity, username, password string) error {
			if identity != "" && !strings.EqualFold(identity, username) {
				return errBadAuth
			}
			return s.login(username, password)
		}), nil
	case sasl.Login:
		return newLoginServer(s.login), nil
	}
	if srv := s.tokenAuth(mech); srv != nil {
		return srv, nil
	}
	return nil, &smtp.SMTPError{Code: 504, EnhancedCode: smtp.EnhancedCode{5, 5, 4}, Message: "unsupported mechanism"}
}

func (s *submissionSession) login(username, password string) error {
	ctx, cancel := ctxTimeout()
	defer cancel()
	ip := remoteIP(s.conn)
	att, ok := s.cfg.Throttle.Try(ctx, s.cfg.Accounts.LoginKey(ctx, username)+"|"+ip)
	if !ok {
		s.cfg.Audit.Login(ctx, "smtp", username, ip, "throttled", "")
		return errThrottled
	}
	a, err := s.cfg.Accounts.Authenticate(ctx, username, password)
	if err != nil {
		s.cfg.Audit.Login(ctx, "smtp", username, ip, "failed", err.Error())
		if errors.Is(err, account.ErrBadLogin) {
			return errBadAuth
		}
		att.Drop(ctx) // not a guess
		return toSMTP(err, s.cfg.Log)
	}
	att.Succeed(ctx)
	s.cfg.Audit.Login(ctx, "smtp", a.Login, ip, "ok", "")
	s.user = a
	return nil
}

// Mail checks that the reverse-path is an address of the authenticated
// account or of a box it is a member of.
func (s *submissionSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == nil {
		return errAuthRequired
	}
	addr, err := address.Parse(from)
	if err != nil {
		return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 7}, Message: "bad sender address"}
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	id, err := s.cfg.Accounts.SenderIdentity(ctx, s.user, addr)
	if err != nil {
		if errors.Is(err, account.ErrInvalid) {
			return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
				Message: "sender address rejected: " + addr + " is neither your address nor one of a box you are a member of"}
		}
		return toSMTP(err, s.cfg.Log)
	}
	s.identity, s.from = id, addr
	return nil
}

// Rcpt routes a recipient with the rules of SPEC §1.
func (s *submissionSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.identity == nil {
		return &smtp.SMTPError{Code: 503, EnhancedCode: smtp.EnhancedCode{5, 5, 1}, Message: "MAIL first"}
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	d, err := s.cfg.Router.Route(ctx, s.identity, to)
	if err != nil {
		return toSMTP(err, s.cfg.Log)
	}
	s.rcpts = append(s.rcpts, d)
	return nil
}

// Data stores the message; 250 is answered only once it is durable.
func (s *submissionSession) Data(r io.Reader) error {
	data, err := readData(r)
	if err != nil {
		return err
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	_, err = s.cfg.Pipeline.Deliver(ctx, mail.Envelope{
		Source: mail.SourceSubmission, From: s.from, Identity: s.identity, User: s.user, Recipients: s.rcpts,
		RemoteIP: remoteIP(s.conn), Helo: s.conn.Hostname(), Protocol: withProtocol(s.conn, true), Route: "submission",
	}, data)
	if err != nil {
		return toSMTP(err, s.cfg.Log)
	}
	return nil
}

// Reset forgets the current transaction, keeping the login.
func (s *submissionSession) Reset() { s.identity, s.from, s.rcpts = nil, "", nil }

// Logout ends the session.
func (s *submissionSession) Logout() error { return nil }

// Package smtpd adapts go-smtp to Hygie: the submission service for
// authenticated clients and the operator MX for other MSSanté operators.
// It translates; the rules live in the account and mail packages.
package smtpd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/auth"
	"github.com/hygie-sante/hygie/internal/mail"
)

// PeerChecker verifies that a client certificate belongs to the operator of
// a sender domain (the liste blanche of SPEC §5).
type PeerChecker interface {
	// CheckPeer returns nil when cert may send mail from domain; an empty
	// domain (null reverse-path, RFC 5321 §4.5.5) asks whether cert is any
	// listed operator.
	CheckPeer(domain string, cert *x509.Certificate) error
}

// Config is what both SMTP services need.
type Config struct {
	Hostname       string
	TLS            *tls.Config
	MaxMessageSize int64
	MaxRecipients  int
	Accounts       *account.Service
	Router         *mail.Router
	Pipeline       *mail.Pipeline
	Audit          *audit.Log
	Log            *slog.Logger
	// Peers checks operator certificates on the MX.
	Peers PeerChecker
	// Throttle slows down repeated failed logins; nil disables it.
	Throttle *auth.Throttle
	// Tokens validates the access tokens of SASL XOAUTH2 and OAUTHBEARER
	// (RFC 7628) on submission; nil: the mechanisms are not offered.
	Tokens account.TokenValidator
}

// NewSubmission returns the submission server (RFC 6409): AUTH is required
// and offered only over TLS.
func NewSubmission(cfg Config) *smtp.Server {
	s := newServer(cfg, smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &submissionSession{cfg: &cfg, conn: c}, nil
	}))
	return s
}

// NewMX returns the operator MX server: STARTTLS and a client certificate
// of a listed operator are required before MAIL FROM.
func NewMX(cfg Config) *smtp.Server {
	return newServer(cfg, smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &mxSession{cfg: &cfg, conn: c}, nil
	}))
}

func newServer(cfg Config, be smtp.Backend) *smtp.Server {
	s := smtp.NewServer(be)
	s.Domain = cfg.Hostname
	s.TLSConfig = cfg.TLS
	s.MaxMessageBytes = cfg.MaxMessageSize
	s.MaxRecipients = cfg.MaxRecipients
	s.ReadTimeout = 5 * time.Minute
	s.WriteTimeout = 5 * time.Minute
	s.EnableSMTPUTF8 = false
	s.ErrorLog = slogAdapter{cfg.Log}
	return s
}

type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) Printf(format string, v ...any) { a.l.Warn(fmt.Sprintf(format, v...)) }
func (a slogAdapter) Println(v ...any)               { a.l.Warn(fmt.Sprint(v...)) }

// toSMTP maps a rule refusal to an SMTP reply, and anything else to a
// temporary local error (RFC 3463 4.3.0) without leaking internals.
func toSMTP(err error, log *slog.Logger) error {
	var me *mail.Error
	if errors.As(err, &me) {
		return &smtp.SMTPError{Code: me.Code, EnhancedCode: smtp.EnhancedCode(me.Enhanced), Message: me.Message}
	}
	var se *smtp.SMTPError
	if errors.As(err, &se) {
		return se
	}
	log.Error("smtp: internal error", "err", err)
	return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "temporary local error, try again later"}
}

// readData reads a message, mapping an oversized one to 552 5.3.4.
func readData(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		if errors.Is(err, smtp.ErrDataTooLarge) || err == smtp.ErrDataTooLarge {
			return nil, smtp.ErrDataTooLarge
		}
		return nil, err
	}
	return b, nil
}

func remoteIP(c *smtp.Conn) string {
	if c == nil || c.Conn() == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(c.Conn().RemoteAddr().String())
	if err != nil {
		return c.Conn().RemoteAddr().String()
	}
	return host
}

// withProtocol returns the RFC 3848 WITH keyword for a session.
func withProtocol(c *smtp.Conn, authed bool) string {
	p := "ESMTP"
	if _, ok := c.TLSConnectionState(); ok {
		p += "S"
	}
	if authed {
		p += "A"
	}
	return p
}

func ctxTimeout() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}

// Package outmail sends Hygie's own mail to the outside world — password
// resets, notifications, daily digests — through a configured smarthost.
// A mail is a job written in the caller's transaction, so it leaves once
// that transaction commits, and is retried by the queue until it does.
// Such mail never carries message content (SPEC §1).
package outmail

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"mime"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/address"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
)

// JobKind is the queue kind of outgoing mail.
const JobKind = "outmail"

// Mail is one plain-text mail to an address outside the platform.
type Mail struct {
	To      string `json:"to"`
	Subject string `json:"subject"`
	Text    string `json:"text"`
	// Kind names the mail for traces ("password-reset", "notification"…).
	Kind string `json:"kind"`
}

// Enqueue writes m as a job in tx.
func Enqueue(ctx context.Context, tx *store.Tx, m Mail) error {
	to, err := address.Parse(m.To)
	if err != nil {
		return fmt.Errorf("outmail: recipient: %w", err)
	}
	m.To = to
	if _, err := queue.Enqueue(ctx, tx, JobKind, m, time.Now()); err != nil {
		return fmt.Errorf("outmail: %w", err)
	}
	return nil
}

// Sender delivers queued mail through the smarthost.
type Sender struct {
	St        *store.Store
	Smarthost string
	User      string
	Password  string
	From      string
	Hostname  string
	// TLS verifies the smarthost; nil means system roots with its name.
	TLS            *tls.Config
	RetryFor       time.Duration
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	Audit          *audit.Log
	Log            *slog.Logger
}

// Handle is the queue handler of JobKind.
func (s *Sender) Handle(ctx context.Context, j queue.Job) error {
	var m Mail
	if err := json.Unmarshal(j.Payload, &m); err != nil {
		return queue.Reschedule(ctx, s.St, j.ID, time.Now().Add(s.MaxBackoff), "bad payload: "+err.Error(), nil)
	}
	err := s.send(ctx, m)
	if err == nil {
		s.trace(ctx, m, "delivered", "via "+s.Smarthost)
		return queue.Complete(ctx, s.St, j.ID, nil)
	}
	permanent := false
	if se, ok := err.(*smtp.SMTPError); ok && se.Code >= 500 {
		permanent = true
	}
	if permanent || time.Since(j.Created) >= s.RetryFor {
		s.Log.Error("outmail: given up", "to", m.To, "kind", m.Kind, "err", err)
		s.trace(ctx, m, "failed", err.Error())
		return queue.Complete(ctx, s.St, j.ID, nil)
	}
	next := time.Now().Add(queue.Backoff(j.Attempts, s.InitialBackoff, s.MaxBackoff))
	s.Log.Warn("outmail: deferred", "to", m.To, "kind", m.Kind, "err", err, "next", next)
	return queue.Reschedule(ctx, s.St, j.ID, next, err.Error(), nil)
}

func (s *Sender) trace(ctx context.Context, m Mail, result, detail string) {
	if s.Audit == nil {
		return
	}
	s.Audit.Message(ctx, audit.Record{Protocol: "smtp", Result: result, Sender: s.From, Recipients: []string{m.To},
		Route: "smarthost " + m.Kind, Detail: detail})
}

// send delivers one mail. STARTTLS is required unless the smarthost is on
// a loopback address (RFC 3207).
func (s *Sender) send(ctx context.Context, m Mail) error {
	if s.Smarthost == "" {
		return fmt.Errorf("no smarthost configured")
	}
	host, _, _ := net.SplitHostPort(s.Smarthost)
	cfg := s.TLS
	if cfg == nil {
		cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	c, err := s.dial(ctx, cfg, true)
	if err != nil {
		ip := net.ParseIP(host)
		if !(host == "localhost" || ip != nil && ip.IsLoopback()) {
			return fmt.Errorf("smarthost %s: %w", s.Smarthost, err)
		}
		// Plain SMTP only to a loopback smarthost.
		if c, err = s.dial(ctx, nil, false); err != nil {
			return fmt.Errorf("smarthost %s: %w", s.Smarthost, err)
		}
	}
	defer c.Close()
	if s.User != "" {
		if err := c.Auth(sasl.NewPlainClient("", s.User, s.Password)); err != nil {
			return fmt.Errorf("smarthost AUTH: %w", err)
		}
	}
	if err := c.SendMail(s.From, []string{m.To}, bytes.NewReader(s.build(m))); err != nil {
		return err
	}
	return c.Quit()
}

// dial connects to the smarthost, with STARTTLS when starttls is set.
func (s *Sender) dial(ctx context.Context, cfg *tls.Config, starttls bool) (*smtp.Client, error) {
	d := net.Dialer{Timeout: 30 * time.Second}
	conn, err := d.DialContext(ctx, "tcp", s.Smarthost)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(2 * time.Minute))
	if starttls {
		c, err := smtp.NewClientStartTLS(conn, cfg)
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
		return c, nil
	}
	c := smtp.NewClient(conn)
	if err := c.Hello(s.Hostname); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// build writes m as an RFC 5322 message marked as automatic (RFC 3834 §5).
func (s *Sender) build(m Mail) []byte {
	var b bytes.Buffer
	var id [12]byte
	rand.Read(id[:])
	fmt.Fprintf(&b, "From: %s\r\nTo: <%s>\r\n", s.From, m.To)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\nMessage-ID: <%s@%s>\r\n", time.Now().Format(time.RFC1123Z), hex.EncodeToString(id[:]), s.Hostname)
	b.WriteString("Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	b.WriteString(strings.ReplaceAll(strings.ReplaceAll(m.Text, "\r\n", "\n"), "\n", "\r\n"))
	if !strings.HasSuffix(m.Text, "\n") {
		b.WriteString("\r\n")
	}
	return b.Bytes()
}

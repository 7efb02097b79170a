// Package relay is the outbound side of the MSSanté trust space: it carries
// out the queue's remote delivery jobs (mail.JobRemote) by SMTP to the
// other operators, over mandatory STARTTLS with mutual certificate
// authentication (SPEC §5), retries temporary failures with exponential
// backoff and, on final failure, returns an RFC 3464 DSN to the sender.
package relay

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
)

// Resolver finds the mail exchangers of a domain; *net.Resolver is one.
type Resolver interface {
	LookupMX(ctx context.Context, name string) ([]*net.MX, error)
}

// Config is what a Relay needs. Zero durations take the defaults below.
type Config struct {
	St       *store.Store
	Pipeline *mail.Pipeline
	// Accounts finds the local sender a DSN goes back to.
	Accounts *account.Service
	// Hostname is this node's name: EHLO, Reporting-MTA and the DSN's From.
	Hostname string
	// Cert is our operator certificate, presented to every peer.
	Cert tls.Certificate
	// Roots verifies peers' server certificates (IGC-Santé); nil means the
	// system roots.
	Roots *x509.CertPool
	// Routes maps a recipient domain to a static next hop "host:port",
	// bypassing the MX lookup.
	Routes map[string]string
	// RetryFor is how long a job is retried before it fails for good
	// (default 120h); InitialBackoff (default 1m) doubles at each attempt
	// up to MaxBackoff (default 1h).
	RetryFor, InitialBackoff, MaxBackoff time.Duration
	Audit                                *audit.Log
	Log                                  *slog.Logger
	// Resolver looks up MX records (default net.DefaultResolver).
	Resolver Resolver
	// DialTimeout bounds each TCP connection attempt (default 30s).
	DialTimeout time.Duration
	// SessionTimeout bounds a whole SMTP session (default 4m); keep it
	// below the queue's lease so that a job is never run twice at once.
	SessionTimeout time.Duration
	// Port is the SMTP port of MX hosts (default 25, RFC 5321 §4.5.4.2).
	Port string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Relay delivers remote jobs.
type Relay struct {
	cfg Config
	log *slog.Logger
}

// New returns a Relay over cfg, filling in the defaults.
func New(cfg Config) *Relay {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.RetryFor, 120*time.Hour)
	def(&cfg.InitialBackoff, time.Minute)
	def(&cfg.MaxBackoff, time.Hour)
	def(&cfg.DialTimeout, 30*time.Second)
	def(&cfg.SessionTimeout, 4*time.Minute)
	if cfg.MaxBackoff < cfg.InitialBackoff {
		cfg.MaxBackoff = cfg.InitialBackoff
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Port == "" {
		cfg.Port = "25"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	routes := make(map[string]string, len(cfg.Routes))
	for d, hop := range cfg.Routes {
		routes[strings.ToLower(strings.TrimSuffix(d, "."))] = hop
	}
	cfg.Routes = routes
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Relay{cfg: cfg, log: log}
}

// Handle carries out one mail.JobRemote job: one attempt at delivering the
// message to the remaining recipients of one domain. It completes the job
// when every recipient has a final outcome, and otherwise reschedules it
// for the recipients still to try. It returns an error only when it could
// not record the outcome; the job then runs again when its lease ends.
func (r *Relay) Handle(ctx context.Context, j queue.Job) error {
	var p mail.RemoteJob
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.Domain == "" || len(p.Rcpts) == 0 {
		// Retrying cannot repair it: keep it for the operator (hygie admin
		// queue drop) instead of losing a message silently.
		reason := fmt.Sprintf("unusable remote job payload (%v): %.200s", err, j.Payload)
		r.log.Error("relay: "+reason, "job", j.ID)
		return r.bookkeeping(ctx, func(ctx context.Context) error {
			return queue.Reschedule(ctx, r.cfg.St, j.ID, r.cfg.Now().Add(r.cfg.MaxBackoff), reason, nil)
		})
	}
	body, err := r.loadBody(ctx, p.MessageID)
	var res attempt
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// The message is gone for good: nothing left to deliver.
		res = allFailed(p.Rcpts, outcome{Status: "5.3.0", Permanent: true,
			Text: fmt.Sprintf("message %d is no longer stored here", p.MessageID)})
	case err != nil:
		res = allFailed(p.Rcpts, outcome{Status: "4.3.0", Text: "local error: " + err.Error()})
	default:
		res = r.attempt(ctx, p, body)
	}
	return r.bookkeeping(ctx, func(ctx context.Context) error { return r.settle(ctx, j, p, body, res) })
}

// bookkeeping runs fn with a context that survives the runner's shutdown:
// an attempt that reached the peer must be recorded, or it is repeated.
func (r *Relay) bookkeeping(ctx context.Context, fn func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	return fn(ctx)
}

// loadBody reads the stored message (Received trace included).
func (r *Relay) loadBody(ctx context.Context, id int64) ([]byte, error) {
	var body []byte
	if err := r.cfg.St.QueryRow(ctx, `SELECT body FROM messages WHERE id = ?`, id).Scan(&body); err != nil {
		return nil, fmt.Errorf("load message %d: %w", id, err)
	}
	return body, nil
}

// Package notify carries out the Notifications section of « Gérer mon
// compte » (SPEC §2.5) and what it causes in the rest of the system:
//
//   - A.1: one mail to the notification address (an ordinary mailbox outside
//     the platform) for each message received, linking to the webmail and
//     never saying what the message is (SPEC §1: content never leaves the
//     trust space). For an organisational box, to the box's associated
//     address and to each member who kept « recevoir les notifications sur
//     mon adresse individuelle » (SPEC §2.2 C.2).
//   - A.2: a daily digest at a configured time (Europe/Paris) saying whether
//     messages arrived that day, sent exactly once per day by a single queue
//     job that reschedules itself in the transaction that queues the mail.
//   - B: when a platform user first opens a message, its sender (a platform
//     account that asked for it) is told; and a message that asks for an
//     RFC 8098 receipt gets a message disposition notification.
//
// Mail to the outside world goes through package outmail, in the
// transaction that causes it.
package notify

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
	_ "time/tzdata" // Europe/Paris on hosts without a zone database

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/store"
)

// Job kinds handled by a Notifier.
const (
	// JobDigest is the single self-rescheduling job of the daily digest.
	JobDigest = "digest"
	// JobMDN builds and delivers one RFC 8098 receipt.
	JobMDN = "mdn"
)

// Kinds of outgoing mail, for traces.
const (
	KindMessage = "notification"
	KindDigest  = "digest"
	KindOpened  = "opening"
)

// Config is what a Notifier needs.
type Config struct {
	St       *store.Store
	Accounts *account.Service
	// Pipeline delivers receipts; Router decides where they may go.
	Pipeline *mail.Pipeline
	Router   *mail.Router
	Log      *slog.Logger
	// PlatformName replaces « Medimail » in texts.
	PlatformName string
	// PublicURL returns the base of links in mails (it may be known only
	// once the web listener is bound).
	PublicURL func() string
	// Hostname names this node in receipts (Reporting-UA, Message-ID).
	Hostname string
	// DigestTime is when the daily digest goes out, "HH:MM" in Location.
	DigestTime string
	// Location is the zone of days and of DigestTime; nil means
	// Europe/Paris.
	Location *time.Location
	// Now is the clock; nil means time.Now. The queue runs on the real
	// clock: job times are shifted by the difference.
	Now func() time.Time
	// Wake tells the job runner that jobs were queued (may be nil).
	Wake func()
}

// Notifier sends notifications, digests and receipts.
type Notifier struct {
	cfg          Config
	log          *slog.Logger
	hour, minute int
}

// New returns a Notifier; it fails on a malformed DigestTime.
func New(cfg Config) (*Notifier, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.PlatformName == "" {
		cfg.PlatformName = "Hygie"
	}
	if cfg.PublicURL == nil {
		cfg.PublicURL = func() string { return "" }
	}
	if cfg.Location == nil {
		loc, err := time.LoadLocation("Europe/Paris")
		if err != nil {
			return nil, fmt.Errorf("notify: %w", err)
		}
		cfg.Location = loc
	}
	if cfg.DigestTime == "" {
		cfg.DigestTime = "18:00"
	}
	t, err := time.Parse("15:04", cfg.DigestTime)
	if err != nil {
		return nil, fmt.Errorf("notify: digest time %q: want HH:MM", cfg.DigestTime)
	}
	return &Notifier{cfg: cfg, log: cfg.Log.With("service", "notify"), hour: t.Hour(), minute: t.Minute()}, nil
}

func (n *Notifier) now() time.Time { return n.cfg.Now() }

// queueTime converts a time of the Notifier's clock to the queue's (real)
// clock: identical in production, shifted when a test moves the clock.
func (n *Notifier) queueTime(t time.Time) time.Time { return t.Add(time.Since(n.now())) }

func (n *Notifier) wake(tx *store.Tx) {
	if n.cfg.Wake != nil {
		tx.AfterCommit(n.cfg.Wake)
	} else if n.cfg.Pipeline != nil && n.cfg.Pipeline.Wake != nil {
		tx.AfterCommit(n.cfg.Pipeline.Wake)
	}
}

// mailLink is the webmail of account or box id.
func (n *Notifier) mailLink(id int64) string {
	return strings.TrimRight(n.cfg.PublicURL(), "/") + fmt.Sprintf("/a/%d/mail/", id)
}

// frDate formats t as « 04/05/2026 à 14:32 » in the Notifier's zone.
func (n *Notifier) frDate(t time.Time) string {
	return t.In(n.cfg.Location).Format("02/01/2006 à 15:04")
}

// name is how a person or box is named in a notification: « Jean Dupont
// (jean@clinique.example) », or the address alone.
func name(display, addr string) string {
	display = strings.TrimSpace(display)
	if display == "" {
		return addr
	}
	return display + " (" + addr + ")"
}

package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/outmail"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
)

const publicURL = "https://webmail.hygie.test"

// testClock is a clock the test sets; with shift it follows real time from
// a chosen instant.
type testClock struct {
	mu    sync.Mutex
	t     time.Time
	shift bool
	since time.Time
}

func fixedClock(t time.Time) *testClock { return &testClock{t: t} }

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.shift {
		return c.t.Add(time.Since(c.since))
	}
	return c.t
}

// Set fixes the clock at t.
func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	c.t, c.shift = t, false
	c.mu.Unlock()
}

// Run makes the clock read t now and advance with real time.
func (c *testClock) Run(t time.Time) {
	c.mu.Lock()
	c.t, c.shift, c.since = t, true, time.Now()
	c.mu.Unlock()
}

var paris = func() *time.Location {
	l, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return l
}()

func at(s string) time.Time {
	t, err := time.ParseInLocation("2006-01-02 15:04:05", s, paris)
	if err != nil {
		panic(err)
	}
	return t
}

// trusted is the MSSanté trust space of the tests: other.test only.
type trusted struct{}

func (trusted) IsTrusted(d string) bool { return d == "other.test" }

// world is one platform (domain a.test) on one store.
type world struct {
	st    *store.Store
	acc   *account.Service
	p     *mail.Pipeline
	r     *mail.Router
	n     *Notifier
	clock *testClock
}

func openStore(t *testing.T, dsn string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// newWorld opens a store with a structure, a pipeline whose effects
// include the notifier's, and the notifier on clock.
func newWorld(t *testing.T, dsn string, clock *testClock) *world {
	t.Helper()
	st := openStore(t, dsn)
	w := &world{st: st, acc: account.NewService(st), clock: clock}
	if _, err := w.acc.CreateStructure(context.Background(), "Clinique", ""); err != nil {
		t.Fatal(err)
	}
	w.p = &mail.Pipeline{St: st, Hostname: "mx.a.test", Log: testLog(t), Now: clock.Now}
	w.r = &mail.Router{Accounts: w.acc, Trust: trusted{}, Domains: []string{"a.test"}}
	w.n = w.notifier(t, st)
	w.p.Effects = []mail.Effect{w.n.Received}
	w.p.OnOpened = w.n.Opened
	return w
}

// notifier returns a new Notifier of the world on st (another node).
func (w *world) notifier(t *testing.T, st *store.Store) *Notifier {
	t.Helper()
	n, err := New(Config{St: st, Accounts: account.NewService(st), Pipeline: w.p, Router: w.r, Log: testLog(t),
		PlatformName: "Hygie Santé", PublicURL: func() string { return publicURL }, Hostname: "mx.a.test",
		DigestTime: "18:00", Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (w *world) person(t *testing.T, kind account.Kind, login, mss, first, last, notify string) *account.Account {
	t.Helper()
	a, err := w.acc.Create(context.Background(), account.NewAccount{Structure: "Clinique", Kind: kind, Login: login, MSS: mss,
		FirstName: first, LastName: last, Notify: notify})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func (w *world) box(t *testing.T, login, mss, label, notify string) *account.Account {
	t.Helper()
	a, err := w.acc.Create(context.Background(), account.NewAccount{Structure: "Clinique", Kind: account.ORG, Login: login, MSS: mss,
		Label: label, Notify: notify})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// set changes account columns (notify_each, notify_daily, notify_open).
func (w *world) set(t *testing.T, a *account.Account, col string, v int) {
	t.Helper()
	if _, err := w.st.DB.ExecContext(context.Background(), w.st.Rebind(`UPDATE accounts SET `+col+` = ? WHERE id = ?`), v, a.ID); err != nil {
		t.Fatal(err)
	}
}

// send submits raw as from to rcpts through the pipeline.
func (w *world) send(t *testing.T, from *account.Account, rcpts []string, raw string) mail.Delivered {
	t.Helper()
	ctx := context.Background()
	var dests []mail.Destination
	for _, r := range rcpts {
		d, err := w.r.Route(ctx, from, r)
		if err != nil {
			t.Fatalf("route %s: %v", r, err)
		}
		dests = append(dests, d)
	}
	d, err := w.p.Deliver(ctx, mail.Envelope{Source: mail.SourceSubmission, From: from.Login, Identity: from, Recipients: dests}, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// receive delivers raw from another operator's user to local rcpts.
func (w *world) receive(t *testing.T, from string, rcpts []string, raw string) mail.Delivered {
	t.Helper()
	ctx := context.Background()
	var dests []mail.Destination
	for _, r := range rcpts {
		d, err := w.r.Route(ctx, nil, r)
		if err != nil {
			t.Fatalf("route %s: %v", r, err)
		}
		dests = append(dests, d)
	}
	d, err := w.p.Deliver(ctx, mail.Envelope{Source: mail.SourceMX, From: from, Recipients: dests}, []byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func rawMessage(from, to, subject, extra, body string) string {
	return fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%d@a.test>\r\nDate: %s\r\n%s\r\n%s\r\n",
		from, to, subject, time.Now().UnixNano(), time.Now().Format(time.RFC1123Z), extra, body)
}

// outmails returns the queued mails to the outside world of a kind ("" for
// all).
func outmails(t *testing.T, st *store.Store, kind string) []outmail.Mail {
	t.Helper()
	jobs, err := queue.List(context.Background(), st, outmail.JobKind)
	if err != nil {
		t.Fatal(err)
	}
	var out []outmail.Mail
	for _, j := range jobs {
		var m outmail.Mail
		if err := json.Unmarshal(j.Payload, &m); err != nil {
			t.Fatal(err)
		}
		if kind == "" || m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

// to filters mails by recipient.
func to(ms []outmail.Mail, addr string) []outmail.Mail {
	var out []outmail.Mail
	for _, m := range ms {
		if strings.EqualFold(m.To, addr) {
			out = append(out, m)
		}
	}
	return out
}

// inboxEntry returns the UID and message id of the single entry of
// message msg in account a's INBOX.
func inboxEntry(t *testing.T, st *store.Store, a *account.Account, folder string, msg int64) uint32 {
	t.Helper()
	f, err := mailbox.FolderByName(context.Background(), st, a.ID, folder)
	if err != nil {
		t.Fatal(err)
	}
	var uid int64
	if err := st.QueryRow(context.Background(), `SELECT uid FROM entries WHERE mailbox_id = ? AND message_id = ?`, f.ID, msg).Scan(&uid); err != nil {
		t.Fatalf("entry of message %d in %s of %s: %v", msg, folder, a.Login, err)
	}
	return uint32(uid)
}

func count(t *testing.T, st *store.Store, q string, args ...any) int {
	t.Helper()
	var n int
	if err := st.QueryRow(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

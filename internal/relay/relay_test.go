package relay

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// world is a store with one local sender and a relay to a fake peer.
type world struct {
	st     *store.Store
	jean   *account.Account
	pipe   *mail.Pipeline
	relay  *Relay
	peer   *fakePeer
	offset time.Duration // added to the relay's clock
}

func newWorld(t *testing.T, dsn string) *world {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	acc := account.NewService(st)
	if _, err := acc.CreateStructure(ctx, "Clinique", ""); err != nil {
		t.Fatal(err)
	}
	jean, err := acc.Create(ctx, account.NewAccount{Structure: "Clinique", Kind: account.PER, Login: "jean@hygie.test",
		MSS: "jean.dupont@medecin.hygie.test", FirstName: "Jean", LastName: "Dupont"})
	if err != nil {
		t.Fatal(err)
	}
	p := newPKI(t)
	w := &world{st: st, jean: jean, pipe: &mail.Pipeline{St: st, Hostname: "mx.hygie.test"}, peer: startPeer(t, peerTLS(p))}
	w.relay = New(Config{St: st, Pipeline: w.pipe, Accounts: acc, Audit: &audit.Log{St: st}, Hostname: "mx.hygie.test",
		Cert: p.us, Roots: p.ca.Pool(), Routes: map[string]string{"peer.test": w.peer.addr},
		RetryFor: time.Hour, InitialBackoff: time.Minute, MaxBackoff: 10 * time.Minute,
		Now: func() time.Time { return time.Now().Add(w.offset) }})
	return w
}

// send submits a message from from to remote rcpts and returns its id.
func (w *world) send(t *testing.T, from string, identity *account.Account, rcpts ...string) mail.Delivered {
	t.Helper()
	var ds []mail.Destination
	for _, r := range rcpts {
		ds = append(ds, mail.Destination{Address: r})
	}
	d, err := w.pipe.Deliver(context.Background(), mail.Envelope{Source: mail.SourceSubmission, From: from, Identity: identity, Recipients: ds},
		[]byte("From: <"+from+">\r\nTo: <x@peer.test>\r\nSubject: Compte rendu\r\n\r\nCorps confidentiel.\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// runDue claims every due job and hands it to the relay, as the runner does.
func (w *world) runDue(t *testing.T) int {
	t.Helper()
	jobs, err := queue.Claim(context.Background(), w.st, 10, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs {
		if err := w.relay.Handle(context.Background(), j); err != nil {
			t.Fatalf("handle job %d: %v", j.ID, err)
		}
	}
	return len(jobs)
}

func (w *world) jobs(t *testing.T) []queue.Job {
	t.Helper()
	jobs, err := queue.List(context.Background(), w.st, mail.JobRemote)
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// dsns returns the bodies in the sender's INBOX with a null sender.
func (w *world) dsns(t *testing.T) []string {
	t.Helper()
	rows, err := w.st.Query(context.Background(), `SELECT m.body FROM entries e JOIN mailboxes b ON b.id = e.mailbox_id
		JOIN messages m ON m.id = e.message_id WHERE b.account_id = ? AND b.name = 'INBOX' AND m.sender = '' ORDER BY e.uid`, w.jean.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func (w *world) audit(t *testing.T, result string) []audit.Record {
	t.Helper()
	recs, err := audit.List(context.Background(), w.st, audit.Filter{Kind: audit.KindMessage, Result: result})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func TestHandlePartialThenExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn)
		d := w.send(t, w.jean.MSS, w.jean, "ok@peer.test", "later@peer.test", "never@peer.test")
		start := time.Now()
		if n := w.runDue(t); n != 1 {
			t.Fatalf("%d jobs run", n)
		}

		// ok@ delivered, never@ bounced now, later@ waits.
		got := w.peer.messages()
		if len(got) != 1 || strings.Join(got[0].rcpts, ",") != "ok@peer.test" || !strings.Contains(got[0].data, "Corps confidentiel.") {
			t.Fatalf("peer got %+v", got)
		}
		jobs := w.jobs(t)
		if len(jobs) != 1 {
			t.Fatalf("%d jobs left", len(jobs))
		}
		j := jobs[0]
		var p mail.RemoteJob
		if err := json.Unmarshal(j.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if strings.Join(p.Rcpts, ",") != "later@peer.test" || p.MessageID != d.ID || p.From != w.jean.MSS {
			t.Errorf("rescheduled payload %+v", p)
		}
		if j.Attempts != 1 || !strings.Contains(j.LastError, "451 4.2.1 mailbox busy") {
			t.Errorf("job %+v", j)
		}
		if wait := j.RunAt.Sub(start); wait < 59*time.Second || wait > 62*time.Second {
			t.Errorf("next attempt in %s, want the initial backoff (1m)", wait)
		}
		dsns := w.dsns(t)
		if len(dsns) != 1 || !strings.Contains(dsns[0], "Final-Recipient: rfc822; never@peer.test") ||
			!strings.Contains(dsns[0], "Status: 5.1.1") || !strings.Contains(dsns[0], "Diagnostic-Code: smtp; 550 5.1.1 no such mailbox") ||
			strings.Contains(dsns[0], "later@peer.test") || strings.Contains(dsns[0], "Corps confidentiel") {
			t.Fatalf("DSN for never@ only:\n%s", strings.Join(dsns, "\n----\n"))
		}
		for result, rcpt := range map[string]string{"delivered": "ok@peer.test", "bounced": "never@peer.test", "deferred": "later@peer.test"} {
			recs := w.audit(t, result)
			if len(recs) != 1 || strings.Join(recs[0].Recipients, ",") != rcpt || recs[0].Route != "remote via "+w.peer.addr ||
				recs[0].MessageID != d.MessageID || recs[0].Sender != w.jean.MSS {
				t.Errorf("audit %s: %+v", result, recs)
			}
		}
		if recs := w.audit(t, "delivered"); len(recs) == 1 && !strings.HasPrefix(recs[0].Detail, "250 2.0.0") {
			t.Errorf("delivered detail %q", recs[0].Detail)
		}

		// Second attempt: still 451; the backoff doubles.
		mustRetryNow(t, w, j.ID)
		before := time.Now()
		w.runDue(t)
		j = w.jobs(t)[0]
		if wait := j.RunAt.Sub(before); j.Attempts != 2 || wait < 119*time.Second || wait > 122*time.Second {
			t.Errorf("attempt %d, next in %s; want 2 and 2m", j.Attempts, wait)
		}

		// Past the retry period, the last failure is final: DSN 5.4.7.
		w.offset = 2 * time.Hour
		mustRetryNow(t, w, j.ID)
		w.runDue(t)
		if jobs := w.jobs(t); len(jobs) != 0 {
			t.Fatalf("job still queued after RetryFor: %+v", jobs)
		}
		dsns = w.dsns(t)
		if len(dsns) != 2 || !strings.Contains(dsns[1], "Final-Recipient: rfc822; later@peer.test") ||
			!strings.Contains(dsns[1], "Status: 5.4.7") || !strings.Contains(dsns[1], "Diagnostic-Code: smtp; 451 4.2.1 mailbox busy") {
			t.Fatalf("expiry DSN:\n%s", dsns[len(dsns)-1])
		}
		if recs := w.audit(t, "bounced"); len(recs) != 2 || recs[0].Recipients[0] != "later@peer.test" {
			t.Errorf("audit bounced %+v", recs)
		}
		if len(w.peer.messages()) != 1 {
			t.Error("the peer got the message again")
		}
	})
}

func TestHandleNullSenderNoDSN(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn)
		w.send(t, "", nil, "never@peer.test")
		w.runDue(t)
		if jobs := w.jobs(t); len(jobs) != 0 {
			t.Fatalf("job not completed: %+v", jobs)
		}
		var n int
		if err := w.st.QueryRow(context.Background(), `SELECT COUNT(*) FROM entries`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d mailbox entries: a DSN about a message with a null reverse-path (RFC 3464 §2)", n)
		}
		if recs := w.audit(t, "bounced"); len(recs) != 1 {
			t.Errorf("bounce not traced: %+v", recs)
		}
	})
}

func TestHandleForeignSenderAndBadPayload(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn)
		// The sender is not a mailbox here: the failure is traced, no DSN.
		w.send(t, "someone@elsewhere.test", nil, "never@peer.test")
		w.runDue(t)
		if jobs := w.jobs(t); len(jobs) != 0 || len(w.dsns(t)) != 0 {
			t.Fatalf("jobs %+v", jobs)
		}
		// A payload that cannot be read stays queued for the operator.
		if err := w.st.Tx(context.Background(), func(tx *store.Tx) error {
			_, err := queue.Enqueue(context.Background(), tx, mail.JobRemote, map[string]any{"message_id": "x"}, time.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		w.runDue(t)
		jobs := w.jobs(t)
		if len(jobs) != 1 || !strings.Contains(jobs[0].LastError, "unusable remote job payload") || time.Until(jobs[0].RunAt) < 9*time.Minute {
			t.Fatalf("jobs %+v", jobs)
		}
	})
}

func mustRetryNow(t *testing.T, w *world, id int64) {
	t.Helper()
	if err := queue.RetryNow(context.Background(), w.st, id); err != nil {
		t.Fatal(err)
	}
}

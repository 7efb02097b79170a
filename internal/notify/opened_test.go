package notify

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// TestOpeningNotification checks B: the sender, a platform account with
// notify_open, is told of each reader's first opening only; not of its own
// openings, not when it did not ask, and nobody is told about a message
// from another operator.
func TestOpeningNotification(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		w := newWorld(t, dsn, fixedClock(at("2026-03-10 14:32:00")))
		alice := w.person(t, account.PER, "alice@a.test", "", "Alice", "Martin", "alice.perso@gmail.example")
		bob := w.person(t, account.PER, "bob@a.test", "bob.durand@a.test", "Bob", "Durand", "bob.perso@gmail.example")
		carol := w.person(t, account.MED, "carol@a.test", "", "Carol", "Petit", "carol.perso@gmail.example")
		dan := w.person(t, account.PER, "dan@a.test", "", "Dan", "Roux", "dan.perso@gmail.example")
		w.set(t, alice, "notify_open", 1)

		d := w.send(t, alice, []string{"bob.durand@a.test", "carol@a.test"},
			rawMessage("alice@a.test", "bob.durand@a.test", "Résultats confidentiels", "Cc: <carol@a.test>\r\n", "Hémoglobine glyquée"))
		w.clock.Set(at("2026-03-10 16:00:00"))
		for range 3 {
			if err := w.p.Opened(ctx, bob, d.ID); err != nil {
				t.Fatal(err)
			}
		}
		got := to(outmails(t, w.st, KindOpened), "alice.perso@gmail.example")
		if len(got) != 1 {
			t.Fatalf("%d opening notifications after Bob opened thrice, want 1", len(got))
		}
		text := got[0].Subject + "\n" + got[0].Text
		if !strings.Contains(text, "Bob Durand (bob.durand@a.test) a ouvert votre message du 10/03/2026 à 14:32") {
			t.Errorf("notification text:\n%s", text)
		}
		for _, leak := range []string{"Résultats", "confidentiels", "Hémoglobine", d.MessageID} {
			if strings.Contains(text, leak) {
				t.Errorf("opening notification reveals %q", leak)
			}
		}
		// Another reader: another notification. The sender reading its Sent
		// copy, or someone who does not hold the message: nothing.
		for _, r := range []*account.Account{carol, alice, dan, carol} {
			if err := w.p.Opened(ctx, r, d.ID); err != nil {
				t.Fatal(err)
			}
		}
		got = to(outmails(t, w.st, KindOpened), "alice.perso@gmail.example")
		if len(got) != 2 || !strings.Contains(got[1].Text+got[0].Text, "Carol Petit (carol@a.test) a ouvert") {
			t.Fatalf("after Carol: %+v", got)
		}
		if n := count(t, w.st, `SELECT COUNT(*) FROM openings WHERE message_id = ?`, d.ID); n != 2 {
			t.Errorf("%d openings recorded, want 2 (Bob, Carol)", n)
		}

		// Dan did not ask for opening notifications.
		d2 := w.send(t, dan, []string{"bob@a.test"}, rawMessage("dan@a.test", "bob@a.test", "x", "", "y"))
		if err := w.p.Opened(ctx, bob, d2.ID); err != nil {
			t.Fatal(err)
		}
		// A user of another operator cannot be told.
		d3 := w.receive(t, "eve@other.test", []string{"bob@a.test"}, rawMessage("eve@other.test", "bob@a.test", "x", "", "y"))
		if err := w.p.Opened(ctx, bob, d3.ID); err != nil {
			t.Fatal(err)
		}
		if all := outmails(t, w.st, KindOpened); len(all) != 2 {
			t.Fatalf("%d opening notifications, want still 2: %+v", len(all), all)
		}
		if n := count(t, w.st, `SELECT COUNT(*) FROM openings WHERE account_id = ?`, bob.ID); n != 3 {
			t.Errorf("Bob has %d openings, want 3", n)
		}
	})
}

// TestOpeningKeepsExpunge checks that an opening does not keep a message
// from being deleted with its last copy.
func TestOpeningKeepsExpunge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		w := newWorld(t, dsn, fixedClock(at("2026-03-10 14:32:00")))
		alice := w.person(t, account.PER, "alice@a.test", "", "Alice", "Martin", "")
		bob := w.person(t, account.PER, "bob@a.test", "", "Bob", "Durand", "")
		d := w.send(t, alice, []string{"bob@a.test"}, rawMessage("alice@a.test", "bob@a.test", "x", "", "y"))
		if err := w.p.Opened(ctx, bob, d.ID); err != nil {
			t.Fatal(err)
		}
		err := w.st.Tx(ctx, func(tx *store.Tx) error {
			for _, c := range []struct {
				a      *account.Account
				folder string
			}{{bob, mailbox.Inbox}, {alice, mailbox.Sent}} {
				f, err := mailbox.FolderByName(ctx, tx, c.a.ID, c.folder)
				if err != nil {
					return err
				}
				if _, err := mailbox.Remove(ctx, tx, f.ID, []uint32{inboxEntry(t, w.st, c.a, c.folder, d.ID)}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("removing the last copies of an opened message: %v", err)
		}
		if n := count(t, w.st, `SELECT COUNT(*) FROM messages WHERE id = ?`, d.ID); n != 0 {
			t.Errorf("message kept")
		}
		if n := count(t, w.st, `SELECT COUNT(*) FROM openings WHERE message_id = ?`, d.ID); n != 0 {
			t.Errorf("opening kept without its message")
		}
	})
}

// mdnJobs returns the queued receipt jobs.
func mdnJobs(t *testing.T, st *store.Store) []queue.Job {
	t.Helper()
	jobs, err := queue.List(context.Background(), st, JobMDN)
	if err != nil {
		t.Fatal(err)
	}
	return jobs
}

// inboxBodies returns the messages of a's INBOX with their envelope sender.
func inboxBodies(t *testing.T, st *store.Store, a *account.Account) (bodies, senders []string) {
	t.Helper()
	rows, err := st.Query(context.Background(), `SELECT m.body, m.sender FROM entries e JOIN mailboxes b ON b.id = e.mailbox_id
		JOIN messages m ON m.id = e.message_id WHERE b.account_id = ? AND b.name = 'INBOX' ORDER BY e.uid`, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		var s string
		if err := rows.Scan(&b, &s); err != nil {
			t.Fatal(err)
		}
		bodies, senders = append(bodies, string(b)), append(senders, s)
	}
	return bodies, senders
}

// TestMDN checks RFC 8098 receipts: asked by Disposition-Notification-To,
// built at the first opening, delivered once From the reader To the
// requester, and parsed back with go-message.
func TestMDN(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		w := newWorld(t, dsn, fixedClock(at("2026-03-10 14:32:00")))
		alice := w.person(t, account.PER, "alice@a.test", "", "Alice", "Martin", "")
		bob := w.person(t, account.PER, "bob@a.test", "bob.durand@a.test", "Bob", "Durand", "")
		raw := rawMessage("alice@a.test", "bob.durand@a.test", "Compte rendu", "Disposition-Notification-To: Alice Martin <alice@a.test>\r\n"+
			"Original-Recipient: rfc822;bob.durand@a.test\r\n", "contenu")
		d := w.send(t, alice, []string{"bob.durand@a.test"}, raw)
		w.clock.Set(at("2026-03-10 16:05:00"))
		for range 2 {
			if err := w.p.Opened(ctx, bob, d.ID); err != nil {
				t.Fatal(err)
			}
		}
		jobs := mdnJobs(t, w.st)
		if len(jobs) != 1 {
			t.Fatalf("%d receipt jobs after two openings, want 1", len(jobs))
		}
		// The job runs twice (a lost lease): one receipt.
		for range 2 {
			if err := w.n.HandleMDN(ctx, jobs[0]); err != nil {
				t.Fatal(err)
			}
		}
		if left := mdnJobs(t, w.st); len(left) != 0 {
			t.Fatalf("%d receipt jobs left", len(left))
		}
		bodies, senders := inboxBodies(t, w.st, alice)
		if len(bodies) != 1 {
			t.Fatalf("%d messages in Alice's INBOX, want the receipt", len(bodies))
		}
		if senders[0] != "" {
			t.Errorf("receipt envelope sender %q, want null (RFC 8098 §3)", senders[0])
		}
		checkMDN(t, bodies[0], "bob.durand@a.test", "alice@a.test", d.MessageID, "rfc822;bob.durand@a.test")
	})
}

// checkMDN parses a receipt and checks its fields (RFC 8098 §3).
func checkMDN(t *testing.T, body, reader, requester, origID, origRcpt string) {
	t.Helper()
	e, err := message.Read(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if from := e.Header.Get("From"); !strings.Contains(from, "<"+reader+">") {
		t.Errorf("From %q, want the reader %s", from, reader)
	}
	if to := e.Header.Get("To"); !strings.Contains(to, requester) {
		t.Errorf("To %q, want %s", to, requester)
	}
	if e.Header.Get("Disposition-Notification-To") != "" {
		t.Error("a receipt must not ask for a receipt")
	}
	if as := e.Header.Get("Auto-Submitted"); as != "auto-replied" {
		t.Errorf("Auto-Submitted %q", as)
	}
	ct, params, err := e.Header.ContentType()
	if err != nil || ct != "multipart/report" || params["report-type"] != "disposition-notification" {
		t.Fatalf("Content-Type %q %v %v", ct, params, err)
	}
	mr := e.MultipartReader()
	var types []string
	var fields textproto.Header
	var human string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		pt, _, _ := p.Header.ContentType()
		types = append(types, pt)
		b, _ := io.ReadAll(p.Body)
		switch pt {
		case "text/plain":
			human = string(b)
		case "message/disposition-notification":
			if fields, err = textproto.ReadHeader(bufio.NewReader(bytes.NewReader(append(b, '\r', '\n')))); err != nil {
				t.Fatalf("report fields: %v\n%s", err, b)
			}
		}
	}
	if strings.Join(types, ",") != "text/plain,message/disposition-notification" {
		t.Fatalf("parts %v", types)
	}
	if !strings.Contains(human, "a été affiché") || !strings.Contains(human, reader) {
		t.Errorf("human part: %q", human)
	}
	want := map[string]string{
		"Reporting-UA":        "mx.a.test; Hygie",
		"Final-Recipient":     "rfc822;" + reader,
		"Original-Message-ID": origID,
		"Disposition":         "manual-action/MDN-sent-automatically; displayed",
		"Original-Recipient":  origRcpt,
	}
	for k, v := range want {
		if got := fields.Get(k); got != v {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
}

// TestMDNConditions checks when no receipt is made or sent: no request, a
// request to another address than the return path, a report, a MED reader
// asked by another operator; and that a PER reader's receipt leaves for
// the trusted operator with a null reverse-path.
func TestMDNConditions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		w := newWorld(t, dsn, fixedClock(at("2026-03-10 14:32:00")))
		alice := w.person(t, account.PER, "alice@a.test", "", "Alice", "Martin", "")
		bob := w.person(t, account.PER, "bob@a.test", "", "Bob", "Durand", "")
		carol := w.person(t, account.MED, "carol@a.test", "", "Carol", "Petit", "")
		open := func(r *account.Account, id int64) {
			t.Helper()
			if err := w.p.Opened(ctx, r, id); err != nil {
				t.Fatal(err)
			}
		}
		for _, extra := range []string{
			"",
			"Disposition-Notification-To: <someone.else@a.test>\r\n",
			"Disposition-Notification-To: <alice@a.test>, <dan@a.test>\r\n",
			"Disposition-Notification-To: <alice@a.test>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=disposition-notification; boundary=x\r\n",
		} {
			d := w.send(t, alice, []string{"bob@a.test"}, rawMessage("alice@a.test", "bob@a.test", "x", extra, "y"))
			open(bob, d.ID)
		}
		if n := len(mdnJobs(t, w.st)); n != 0 {
			t.Fatalf("%d receipt jobs, want none", n)
		}

		// From another operator, to a PER and a MED reader.
		dnt := "Disposition-Notification-To: <eve@other.test>\r\n"
		d := w.receive(t, "eve@other.test", []string{"bob@a.test", "carol@a.test"}, rawMessage("eve@other.test", "bob@a.test", "x", dnt, "y"))
		open(bob, d.ID)
		open(carol, d.ID)
		jobs := mdnJobs(t, w.st)
		if len(jobs) != 2 {
			t.Fatalf("%d receipt jobs, want 2", len(jobs))
		}
		for _, j := range jobs {
			if err := w.n.HandleMDN(ctx, j); err != nil {
				t.Fatal(err)
			}
		}
		if n := len(mdnJobs(t, w.st)); n != 0 {
			t.Fatalf("%d receipt jobs left", n)
		}
		remote, err := queue.List(ctx, w.st, mail.JobRemote)
		if err != nil {
			t.Fatal(err)
		}
		if len(remote) != 1 {
			t.Fatalf("%d remote deliveries, want Bob's receipt only (a MED account cannot write to another operator)", len(remote))
		}
		var rj mail.RemoteJob
		json.Unmarshal(remote[0].Payload, &rj)
		if rj.From != "" || len(rj.Rcpts) != 1 || rj.Rcpts[0] != "eve@other.test" {
			t.Fatalf("remote receipt %+v", rj)
		}
		body, err := mailbox.Body(ctx, w.st, rj.MessageID)
		if err != nil {
			t.Fatal(err)
		}
		checkMDN(t, string(body), "bob@a.test", "eve@other.test", d.MessageID, "")
	})
}

package mail_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// delegationInbox returns the bodies in account id's INBOX, by UID.
func delegationInbox(t *testing.T, st *store.Store, id int64) [][]byte {
	t.Helper()
	ctx := context.Background()
	f, err := mailbox.ID(ctx, st, id, mailbox.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	es, err := mailbox.Entries(ctx, st, f, 1, 1<<31)
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, e := range es {
		b, err := mailbox.Body(ctx, st, e.MessageID)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestDelegationCopies delivers through the pipeline with the delegation
// effect installed: the delegate's INBOX gets a marked copy; mutual and
// chained delegations do not loop; the original is untouched.
func TestDelegationCopies(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		svc := account.NewService(st)
		if _, err := svc.CreateStructure(ctx, "Cabinet", ""); err != nil {
			t.Fatal(err)
		}
		mk := func(kind account.Kind, login, mss, first, last string) *account.Account {
			a, err := svc.Create(ctx, account.NewAccount{Structure: "Cabinet", Kind: kind, Login: login, MSS: mss, FirstName: first, LastName: last})
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		jean := mk(account.PER, "jean@cabinet.test", "jean.dupont@medecin.hygie.test", "Jean", "Dupont")
		marie := mk(account.MED, "marie@cabinet.test", "", "Marie", "Martin")
		paul := mk(account.MED, "paul@cabinet.test", "", "Paul", "Durand")
		sender := mk(account.PER, "luc@cabinet.test", "", "Luc", "Petit")
		// Jean delegates to Marie, Marie to Jean (mutual) and to Paul (chain).
		for _, d := range []struct {
			from *account.Account
			to   string
		}{{jean, "marie@cabinet.test"}, {marie, "jean@cabinet.test"}, {marie, "paul@cabinet.test"}} {
			if _, err := svc.AddDelegation(ctx, d.from.ID, d.to); err != nil {
				t.Fatal(err)
			}
		}
		p := &mail.Pipeline{St: st, Hostname: "mx.hygie.test", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Now: func() time.Time { return time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) }, Effects: []mail.Effect{mail.DelegationCopies}}
		sent := 0
		send := func(subject string, to ...*account.Account) {
			t.Helper()
			sent++
			var rcpts []mail.Destination
			var hdrTo []string
			for _, a := range to {
				rcpts = append(rcpts, mail.Destination{Address: a.Login, Local: a})
				hdrTo = append(hdrTo, "<"+a.Login+">")
			}
			msg := "From: Luc Petit <luc@cabinet.test>\r\nTo: " + strings.Join(hdrTo, ", ") + "\r\n" +
				"Subject: " + subject + "\r\n" +
				"X-Hygie-Delegation: forged@cabinet.test\r\n" +
				"Message-ID: <m-" + strconv.Itoa(sent) + "@cabinet.test>\r\n\r\nCompte rendu.\r\n"
			if _, err := p.Deliver(ctx, mail.Envelope{Source: mail.SourceWeb, From: sender.Login, Identity: sender,
				Recipients: rcpts}, []byte(msg)); err != nil {
				t.Fatal(err)
			}
		}

		// 1. To Jean: Jean has the original, Marie the marked copy; Paul
		// (Marie's delegate) and Jean (Marie's delegate) get no copy of the copy.
		send("=?utf-8?q?R=C3=A9sultats?=\r\n d'analyses", jean)
		if n := len(delegationInbox(t, st, jean.ID)); n != 1 {
			t.Fatalf("Jean's INBOX has %d messages, want the original only", n)
		}
		if n := len(delegationInbox(t, st, paul.ID)); n != 0 {
			t.Fatalf("a copy was copied again to Paul (%d messages)", n)
		}
		mb := delegationInbox(t, st, marie.ID)
		if len(mb) != 1 {
			t.Fatalf("Marie's INBOX has %d messages, want 1 copy", len(mb))
		}
		e, err := message.Read(bytes.NewReader(mb[0]))
		if err != nil {
			t.Fatalf("copy is not a readable message: %v", err)
		}
		if got := e.Header.Values("X-Hygie-Delegation"); len(got) != 1 || got[0] != "jean@cabinet.test" {
			t.Fatalf("X-Hygie-Delegation = %q; want only the delegating account", got)
		}
		subj, err := e.Header.Text("Subject")
		if err != nil || subj != "[Délégation de Jean Dupont] Résultats d'analyses" {
			t.Fatalf("subject = %q (%v)", subj, err)
		}
		if n := len(e.Header.Values("Subject")); n != 1 {
			t.Fatalf("%d Subject fields", n)
		}
		if e.Header.Get("Message-Id") != "<m-1@cabinet.test>" || e.Header.Get("From") != "Luc Petit <luc@cabinet.test>" {
			t.Fatalf("other fields changed: %v", e.Header)
		}
		if body, _ := io.ReadAll(e.Body); string(body) != "Compte rendu.\r\n" {
			t.Fatalf("body = %q", body)
		}
		// The original keeps its subject.
		if jb := delegationInbox(t, st, jean.ID)[0]; bytes.Contains(jb, []byte("Délégation")) || !bytes.Contains(jb, []byte("Subject: =?utf-8?q?R=C3=A9sultats?=")) {
			t.Fatalf("original changed:\n%s", jb)
		}
		// The stored summary carries the marked subject (message lists).
		var stored string
		if err := st.QueryRow(ctx, `SELECT m.subject FROM entries e JOIN messages m ON m.id = e.message_id JOIN mailboxes b ON b.id = e.mailbox_id
			WHERE b.account_id = ? AND b.name = 'INBOX'`, marie.ID).Scan(&stored); err != nil || !strings.HasPrefix(stored, "[Délégation de Jean Dupont]") {
			t.Fatalf("stored subject %q %v", stored, err)
		}

		// 2. To Marie: Jean and Paul each get one copy marked for Marie.
		send("Rendez-vous", marie)
		for _, a := range []*account.Account{jean, paul} {
			box := delegationInbox(t, st, a.ID)
			last := box[len(box)-1]
			if !bytes.Contains(last, []byte("X-Hygie-Delegation: marie@cabinet.test\r\n")) || !bytes.Contains(last, []byte("Subject: =?utf-8?q?[D=C3=A9l=C3=A9gation_de_Marie_Martin]_Rendez-vous?=")) {
				t.Fatalf("%s's copy:\n%s", a.Login, last)
			}
		}
		if n := len(delegationInbox(t, st, jean.ID)); n != 2 {
			t.Fatalf("Jean has %d messages, want 2", n)
		}
		if n := len(delegationInbox(t, st, marie.ID)); n != 2 {
			t.Fatalf("Marie has %d messages (a copy came back?), want 2", n)
		}

		// 3. To Jean and Marie at once: each has the original, no copies
		// between them; Paul gets Marie's copy.
		send("Réunion", jean, marie)
		if j, m, pl := len(delegationInbox(t, st, jean.ID)), len(delegationInbox(t, st, marie.ID)), len(delegationInbox(t, st, paul.ID)); j != 3 || m != 3 || pl != 2 {
			t.Fatalf("counts jean=%d marie=%d paul=%d, want 3 3 2", j, m, pl)
		}

		// 4. After removal, no more copies; a disabled delegate gets none.
		if err := svc.RemoveDelegation(ctx, jean.ID, marie.ID); err != nil {
			t.Fatal(err)
		}
		if err := svc.SetDisabled(ctx, "paul@cabinet.test", true); err != nil {
			t.Fatal(err)
		}
		send("Après", jean)
		send("Encore", marie)
		if m, pl := len(delegationInbox(t, st, marie.ID)), len(delegationInbox(t, st, paul.ID)); m != 4 || pl != 2 {
			t.Fatalf("after removal: marie=%d paul=%d, want 4 2", m, pl)
		}
	})
}

// TestForgedDelegationMarkDropped checks that a sender cannot plant the
// delegation mark on an original: the stored message has no such field.
func TestForgedDelegationMarkDropped(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.SQLite(t))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svc := account.NewService(st)
	if _, err := svc.CreateStructure(ctx, "Cabinet", ""); err != nil {
		t.Fatal(err)
	}
	bob, err := svc.Create(ctx, account.NewAccount{Structure: "Cabinet", Kind: account.PER, Login: "bob@cabinet.test", FirstName: "Bob", LastName: "Roux"})
	if err != nil {
		t.Fatal(err)
	}
	p := &mail.Pipeline{St: st, Hostname: "mx.hygie.test", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	raw := "From: <x@peer.test>\r\nX-Hygie-Delegation: chef@cabinet.test\r\n\tcontinued\r\nSubject: hello\r\n\r\nX-Hygie-Delegation: in the body stays\r\n"
	if _, err := p.Deliver(ctx, mail.Envelope{Source: mail.SourceMX, From: "x@peer.test",
		Recipients: []mail.Destination{{Address: bob.Login, Local: bob}}}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	got := delegationInbox(t, st, bob.ID)
	if len(got) != 1 {
		t.Fatalf("%d messages", len(got))
	}
	h, _ := mail.ParseHeader(got[0])
	if h.Fields.Has(mail.DelegationHeader) || strings.Contains(string(got[0]), "continued") {
		t.Fatalf("forged mark kept:\n%s", got[0])
	}
	if h.Subject != "hello" || !strings.Contains(string(got[0]), "X-Hygie-Delegation: in the body stays") {
		t.Fatalf("message damaged:\n%s", got[0])
	}
}

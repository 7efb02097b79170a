package imapd_test

import (
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// TestSharedBox: a box's folders are visible to its members only, under
// the shared namespace, and a removed member loses access at the next
// command.
func TestSharedBox(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		inbox := "Partagé/" + e.box.Login + "/INBOX"
		e.deliver(e.box.ID, "INBOX", message("adressage", "pour le service"))

		doc, du := e.dial(e.doc.Login)
		sec, _ := e.dial(e.sec.Login)

		// The member sees and opens the box.
		list, err := doc.List("", "Partagé/*", nil).Collect()
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, l := range list {
			names[l.Mailbox] = true
		}
		for _, n := range []string{"Partagé/" + e.box.Login, inbox, "Partagé/" + e.box.Login + "/Sent"} {
			if !names[n] {
				t.Errorf("member does not see %s (%v)", n, names)
			}
		}
		sel, err := doc.Select(inbox, nil).Wait()
		if err != nil || sel.NumMessages != 1 {
			t.Fatalf("member SELECT: %+v %v", sel, err)
		}
		msgs, err := doc.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true}).Collect()
		if err != nil || len(msgs) != 1 || msgs[0].Envelope.Subject != "adressage" {
			t.Fatalf("member FETCH: %+v %v", msgs, err)
		}
		// Mail for the box reaches the member's session.
		e.deliver(e.box.ID, "INBOX", message("second", "encore"))
		if err := doc.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		du.wait(t, "EXISTS in box", func(u *updates) bool { return len(u.exists) > 0 && u.exists[len(u.exists)-1] == 2 })
		// Unsubscribing is personal to the member.
		if err := doc.Unsubscribe("Partagé/" + e.box.Login + "/Trash").Wait(); err != nil {
			t.Fatal(err)
		}
		subs, err := doc.List("", "Partagé/*", &imap.ListOptions{SelectSubscribed: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range subs {
			if strings.HasSuffix(l.Mailbox, "/Trash") {
				t.Fatal("box Trash still subscribed")
			}
		}
		if n := e.count(`SELECT subscribed FROM mailboxes WHERE account_id = ? AND name = 'Trash'`, e.box.ID); n != 1 {
			t.Fatal("member's unsubscription changed the box")
		}

		// A non-member sees nothing and can open nothing.
		list, err = sec.List("", "*", nil).Collect()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range list {
			if strings.HasPrefix(l.Mailbox, "Partagé") {
				t.Fatalf("non-member sees %s", l.Mailbox)
			}
		}
		if _, err := sec.Select(inbox, nil).Wait(); err == nil {
			t.Fatal("non-member selected the box")
		}
		if _, err := sec.Status(inbox, &imap.StatusOptions{NumMessages: true}).Wait(); err == nil {
			t.Fatal("non-member got the box status")
		}
		if _, err := sec.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		e.deliver(e.sec.ID, "INBOX", message("perso", "perso"))
		if err := sec.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := sec.Copy(imap.SeqSetNum(1), inbox).Wait(); err == nil {
			t.Fatal("non-member copied into the box")
		}
		msg := message("intrus", "intrus")
		app := sec.Append(inbox, int64(len(msg)), nil)
		app.Write([]byte(msg))
		app.Close()
		if _, err := app.Wait(); err == nil {
			t.Fatal("non-member appended to the box")
		}

		// Removal: the next command on the selected box fails, and the box
		// disappears from LIST.
		// (Another member first: the last one cannot be removed.)
		e.person("tiers@clinique.example", "Paul", "Tiers")
		if err := e.accounts.AddMember(e.ctx, e.box.Login, "tiers@clinique.example"); err != nil {
			t.Fatal(err)
		}
		if err := e.accounts.RemoveMember(e.ctx, e.box.Login, e.doc.Login); err != nil {
			t.Fatal(err)
		}
		if _, err := doc.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true}).Collect(); err == nil {
			t.Fatal("removed member fetched from the box")
		}
		du.reset()
		e.deliver(e.box.ID, "INBOX", message("apres", "après retrait"))
		if err := doc.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		du.mu.Lock()
		leaked := len(du.exists)
		du.mu.Unlock()
		if leaked != 0 {
			t.Fatal("removed member still gets updates")
		}
		if _, err := doc.Select(inbox, nil).Wait(); err == nil {
			t.Fatal("removed member re-selected the box")
		}
		list, err = doc.List("", "*", nil).Collect()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range list {
			if strings.HasPrefix(l.Mailbox, "Partagé") {
				t.Fatalf("removed member still sees %s", l.Mailbox)
			}
		}
	})
}

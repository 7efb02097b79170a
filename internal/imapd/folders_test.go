package imapd_test

import (
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/hygie-sante/hygie/internal/store/storetest"
)

func TestFolders(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		c, _ := e.dial(e.doc.Login)

		if err := c.Create("Projets/2026", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if err := c.Create("Projets/2026", nil).Wait(); err == nil {
			t.Fatal("duplicate CREATE accepted")
		}
		if err := c.Create("Partagé/moi", nil).Wait(); err == nil {
			t.Fatal("CREATE under the shared prefix accepted")
		}
		kids, err := c.List("", "Projets/%", nil).Collect()
		if err != nil || len(kids) != 1 || kids[0].Mailbox != "Projets/2026" {
			t.Fatalf("LIST Projets/%%: %+v %v", kids, err)
		}
		parent, err := c.List("", "Projets", nil).Collect()
		if err != nil || len(parent) != 1 || !hasAttr(parent[0].Attrs, imap.MailboxAttrHasChildren) {
			t.Fatalf("parent created: %+v %v", parent, err)
		}

		// STATUS of a new folder, then with messages.
		st, err := c.Status("Projets/2026", &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true, NumUnseen: true, Size: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if *st.NumMessages != 0 || st.UIDNext != 1 || st.UIDValidity == 0 || *st.Size != 0 {
			t.Fatalf("status %+v", st)
		}
		e.deliver(e.doc.ID, "INBOX", message("un", "premier"))
		e.deliver(e.doc.ID, "INBOX", message("deux", "second"))
		st, err = c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true, NumUnseen: true, Size: true, NumDeleted: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if *st.NumMessages != 2 || *st.NumUnseen != 2 || st.UIDNext != 3 || *st.Size == 0 || *st.NumDeleted != 0 {
			t.Fatalf("INBOX status %+v", st)
		}

		// RENAME carries subfolders; standard folders are protected.
		if err := c.Rename("Projets", "Archives", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Status("Archives/2026", &imap.StatusOptions{NumMessages: true}).Wait(); err != nil {
			t.Fatalf("renamed child: %v", err)
		}
		if err := c.Rename("Sent", "Envoyés", nil).Wait(); err == nil {
			t.Fatal("renamed Sent")
		}
		if err := c.Delete("Trash").Wait(); err == nil {
			t.Fatal("deleted Trash")
		}
		if err := c.Delete("INBOX").Wait(); err == nil {
			t.Fatal("deleted INBOX")
		}

		// DELETE removes the folder and, with it, its messages.
		sel, err := c.Select("INBOX", nil).Wait()
		if err != nil || sel.NumMessages != 2 {
			t.Fatalf("select: %+v %v", sel, err)
		}
		if _, err := c.Copy(imap.SeqSetNum(1), "Archives").Wait(); err != nil {
			t.Fatal(err)
		}
		if n := e.count(`SELECT refs FROM messages WHERE subject = 'un'`); n != 2 {
			t.Fatalf("refs after copy = %d", n)
		}
		if err := c.Delete("Archives").Wait(); err != nil {
			t.Fatal(err)
		}
		if n := e.count(`SELECT refs FROM messages WHERE subject = 'un'`); n != 1 {
			t.Fatalf("refs after delete = %d", n)
		}
		left, err := c.List("", "Archives*", nil).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 2 || !hasAttr(left[0].Attrs, imap.MailboxAttrNoSelect) {
			t.Fatalf("after DELETE of a parent: %+v", left)
		}
		// Re-created, a folder gets a greater UIDVALIDITY.
		if err := c.Create("Archives", nil).Wait(); err != nil {
			t.Fatal(err)
		}

		// Subscriptions.
		if err := c.Unsubscribe("Drafts").Wait(); err != nil {
			t.Fatal(err)
		}
		subs, err := c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range subs {
			if l.Mailbox == "Drafts" {
				t.Fatal("Drafts still subscribed")
			}
		}
		if err := c.Subscribe("Drafts").Wait(); err != nil {
			t.Fatal(err)
		}
		if err := c.Subscribe("Nowhere").Wait(); err == nil {
			t.Fatal("subscribed to a missing folder")
		}
	})
}

func TestUIDValidityOnRecreate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		c, _ := e.dial(e.doc.Login)
		var last uint32
		for i := 0; i < 3; i++ {
			if err := c.Create("Temp", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			st, err := c.Status("Temp", &imap.StatusOptions{UIDValidity: true}).Wait()
			if err != nil {
				t.Fatal(err)
			}
			if st.UIDValidity <= last {
				t.Fatalf("UIDVALIDITY %d after %d", st.UIDValidity, last)
			}
			last = st.UIDValidity
			if err := c.Delete("Temp").Wait(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

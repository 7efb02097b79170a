package mailbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

func TestHeaderSize(t *testing.T) {
	cases := map[string]int{
		"A: b\r\n\r\nbody":   8,
		"A: b\n\nbody":       6,
		"\r\nbody":           2,
		"A: b\r\nC: d\r\n":   12,
		"A: b\r\n\r\n":       8,
		"":                   0,
		"A: b\r\n C\r\n\r\n": 12,
	}
	for msg, want := range cases {
		if got := mailbox.HeaderSize([]byte(msg)); got != want {
			t.Errorf("HeaderSize(%q) = %d, want %d", msg, got, want)
		}
	}
}

func TestApplyFlags(t *testing.T) {
	cases := []struct {
		cur   string
		op    mailbox.FlagOp
		flags []string
		want  string
	}{
		{"", mailbox.FlagsAdd, []string{`\SEEN`, "$Label"}, `\Seen $Label`},
		{`\Seen $Label`, mailbox.FlagsAdd, []string{`\Seen`, `\Flagged`}, `\Seen \Flagged $Label`},
		{`\Seen \Flagged $Label`, mailbox.FlagsRemove, []string{`\flagged`, "$label"}, `\Seen`},
		{`\Seen`, mailbox.FlagsSet, []string{`\Deleted`, `\Recent`}, `\Deleted`},
		{`\Seen`, mailbox.FlagsSet, nil, ``},
	}
	for _, c := range cases {
		if got := mailbox.ApplyFlags(c.cur, c.op, c.flags); got != c.want {
			t.Errorf("ApplyFlags(%q, %v, %q) = %q, want %q", c.cur, c.op, c.flags, got, c.want)
		}
	}
	if err := mailbox.CheckFlags([]string{`\Bogus`}); !errors.Is(err, mailbox.ErrBadFlag) {
		t.Errorf("\\Bogus: %v", err)
	}
	if err := mailbox.CheckFlags([]string{`\Recent`, `\seen`, "$Forwarded"}); err != nil {
		t.Errorf("valid flags: %v", err)
	}
}

func TestNormalizeName(t *testing.T) {
	ok := map[string]string{"inbox": "INBOX", "Inbox/Sub": "INBOX/Sub", "Projets/": "Projets", "Été 2026": "Été 2026"}
	for in, want := range ok {
		if got, err := mailbox.NormalizeName(in); err != nil || got != want {
			t.Errorf("NormalizeName(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "/", "a//b", "a*", "a%b", "/a", "a\x01"} {
		if _, err := mailbox.NormalizeName(in); !errors.Is(err, mailbox.ErrBadName) {
			t.Errorf("NormalizeName(%q) accepted", in)
		}
	}
}

type fixture struct {
	ctx   context.Context
	st    *store.Store
	owner int64
}

func newFixture(t *testing.T, dsn string) *fixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := account.NewService(st)
	if _, err := svc.CreateStructure(ctx, "S", ""); err != nil {
		t.Fatal(err)
	}
	a, err := svc.Create(ctx, account.NewAccount{Structure: "S", Kind: account.MED, Login: "a@s.example", FirstName: "A", LastName: "B"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{ctx: ctx, st: st, owner: a.ID}
}

func (f *fixture) tx(t *testing.T, fn func(tx *store.Tx) error) {
	t.Helper()
	if err := f.st.Tx(f.ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) folder(t *testing.T, name string) mailbox.Folder {
	t.Helper()
	fo, err := mailbox.FolderByName(f.ctx, f.st, f.owner, name)
	if err != nil {
		t.Fatal(err)
	}
	return fo
}

func (f *fixture) count(t *testing.T, q string, args ...any) int {
	t.Helper()
	var n int
	if err := f.st.QueryRow(f.ctx, q, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestMessagesAndFlags(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		inbox, trash := f.folder(t, mailbox.Inbox), f.folder(t, mailbox.Trash)
		watch, stop := mailbox.Watch(inbox.ID)
		defer stop()
		v0 := mailbox.Version(inbox.ID)

		body := "Subject: Bonjour\r\nMessage-ID: <1@x>\r\nFrom: a@x.example\r\n\r\nCorps\r\n"
		date := time.Date(2007, 3, 24, 23, 0, 0, 0, time.FixedZone("", 7200))
		var uids []uint32
		f.tx(t, func(tx *store.Tx) error {
			for i := 0; i < 3; i++ {
				uid, err := mailbox.AppendMessage(f.ctx, tx, inbox.ID, []byte(body), []string{`\seen`}, date)
				if err != nil {
					return err
				}
				uids = append(uids, uid)
			}
			return nil
		})
		select {
		case <-watch:
		default:
			t.Fatal("no change event after append")
		}
		if mailbox.Version(inbox.ID) != v0+3 {
			t.Fatalf("version %d after 3 appends from %d", mailbox.Version(inbox.ID), v0)
		}
		es, err := mailbox.Entries(f.ctx, f.st, inbox.ID, 1, 100)
		if err != nil || len(es) != 3 {
			t.Fatalf("entries: %v %v", es, err)
		}
		if es[0].Flags != `\Seen` || !es[0].InternalDate.Equal(date) || es[0].Size != int64(len(body)) || es[0].HeaderSize != int64(len(body)-len("Corps\r\n")) {
			t.Fatalf("entry %+v", es[0])
		}
		if _, off := es[0].InternalDate.Zone(); off != 7200 {
			t.Fatalf("zone lost: %v", es[0].InternalDate)
		}
		hdr, err := mailbox.Header(f.ctx, f.st, es[0].MessageID)
		if err != nil || string(hdr) != body[:len(body)-len("Corps\r\n")] {
			t.Fatalf("header %q %v", hdr, err)
		}
		var subject string
		if err := f.st.QueryRow(f.ctx, `SELECT subject FROM messages WHERE id = ?`, es[0].MessageID).Scan(&subject); err != nil || subject != "Bonjour" {
			t.Fatalf("subject %q %v", subject, err)
		}

		// Flags and entries.seen.
		var upd []mailbox.FlagUpdate
		f.tx(t, func(tx *store.Tx) error {
			upd, err = mailbox.StoreFlags(f.ctx, tx, inbox.ID, uids[:2], mailbox.FlagsRemove, []string{`\Seen`})
			return err
		})
		if len(upd) != 2 || !upd[0].Changed || upd[0].Flags != "" {
			t.Fatalf("updates %+v", upd)
		}
		st, err := mailbox.FolderStatus(f.ctx, f.st, inbox.ID, true)
		if err != nil || st.Messages != 3 || st.Unseen != 2 || st.UIDNext != 4 || st.Size != 3*int64(len(body)) {
			t.Fatalf("status %+v %v", st, err)
		}

		// Copy, expunge and references.
		f.tx(t, func(tx *store.Tx) error {
			from, to, err := mailbox.Copy(f.ctx, tx, inbox.ID, uids[:1], trash.ID)
			if err != nil || len(from) != 1 || to[0] != 1 {
				t.Errorf("copy %v %v %v", from, to, err)
			}
			_, err = mailbox.StoreFlags(f.ctx, tx, inbox.ID, uids, mailbox.FlagsAdd, []string{`\Deleted`})
			return err
		})
		if n := f.count(t, `SELECT refs FROM messages WHERE id = ?`, es[0].MessageID); n != 2 {
			t.Fatalf("refs after copy %d", n)
		}
		// A queued remote delivery keeps its message.
		var jobID int64
		f.tx(t, func(tx *store.Tx) error {
			jobID, err = queue.EnqueueFor(f.ctx, tx, "remote", es[1].MessageID, map[string]any{"from": "a@s.example"}, time.Now())
			return err
		})
		var gone []uint32
		f.tx(t, func(tx *store.Tx) error {
			gone, err = mailbox.Expunge(f.ctx, tx, inbox.ID, uids[:2])
			return err
		})
		if len(gone) != 2 {
			t.Fatalf("expunged %v", gone)
		}
		if n := f.count(t, `SELECT refs FROM messages WHERE id = ?`, es[0].MessageID); n != 1 {
			t.Fatalf("refs of a copied message after expunge: %d", n)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM messages WHERE id = ?`, es[1].MessageID); n != 1 {
			t.Fatal("message of a queued delivery deleted")
		}
		// Once the delivery job ends, the unreferenced message goes.
		if err := queue.Complete(f.ctx, f.st, jobID, nil); err != nil {
			t.Fatal(err)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM messages WHERE id = ?`, es[1].MessageID); n != 0 {
			t.Fatal("message kept after its delivery job completed")
		}
		f.tx(t, func(tx *store.Tx) error {
			gone, err = mailbox.Expunge(f.ctx, tx, inbox.ID, nil)
			return err
		})
		if len(gone) != 1 || gone[0] != uids[2] {
			t.Fatalf("expunge all: %v", gone)
		}
		if n := f.count(t, `SELECT COUNT(*) FROM messages WHERE id = ?`, es[2].MessageID); n != 0 {
			t.Fatal("unreferenced message kept")
		}

		// Move back from Trash.
		f.tx(t, func(tx *store.Tx) error {
			from, to, err := mailbox.Move(f.ctx, tx, trash.ID, []uint32{1}, inbox.ID)
			if err != nil || len(from) != 1 || to[0] != 4 {
				t.Errorf("move %v %v %v", from, to, err)
			}
			return err
		})
		if n := f.count(t, `SELECT refs FROM messages WHERE id = ?`, es[0].MessageID); n != 1 {
			t.Fatalf("refs after move %d", n)
		}
	})
}

func TestFolderManagement(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		f.tx(t, func(tx *store.Tx) error {
			_, err := mailbox.CreateFolder(f.ctx, tx, f.owner, "a/b/c")
			return err
		})
		for _, n := range []string{"a", "a/b", "a/b/c"} {
			f.folder(t, n)
		}
		err := f.st.Tx(f.ctx, func(tx *store.Tx) error {
			_, err := mailbox.CreateFolder(f.ctx, tx, f.owner, "a/b")
			return err
		})
		if !errors.Is(err, mailbox.ErrFolderExists) {
			t.Fatalf("duplicate: %v", err)
		}
		f.tx(t, func(tx *store.Tx) error { return mailbox.RenameFolder(f.ctx, tx, f.owner, "a", "x/y") })
		for _, n := range []string{"x", "x/y", "x/y/b", "x/y/b/c"} {
			f.folder(t, n)
		}
		for _, op := range []func(tx *store.Tx) error{
			func(tx *store.Tx) error { return mailbox.RenameFolder(f.ctx, tx, f.owner, "Sent", "Envoyés") },
			func(tx *store.Tx) error { return mailbox.DeleteFolder(f.ctx, tx, f.owner, "Drafts") },
			func(tx *store.Tx) error { return mailbox.DeleteFolder(f.ctx, tx, f.owner, "INBOX") },
		} {
			if err := f.st.Tx(f.ctx, op); !errors.Is(err, mailbox.ErrProtected) {
				t.Fatalf("protected folder: %v", err)
			}
		}

		// Renaming INBOX moves its messages and leaves it empty (RFC 9051 §6.3.6).
		inbox := f.folder(t, mailbox.Inbox)
		f.tx(t, func(tx *store.Tx) error {
			_, err := mailbox.AppendMessage(f.ctx, tx, inbox.ID, []byte("Subject: x\r\n\r\nx"), nil, time.Now())
			return err
		})
		f.tx(t, func(tx *store.Tx) error { return mailbox.RenameFolder(f.ctx, tx, f.owner, "INBOX", "Ancien") })
		old := f.folder(t, "Ancien")
		if st, _ := mailbox.FolderStatus(f.ctx, f.st, old.ID, false); st.Messages != 1 || st.UIDNext != 2 {
			t.Fatalf("renamed INBOX: %+v", st)
		}
		if st, _ := mailbox.FolderStatus(f.ctx, f.st, inbox.ID, false); st.Messages != 0 || st.UIDNext != 2 {
			t.Fatalf("INBOX after rename: %+v", st)
		}

		// Delete keeps children and drops messages.
		f.tx(t, func(tx *store.Tx) error { return mailbox.DeleteFolder(f.ctx, tx, f.owner, "Ancien") })
		if n := f.count(t, `SELECT COUNT(*) FROM messages`); n != 0 {
			t.Fatalf("%d messages left", n)
		}
		f.tx(t, func(tx *store.Tx) error { return mailbox.DeleteFolder(f.ctx, tx, f.owner, "x") })
		f.folder(t, "x/y")
		if _, err := mailbox.FolderByName(f.ctx, f.st, f.owner, "x"); !errors.Is(err, mailbox.ErrNoFolder) {
			t.Fatalf("deleted folder: %v", err)
		}
	})
}

// TestAppendAll files one message into several folders and another into
// one at once: UIDs follow each folder's UIDNEXT, flags are kept, each
// message's reference count is its number of entries, and a missing
// folder fails the whole filing. IDs resolves folders by name in one query
// (padded lists included) and leaves out the ones that do not exist.
func TestAppendAll(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		f := newFixture(t, dsn)
		inbox, sent, trash := f.folder(t, mailbox.Inbox), f.folder(t, mailbox.Sent), f.folder(t, mailbox.Trash)
		refs := []mailbox.FolderRef{{Account: f.owner, Name: mailbox.Inbox}, {Account: f.owner, Name: mailbox.Sent}, {Account: f.owner, Name: "Nowhere"}}
		ids, err := mailbox.IDs(f.ctx, f.st, refs)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 2 || ids[refs[0]] != inbox.ID || ids[refs[1]] != sent.ID {
			t.Fatalf("IDs %v; want INBOX %d and Sent %d only", ids, inbox.ID, sent.ID)
		}
		var m1, m2 int64
		var uids []uint32
		now := time.Now()
		f.tx(t, func(tx *store.Tx) error {
			if m1, err = mailbox.InsertMessage(f.ctx, tx, mailbox.Message{Body: []byte("Subject: a\r\n\r\nA\r\n")}, now); err != nil {
				return err
			}
			if m2, err = mailbox.InsertMessage(f.ctx, tx, mailbox.Message{Body: []byte("Subject: b\r\n\r\nB\r\n")}, now); err != nil {
				return err
			}
			uids, err = mailbox.AppendAll(f.ctx, tx, []mailbox.Filing{
				{Mailbox: inbox.ID, Message: m1},
				{Mailbox: inbox.ID, Message: m2, Flags: []string{`\Flagged`}},
				{Mailbox: sent.ID, Message: m1, Flags: []string{`\Seen`}},
				{Mailbox: trash.ID, Message: m1},
			}, now)
			return err
		})
		if len(uids) != 4 || uids[0] != 1 || uids[1] != 2 || uids[2] != 1 || uids[3] != 1 {
			t.Fatalf("uids %v, want [1 2 1 1]", uids)
		}
		if n := f.count(t, `SELECT refs FROM messages WHERE id = ?`, m1); n != 3 {
			t.Fatalf("refs of the message filed thrice: %d", n)
		}
		if n := f.count(t, `SELECT refs FROM messages WHERE id = ?`, m2); n != 1 {
			t.Fatalf("refs of the message filed once: %d", n)
		}
		if n := f.count(t, `SELECT seen FROM entries WHERE mailbox_id = ? AND uid = 1`, sent.ID); n != 1 {
			t.Fatal("\\Seen not kept")
		}
		if n := f.count(t, `SELECT uidnext FROM mailboxes WHERE id = ?`, inbox.ID); n != 3 {
			t.Fatalf("INBOX UIDNEXT %d, want 3", n)
		}
		err = f.st.Tx(f.ctx, func(tx *store.Tx) error {
			_, err := mailbox.AppendAll(f.ctx, tx, []mailbox.Filing{{Mailbox: inbox.ID, Message: m2}, {Mailbox: -1, Message: m2}}, now)
			return err
		})
		if err == nil {
			t.Fatal("filing into a missing folder succeeded")
		}
		if n := f.count(t, `SELECT COUNT(*) FROM entries WHERE mailbox_id = ?`, inbox.ID); n != 2 {
			t.Fatalf("%d INBOX entries after a failed filing, want 2", n)
		}
	})
}

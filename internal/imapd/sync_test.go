package imapd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// TestStoreSeenByOtherSession: flags stored by one session reach another
// one at its next command, keywords announced in FLAGS first.
func TestStoreSeenByOtherSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		for _, s := range []string{"un", "deux", "trois"} {
			e.deliver(e.doc.ID, "INBOX", message(s, s))
		}
		a, _ := e.dial(e.doc.Login)
		b, bu := e.dial(e.doc.Login)
		if _, err := a.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		res, err := a.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen, imap.FlagFlagged}}, nil).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(res) != 1 || !hasFlag(res[0].Flags, imap.FlagFlagged) || !hasFlag(res[0].Flags, imap.FlagSeen) {
			t.Fatalf("STORE response %+v", res)
		}
		if n := e.count(`SELECT COUNT(*) FROM entries e JOIN mailboxes m ON m.id = e.mailbox_id WHERE m.account_id = ? AND e.seen = 1`, e.doc.ID); n != 1 {
			t.Fatalf("entries.seen set on %d entries", n)
		}
		if err := b.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		bu.wait(t, "FETCH FLAGS in b", func(u *updates) bool {
			return hasFlag(u.fetches[2], imap.FlagFlagged) && hasFlag(u.fetches[2], imap.FlagSeen)
		})

		// A new keyword: FLAGS comes before the FETCH that uses it.
		bu.reset()
		if err := a.Store(imap.SeqSetNum(3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{"$Urgent"}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		bu.wait(t, "FLAGS and FETCH", func(u *updates) bool {
			return len(u.flags) > 0 && hasFlag(u.flags[0], "$Urgent") && hasFlag(u.fetches[3], "$Urgent")
		})

		// -FLAGS and FLAGS, .SILENT.
		if err := a.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsDel, Silent: true, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		res, err = a.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsSet, Flags: []imap.Flag{imap.FlagAnswered}}, nil).Collect()
		if err != nil || len(res) != 1 || len(res[0].Flags) != 1 || res[0].Flags[0] != imap.FlagAnswered {
			t.Fatalf("STORE FLAGS: %+v %v", res, err)
		}
		msgs, err := b.Fetch(imap.SeqSetNum(1, 2), &imap.FetchOptions{Flags: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 2 || !hasFlag(msgs[0].Flags, imap.FlagAnswered) || hasFlag(msgs[1].Flags, imap.FlagSeen) {
			t.Fatalf("b sees %+v", msgs)
		}
		if n := e.count(`SELECT COUNT(*) FROM entries e JOIN mailboxes m ON m.id = e.mailbox_id WHERE m.account_id = ? AND e.seen = 1`, e.doc.ID); n != 0 {
			t.Fatalf("entries.seen still set on %d entries", n)
		}
		if err := a.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{`\Bogus`}}, nil).Close(); err == nil {
			t.Fatal("unknown system flag accepted")
		}
	})
}

// TestExpungeAndMove: EXPUNGE and MOVE in one session show up in another
// with the right sequence numbers; message references are counted.
func TestExpungeAndMove(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		var uids []uint32
		for _, s := range []string{"m1", "m2", "m3", "m4", "m5"} {
			uids = append(uids, e.deliver(e.doc.ID, "INBOX", message(s, s)))
		}
		a, au := e.dial(e.doc.Login)
		b, bu := e.dial(e.doc.Login)
		if _, err := a.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := b.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}

		// COPY with COPYUID keeps flags; the copy holds a reference.
		if err := a.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		cp, err := a.Copy(imap.SeqSetNum(1), "Trash").Wait()
		if err != nil {
			t.Fatal(err)
		}
		trash, err := a.Status("Trash", &imap.StatusOptions{UIDValidity: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if cp.UIDValidity != trash.UIDValidity || cp.SourceUIDs.String() != "1" || cp.DestUIDs.String() != "1" {
			t.Fatalf("COPYUID %+v", cp)
		}

		// EXPUNGE of messages 1 and 3: a gets them, b at its next command.
		if err := a.Store(imap.SeqSetNum(1, 3), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		gone, err := a.Expunge().Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(gone) != 2 || gone[0]+gone[1] != 4 { // 3 then 1, or 1 then 2
			t.Fatalf("EXPUNGE responses %v", gone)
		}
		if err := b.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		bu.wait(t, "EXPUNGE in b", func(u *updates) bool { return len(u.expunges) == 2 })
		msgs, err := b.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 3 || msgs[0].UID != imap.UID(uids[1]) || msgs[2].UID != imap.UID(uids[4]) {
			t.Fatalf("b after expunge: %+v", msgs)
		}
		// m1 lives on in Trash; m3 is gone for good.
		if n := e.count(`SELECT refs FROM messages WHERE subject = 'm1'`); n != 1 {
			t.Fatalf("m1 refs = %d", n)
		}
		if n := e.count(`SELECT COUNT(*) FROM messages WHERE subject = 'm3'`); n != 0 {
			t.Fatal("m3 still stored")
		}

		// UID EXPUNGE only touches the given UIDs (RFC 4315).
		if err := a.Store(imap.SeqSetNum(1, 2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		gone, err = a.UIDExpunge(imap.UIDSetNum(imap.UID(uids[3]))).Collect()
		if err != nil || len(gone) != 1 || gone[0] != 2 {
			t.Fatalf("UID EXPUNGE: %v %v", gone, err)
		}
		if err := a.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsDel, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			t.Fatal(err)
		}

		// MOVE: COPYUID then EXPUNGE (RFC 6851).
		au.reset()
		bu.reset()
		mv, err := a.Move(imap.SeqSetNum(1), "Drafts").Wait()
		if err != nil {
			t.Fatal(err)
		}
		if mv.SourceUIDs.String() != itoa(uids[1]) || mv.DestUIDs.String() != "1" {
			t.Fatalf("MOVE COPYUID %+v", mv)
		}
		au.wait(t, "EXPUNGE after MOVE", func(u *updates) bool { return len(u.expunges) == 1 && u.expunges[0] == 1 })
		if err := b.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		bu.wait(t, "EXPUNGE in b after MOVE", func(u *updates) bool { return len(u.expunges) == 2 })
		st, err := a.Status("Drafts", &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil || *st.NumMessages != 1 {
			t.Fatalf("Drafts: %+v %v", st, err)
		}
		if n := e.count(`SELECT refs FROM messages WHERE subject = 'm2'`); n != 1 {
			t.Fatalf("m2 refs after move = %d", n)
		}
		// COPY to a missing folder asks to create it.
		if _, err := a.Copy(imap.SeqSetNum(1), "Nulle part").Wait(); err == nil || !strings.Contains(err.Error(), "TRYCREATE") {
			t.Fatalf("COPY to missing folder: %v", err)
		}
	})
}

func itoa(u uint32) string { return imap.UIDSetNum(imap.UID(u)).String() }

// TestAppend: APPEND with flags and date returns APPENDUID, and a session
// with the folder selected sees the new message.
func TestAppend(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		a, _ := e.dial(e.doc.Login)
		b, bu := e.dial(e.doc.Login)
		if _, err := b.Select("Drafts", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		msg := message("brouillon", "à finir")
		date := time.Date(2007, 3, 24, 23, 0, 0, 0, time.FixedZone("", 2*3600))
		cmd := a.Append("Drafts", int64(len(msg)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagDraft, "$Todo"}, Time: date})
		if _, err := cmd.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Close(); err != nil {
			t.Fatal(err)
		}
		res, err := cmd.Wait()
		if err != nil {
			t.Fatal(err)
		}
		st, err := a.Status("Drafts", &imap.StatusOptions{UIDValidity: true, NumMessages: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if res.UID != 1 || res.UIDValidity != st.UIDValidity || *st.NumMessages != 1 {
			t.Fatalf("APPENDUID %+v, status %+v", res, st)
		}
		if err := b.Noop().Wait(); err != nil {
			t.Fatal(err)
		}
		bu.wait(t, "EXISTS", func(u *updates) bool { return len(u.exists) > 0 && u.exists[len(u.exists)-1] == 1 })
		msgs, err := b.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true, InternalDate: true, BodySection: []*imap.FetchItemBodySection{{Peek: true}}}).Collect()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("fetch: %+v %v", msgs, err)
		}
		m := msgs[0]
		if !hasFlag(m.Flags, imap.FlagDraft) || !hasFlag(m.Flags, "$Todo") || hasFlag(m.Flags, imap.FlagSeen) {
			t.Fatalf("flags %v", m.Flags)
		}
		if !m.InternalDate.Equal(date) {
			t.Fatalf("internal date %v, want %v", m.InternalDate, date)
		}
		if _, off := m.InternalDate.Zone(); off != 2*3600 {
			t.Fatalf("internal date zone lost: %v", m.InternalDate)
		}
		if string(m.FindBodySection(&imap.FetchItemBodySection{})) != msg {
			t.Fatal("body differs")
		}
		// APPEND to a missing folder asks to create it.
		cmd = a.Append("Nulle part", int64(len(msg)), nil)
		cmd.Write([]byte(msg))
		cmd.Close()
		if _, err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "TRYCREATE") {
			t.Fatalf("APPEND to missing folder: %v", err)
		}
	})
}

// TestIdle: a message delivered (as by SMTP) or appended by another session
// while a session idles reaches it as EXISTS, and flag changes as FETCH.
func TestIdle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		e.deliver(e.doc.ID, "INBOX", message("avant", "déjà là"))
		a, au := e.dial(e.doc.Login)
		if _, err := a.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		idle, err := a.Idle()
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		e.deliver(e.doc.ID, "INBOX", message("pendant", "nouveau"))
		au.wait(t, "EXISTS during IDLE", func(u *updates) bool { return len(u.exists) > 0 && u.exists[len(u.exists)-1] == 2 })
		if d := time.Since(start); d > time.Second {
			t.Errorf("EXISTS took %v", d)
		}

		b, _ := e.dial(e.doc.Login)
		if _, err := b.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if err := b.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		au.wait(t, "FETCH during IDLE", func(u *updates) bool { return hasFlag(u.fetches[1], imap.FlagFlagged) })
		if err := b.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Expunge().Close(); err != nil {
			t.Fatal(err)
		}
		au.wait(t, "EXPUNGE during IDLE", func(u *updates) bool { return len(u.expunges) == 1 && u.expunges[0] == 1 })
		if err := idle.Close(); err != nil {
			t.Fatal(err)
		}
		if err := idle.Wait(); err != nil {
			t.Fatal(err)
		}
		msgs, err := a.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true}).Collect()
		if err != nil || len(msgs) != 1 || msgs[0].Envelope.Subject != "pendant" {
			t.Fatalf("after IDLE: %+v %v", msgs, err)
		}
	})
}

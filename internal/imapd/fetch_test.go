package imapd_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/hygie-sante/hygie/internal/store/storetest"
)

const multipart = "From: Alice Martin <alice@example.org>\r\n" +
	"To: Jean Dupont <jean.dupont@clinique.example>, secretariat@clinique.example\r\n" +
	"Subject: Compte rendu\r\n" +
	"Date: Mon, 02 Mar 2026 10:00:00 +0100\r\n" +
	"Message-ID: <cr-1@example.org>\r\n" +
	"MIME-Version: 1.0\r\n" +
	"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" +
	"\r\n" +
	"--b1\r\n" +
	"Content-Type: text/plain; charset=utf-8\r\n" +
	"\r\n" +
	"Bonjour, voici le compte rendu de cardiologie.\r\n" +
	"--b1\r\n" +
	"Content-Type: application/pdf; name=\"cr.pdf\"\r\n" +
	"Content-Disposition: attachment; filename=\"cr.pdf\"\r\n" +
	"Content-Transfer-Encoding: base64\r\n" +
	"\r\n" +
	"JVBERi0xLjQK\r\n" +
	"--b1--\r\n"

func TestSelectAndFetch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		uid := e.deliver(e.doc.ID, "INBOX", multipart)
		c, _ := e.dial(e.doc.Login)

		sel, err := c.Select("INBOX", nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if sel.NumMessages != 1 || sel.UIDNext != imap.UID(uid+1) || sel.UIDValidity == 0 {
			t.Fatalf("select: %+v", sel)
		}
		if !hasFlag(sel.PermanentFlags, imap.FlagWildcard) || !hasFlag(sel.Flags, imap.FlagSeen) {
			t.Fatalf("flags: %v / %v", sel.Flags, sel.PermanentFlags)
		}

		hdrFields := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierHeader, HeaderFields: []string{"Subject"}, Peek: true}
		part1 := &imap.FetchItemBodySection{Part: []int{1}, Peek: true}
		whole := &imap.FetchItemBodySection{Peek: true}
		partial := &imap.FetchItemBodySection{Peek: true, Partial: &imap.SectionPartial{Offset: 6, Size: 11}}
		msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{
			UID: true, Flags: true, Envelope: true, InternalDate: true, RFC822Size: true,
			BodyStructure: &imap.FetchItemBodyStructure{Extended: true},
			BodySection:   []*imap.FetchItemBodySection{hdrFields, part1, whole, partial},
		}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 {
			t.Fatalf("%d messages", len(msgs))
		}
		m := msgs[0]
		if m.UID != imap.UID(uid) || len(m.Flags) != 0 || m.RFC822Size != int64(len(multipart)) {
			t.Fatalf("uid %d flags %v size %d", m.UID, m.Flags, m.RFC822Size)
		}
		if time.Since(m.InternalDate) > time.Minute {
			t.Fatalf("internal date %v", m.InternalDate)
		}
		env := m.Envelope
		if env == nil || env.Subject != "Compte rendu" || env.MessageID != "cr-1@example.org" ||
			len(env.From) != 1 || env.From[0].Name != "Alice Martin" || env.From[0].Addr() != "alice@example.org" || len(env.To) != 2 {
			t.Fatalf("envelope %+v", env)
		}
		mp, ok := m.BodyStructure.(*imap.BodyStructureMultiPart)
		if !ok || mp.Subtype != "mixed" || len(mp.Children) != 2 {
			t.Fatalf("bodystructure %#v", m.BodyStructure)
		}
		if att := mp.Children[1].(*imap.BodyStructureSinglePart); att.Type != "application" || att.Subtype != "pdf" ||
			att.Disposition() == nil || att.Disposition().Value != "attachment" {
			t.Fatalf("attachment %#v", att)
		}
		if got := string(m.FindBodySection(hdrFields)); got != "Subject: Compte rendu\r\n\r\n" {
			t.Fatalf("HEADER.FIELDS: %q", got)
		}
		if got := string(m.FindBodySection(part1)); got != "Bonjour, voici le compte rendu de cardiologie." {
			t.Fatalf("BODY[1]: %q", got)
		}
		if got := string(m.FindBodySection(whole)); got != multipart {
			t.Fatalf("BODY[] differs from the stored message")
		}
		if got := string(m.FindBodySection(partial)); got != "Alice Marti" {
			t.Fatalf("BODY[]<6.11>: %q", got)
		}
		if n := e.count(`SELECT seen FROM entries WHERE uid = ? AND mailbox_id = (SELECT id FROM mailboxes WHERE account_id = ? AND name = 'INBOX')`, uid, e.doc.ID); n != 0 {
			t.Fatal("PEEK set \\Seen")
		}

		// A non-peek section sets \Seen, reported in the same FETCH.
		text := &imap.FetchItemBodySection{Specifier: imap.PartSpecifierText}
		msgs, err = c.Fetch(imap.UIDSetNum(imap.UID(uid)), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{text}}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(msgs) != 1 || !hasFlag(msgs[0].Flags, imap.FlagSeen) || !strings.HasPrefix(string(msgs[0].FindBodySection(text)), "--b1\r\n") {
			t.Fatalf("BODY[TEXT]: %+v", msgs)
		}
		if n := e.count(`SELECT seen FROM entries WHERE uid = ? AND mailbox_id = (SELECT id FROM mailboxes WHERE account_id = ? AND name = 'INBOX')`, uid, e.doc.ID); n != 1 {
			t.Fatal("entries.seen not set")
		}

		// EXAMINE is read-only: no \Seen, no STORE.
		e.deliver(e.doc.ID, "INBOX", message("lecture", "seule"))
		if _, err := c.Select("INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect(); err != nil {
			t.Fatal(err)
		}
		if err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err == nil {
			t.Fatal("STORE in EXAMINE mode")
		}
		st, err := c.Status("INBOX", &imap.StatusOptions{NumUnseen: true}).Wait()
		if err != nil || *st.NumUnseen != 1 {
			t.Fatalf("unseen after EXAMINE fetch: %v %v", st, err)
		}
	})
}

func TestSearch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		e.deliver(e.doc.ID, "INBOX", message("alpha", "le patient va bien"))
		u2 := e.deliver(e.doc.ID, "INBOX", message("beta", "résultats normaux"))
		u3 := e.deliver(e.doc.ID, "INBOX", message("gamma", "le patient est sorti"))
		c, _ := e.dial(e.doc.Login)
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		if err := c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagSeen, "$Urgent"}}, nil).Close(); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			name string
			uid  bool
			c    imap.SearchCriteria
			want []uint32
		}{
			{"all", false, imap.SearchCriteria{}, []uint32{1, 2, 3}},
			{"unseen", false, imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, []uint32{1, 3}},
			{"keyword", true, imap.SearchCriteria{Flag: []imap.Flag{"$urgent"}}, []uint32{u2}},
			{"subject", false, imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "GAMMA"}}}, []uint32{3}},
			{"body", true, imap.SearchCriteria{Body: []string{"patient"}}, []uint32{1, u3}},
			{"text from", false, imap.SearchCriteria{Text: []string{"alice@example.org"}}, []uint32{1, 2, 3}},
			{"not", false, imap.SearchCriteria{Not: []imap.SearchCriteria{{Body: []string{"patient"}}}}, []uint32{2}},
			{"or", false, imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "alpha"}}}, {Flag: []imap.Flag{imap.FlagSeen}}}}}, []uint32{1, 2}},
			{"seq range", false, imap.SearchCriteria{SeqNum: []imap.SeqSet{{{Start: 2, Stop: 0}}}}, []uint32{2, 3}},
			{"uid star", true, imap.SearchCriteria{UID: []imap.UIDSet{{{Start: 0, Stop: 0}}}}, []uint32{u3}},
			{"since", false, imap.SearchCriteria{Since: time.Now().Add(-48 * time.Hour)}, []uint32{1, 2, 3}},
			{"before", false, imap.SearchCriteria{Before: time.Now().Add(-48 * time.Hour)}, nil},
			{"sent on", false, imap.SearchCriteria{SentSince: time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), SentBefore: time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)}, []uint32{1, 2, 3}},
			{"larger", false, imap.SearchCriteria{Larger: 100000}, nil},
		}
		for _, tc := range cases {
			var cmd *imapclient.SearchCommand
			if tc.uid {
				cmd = c.UIDSearch(&tc.c, nil)
			} else {
				cmd = c.Search(&tc.c, nil)
			}
			data, err := cmd.Wait()
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			var got []uint32
			if tc.uid {
				for _, u := range data.AllUIDs() {
					got = append(got, uint32(u))
				}
			} else {
				got = data.AllSeqNums()
			}
			if !equal(got, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
			}
		}
		// ESEARCH return options (RFC 4731).
		data, err := c.UIDSearch(&imap.SearchCriteria{Body: []string{"patient"}}, &imap.SearchOptions{ReturnCount: true, ReturnMax: true}).Wait()
		if err != nil || data.Count != 2 || data.Max != u3 {
			t.Fatalf("ESEARCH: %+v %v", data, err)
		}
		// SEARCHRES (RFC 5182), which imapclient does not send.
		r := e.dialRaw(e.doc.Login)
		r.cmd("SELECT INBOX")
		r.cmd("SEARCH RETURN (SAVE) BODY patient")
		got := r.cmd("FETCH $ (UID)")
		want := []string{fmt.Sprintf("* 1 FETCH (UID %d)", 1), fmt.Sprintf("* 3 FETCH (UID %d)", u3)}
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Fatalf("FETCH $: %q, want %q", got, want)
		}
	})
}

func equal(a, b []uint32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

package imapd_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// expect checks untagged responses against patterns, in order, ignoring
// case and any response no pattern asks for in between.
func expect(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	i := 0
	for _, g := range got {
		if i < len(want) && regexp.MustCompile("(?i)^"+want[i]+"$").MatchString(g) {
			i++
		}
	}
	if i < len(want) {
		t.Fatalf("%s: missing %q in %q", what, want[i], got)
	}
}

// TestSequenceSets follows imaptest's search-sets script: sequence numbers
// after an expunge, "*" and reversed ranges.
func TestSequenceSets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		var uids []uint32
		for i := 1; i <= 6; i++ {
			uids = append(uids, e.deliver(e.doc.ID, "INBOX", message(fmt.Sprint("s", i), "x")))
		}
		r := e.dialRaw(e.doc.Login)
		sel := r.cmd("SELECT INBOX")
		expect(t, "select", sel, `\* 6 EXISTS`, `\* OK \[UIDVALIDITY \d+\].*`, `\* OK \[UIDNEXT 7\].*`,
			`\* FLAGS \(.*\\Seen.*\)`, `\* OK \[PERMANENTFLAGS \(.*\\\*\)\].*`)
		r.cmd(`STORE 2 +FLAGS.SILENT (\Deleted)`)
		expect(t, "expunge", r.cmd("EXPUNGE"), `\* 2 EXPUNGE`)
		u := func(i int) string { return fmt.Sprint(uids[i-1]) }
		cases := []struct{ cmd, want string }{
			{"SEARCH ALL", "* SEARCH 1 2 3 4 5"},
			{"UID SEARCH ALL", "* SEARCH " + strings.Join([]string{u(1), u(3), u(4), u(5), u(6)}, " ")},
			{"SEARCH 1:3,5", "* SEARCH 1 2 3 5"},
			{"SEARCH 4:2", "* SEARCH 2 3 4"},
			{"SEARCH UID " + u(1) + ":" + u(3) + "," + u(5), "* SEARCH 1 2 4"},
			{"SEARCH UID " + u(4) + ":" + u(2), "* SEARCH 2 3"},
			{"SEARCH 1:3 NOT UID " + u(3), "* SEARCH 1 3"},
			{"SEARCH NOT 2,4", "* SEARCH 1 3 5"},
			{"SEARCH OR 1 UID " + u(3), "* SEARCH 1 2"},
			{"SEARCH *", "* SEARCH 5"},
			{"SEARCH UID *", "* SEARCH 5"},
			{"SEARCH 6:*", "* SEARCH 5"},
			{"SEARCH *:3", "* SEARCH 3 4 5"},
			{"SEARCH UID 7:*", "* SEARCH 5"},
			{"SEARCH 1,4,*", "* SEARCH 1 4 5"},
		}
		for _, c := range cases {
			got := r.cmd(c.cmd)
			if len(got) != 1 || got[0] != c.want {
				t.Errorf("%s: %q, want %q", c.cmd, got, c.want)
			}
		}
	})
}

// TestMoveResponses follows imaptest's move script: COPYUID is sent
// untagged before the expunges, and MOVE within a folder renumbers.
func TestMoveResponses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		for i := 1; i <= 3; i++ {
			e.deliver(e.doc.ID, "INBOX", message(fmt.Sprint("mv", i), "x"))
		}
		r := e.dialRaw(e.doc.Login)
		r.cmd("CREATE Dest")
		sel := r.cmd("SELECT Dest")
		expect(t, "select Dest", sel, `\* 0 EXISTS`, `\* OK \[UIDVALIDITY (\d+)\].*`, `\* OK \[UIDNEXT 1\].*`)
		validity := regexp.MustCompile(`UIDVALIDITY (\d+)`).FindStringSubmatch(strings.Join(sel, " "))[1]
		sel = r.cmd("SELECT INBOX")
		inboxValidity := regexp.MustCompile(`UIDVALIDITY (\d+)`).FindStringSubmatch(strings.Join(sel, " "))[1]
		got := r.cmd("MOVE 1 Dest")
		if len(got) != 2 || got[0] != "* OK [COPYUID "+validity+" 1 1] COPY completed" || got[1] != "* 1 EXPUNGE" {
			t.Fatalf("MOVE: %q", got)
		}
		got = r.cmd("UID MOVE 2 Dest")
		if len(got) != 2 || got[0] != "* OK [COPYUID "+validity+" 2 2] COPY completed" || got[1] != "* 1 EXPUNGE" {
			t.Fatalf("UID MOVE: %q", got)
		}
		got = r.cmd("MOVE 1 INBOX")
		if len(got) != 3 || got[0] != "* OK [COPYUID "+inboxValidity+" 3 4] COPY completed" || got[1] != "* 1 EXPUNGE" || got[2] != "* 1 EXISTS" {
			t.Fatalf("MOVE to itself: %q", got)
		}
		expect(t, "fetch", r.cmd("FETCH 1 UID"), `\* 1 FETCH \(UID 4\)`)
	})
}

// TestTwoSessionsExpunge follows imaptest's expunge script, and checks that
// FETCH, STORE and SEARCH do not carry EXPUNGE (RFC 9051 §7.4.1) while
// their UID forms and NOOP do.
func TestTwoSessionsExpunge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		for i := 1; i <= 4; i++ {
			e.deliver(e.doc.ID, "INBOX", message(fmt.Sprint("x", i), "x"))
		}
		a := e.dialRaw(e.doc.Login)
		b := e.dialRaw(e.doc.Login)
		a.cmd("SELECT INBOX")
		b.cmd("SELECT INBOX")
		expect(t, "store", a.cmd(`STORE 4 FLAGS (\Deleted)`), `\* 4 FETCH \(FLAGS \(\\Deleted\)\)`)
		expect(t, "expunge", a.cmd("EXPUNGE"), `\* 4 EXPUNGE`)
		a.cmd(`STORE 2 +FLAGS.SILENT (\Deleted)`)
		a.cmd("EXPUNGE")

		// b still numbers 4 messages: FETCH works on its view, without EXPUNGE.
		got := b.cmd("FETCH 3 UID")
		if len(got) == 0 || got[0] != "* 3 FETCH (UID 3)" || strings.Contains(strings.Join(got, " "), "EXPUNGE") {
			t.Fatalf("b FETCH 3: %q", got)
		}
		for _, g := range b.cmd("SEARCH ALL") {
			if strings.Contains(g, "EXPUNGE") {
				t.Fatalf("EXPUNGE during SEARCH: %q", g)
			}
		}
		expect(t, "noop", b.cmd("NOOP"), `\* 4 EXPUNGE`, `\* 2 EXPUNGE`)
		expect(t, "b fetch", b.cmd("FETCH 1:* UID"), `\* 1 FETCH \(UID 1\)`, `\* 2 FETCH \(UID 3\)`)

		// Flags and a keyword set in a, seen by b with FLAGS first.
		a.cmd(`STORE 2 +FLAGS ($Label1)`)
		expect(t, "b keyword", b.cmd("NOOP"), `\* FLAGS \(.*\$Label1.*\)`, `\* 2 FETCH \(UID 3 FLAGS \(\$Label1\)\)`)
		// a's own STORE of a new keyword: FLAGS before FETCH too.
		expect(t, "a keyword", a.cmd(`STORE 1 +FLAGS ($Label2)`), `\* FLAGS \(.*\$Label2.*\)`, `\* 1 FETCH \(.*\$Label2.*\)`)
	})
}

// TestFetchSections follows imaptest's fetch-body script.
func TestFetchSections(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		msg := "From: User1 <user1@domain.org>\r\nDate: Sat, 24 Mar 2007 23:00:00 +0200\r\nSubject: s1\r\n\r\nbody1\r\n\r\n"
		e.deliver(e.doc.ID, "INBOX", msg)
		r := e.dialRaw(e.doc.Login)
		r.cmd("SELECT INBOX")
		expect(t, "header.fields", r.cmd("FETCH 1 BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)]"),
			`\* 1 FETCH \(BODY\[HEADER.FIELDS \("FROM" "SUBJECT"\)\] \{47\}`)
		expect(t, "partial", r.cmd("FETCH 1 BODY.PEEK[TEXT]<1.3>"), `\* 1 FETCH \(BODY\[TEXT\]<1> \{3\}`)
		got := r.cmd("FETCH 1 RFC822.TEXT")
		if !strings.Contains(strings.Join(got, "\n"), `\Seen`) {
			t.Fatalf("RFC822.TEXT did not report \\Seen: %q", got)
		}
		expect(t, "size", r.cmd("FETCH 1 (RFC822.SIZE)"), fmt.Sprintf(`\* 1 FETCH \(RFC822.SIZE %d\)`, len(msg)))
		expect(t, "empty header.fields", r.cmd("FETCH 1 BODY.PEEK[HEADER.FIELDS (XYZ)]"), `\* 1 FETCH \(BODY\[HEADER.FIELDS \("XYZ"\)\] \{2\}`)
	})
}

// TestListHierarchy follows imaptest's list script.
func TestListHierarchy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		r := e.dialRaw(e.doc.Login)
		expect(t, "root", r.cmd(`LIST "" ""`), `\* LIST \(\\Noselect\) "/" ""`)
		r.cmd("CREATE box/")
		r.cmd("CREATE box/test")
		r.cmd("CREATE box/test3/test4/")
		r.cmd("CREATE box/test3/test4/test5")
		names := func(lines []string) string {
			var out []string
			for _, l := range lines {
				out = append(out, strings.Trim(l[strings.LastIndexByte(l, ' ')+1:], `"`))
			}
			return strings.Join(out, " ")
		}
		if got := names(r.cmd(`LIST "" box/%`)); got != "box/test box/test3" {
			t.Errorf("box/%%: %s", got)
		}
		if got := names(r.cmd(`LIST "" box/%/%`)); got != "box/test3/test4" {
			t.Errorf("box/%%/%%: %s", got)
		}
		if got := names(r.cmd(`LIST box/ *`)); got != "box/test box/test3 box/test3/test4 box/test3/test4/test5" {
			t.Errorf("box/ *: %s", got)
		}
		if got := names(r.cmd(`LIST "" box/*test4`)); got != "box/test3/test4" {
			t.Errorf("box/*test4: %s", got)
		}
		if got := names(r.cmd(`LIST "" inbox`)); got != "INBOX" {
			t.Errorf("inbox: %s", got)
		}
		expect(t, "lsub", r.cmd(`LSUB "" box/%`), `\* LSUB \(.*\) "/" "box/test"`)
	})
}

// TestIMAP4rev2 checks what changes once a client enables IMAP4rev2 (RFC
// 9051): LIST in the SELECT response, ESEARCH answers, no RECENT.
func TestIMAP4rev2(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		e.deliver(e.doc.ID, "Sent", message("envoi", "x"))
		r := e.dialRaw(e.doc.Login)
		expect(t, "enable", r.cmd("ENABLE IMAP4rev2"), `\* ENABLED IMAP4rev2`)
		sel := r.cmd("SELECT Sent")
		expect(t, "select", sel, `\* 1 EXISTS`, `\* LIST \(\\Sent\) "/" "?Sent"?`)
		for _, l := range sel {
			if strings.Contains(l, "RECENT") {
				t.Fatalf("RECENT in IMAP4rev2: %q", sel)
			}
		}
		expect(t, "esearch", r.cmd("UID SEARCH ALL"), `\* ESEARCH \(TAG "t\d+"\) UID ALL 1`)
		expect(t, "status", r.cmd("STATUS Sent (MESSAGES DELETED SIZE)"), `\* STATUS "?Sent"? \(MESSAGES 1 DELETED 0 SIZE \d+\)`)
	})
}

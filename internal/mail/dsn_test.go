package mail_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-message"
	"github.com/emersion/go-message/textproto"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

const original = "Received: by mx.hygie.test (Hygie) with ESMTPSA;\r\n\tWed, 25 Nov 2026 10:00:00 +0100\r\n" +
	"From: Jean Dupont <jean.dupont@medecin.hygie.test>\r\nTo: <marie@medecin.autre.test>\r\n" +
	"Subject: =?utf-8?q?Compte_rendu_op=C3=A9ratoire?=\r\nMessage-ID: <abc123@mx.hygie.test>\r\n\r\n" +
	"Confidential body that must never appear in a DSN.\r\n"

// dsnParts is a parsed DSN.
type dsnParts struct {
	header   message.Header
	human    string
	perMsg   textproto.Header
	perRcpt  []textproto.Header
	original textproto.Header
	origRaw  string
}

// parseDSN reads a DSN with go-message as a mail client would, and checks
// the structure of RFC 3464 §2 and RFC 6522.
func parseDSN(t *testing.T, raw []byte) dsnParts {
	t.Helper()
	e, err := message.Read(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("read DSN: %v", err)
	}
	var p dsnParts
	p.header = e.Header
	ct, params, err := e.Header.ContentType()
	if err != nil || ct != "multipart/report" || params["report-type"] != "delivery-status" {
		t.Fatalf("Content-Type %q %v (%v); want multipart/report; report-type=delivery-status", ct, params, err)
	}
	mr := e.MultipartReader()
	var types []string
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("next part: %v", err)
		}
		pt, params, _ := part.Header.ContentType()
		types = append(types, pt)
		body, err := io.ReadAll(part.Body)
		if err != nil {
			t.Fatalf("read part %s: %v", pt, err)
		}
		switch pt {
		case "text/plain":
			if params["charset"] != "utf-8" {
				t.Errorf("human part charset %q", params["charset"])
			}
			p.human = string(body)
		case "message/delivery-status":
			br := bufio.NewReader(bytes.NewReader(body))
			if p.perMsg, err = textproto.ReadHeader(br); err != nil {
				t.Fatalf("per-message fields: %v", err)
			}
			for {
				if _, err := br.Peek(1); err != nil {
					break
				}
				h, err := textproto.ReadHeader(br)
				if err != nil {
					t.Fatalf("per-recipient fields: %v", err)
				}
				if h.Len() > 0 {
					p.perRcpt = append(p.perRcpt, h)
				}
			}
		case "text/rfc822-headers":
			p.origRaw = string(body)
			if p.original, err = textproto.ReadHeader(bufio.NewReader(bytes.NewReader(body))); err != nil {
				t.Fatalf("original header: %v", err)
			}
		}
	}
	if strings.Join(types, ",") != "text/plain,message/delivery-status,text/rfc822-headers" {
		t.Fatalf("parts %v; want text/plain, message/delivery-status, text/rfc822-headers (RFC 3464 §2)", types)
	}
	return p
}

func TestBuildDSN(t *testing.T) {
	now := time.Date(2026, 11, 30, 9, 30, 0, 0, time.FixedZone("CET", 3600))
	failed := []mail.FailedRecipient{
		{Address: "marie@medecin.autre.test", Status: "5.1.1", Diagnostic: "550 5.1.1 no such mailbox", RemoteMTA: "mx.autre.test"},
		{Address: "paul@medecin.autre.test", Status: "5.4.7", Diagnostic: "dial tcp 127.0.0.1:1: connect: connection refused",
			DiagnosticType: mail.DiagnosticLocal},
	}
	raw := mail.BuildDSN("mx.hygie.test", "mx.hygie.test", "jean.dupont@medecin.hygie.test", "<abc123@mx.hygie.test>",
		failed, []byte(original), now)
	for i, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 || strings.Contains(line, "\n") {
			t.Fatalf("line %d breaks RFC 5322 §2.1.1: %q", i, line)
		}
	}
	p := parseDSN(t, raw)

	for field, want := range map[string]string{
		"From":           "Mail Delivery System <MAILER-DAEMON@mx.hygie.test>",
		"To":             "<jean.dupont@medecin.hygie.test>",
		"Auto-Submitted": "auto-replied",
		"In-Reply-To":    "<abc123@mx.hygie.test>",
		"Date":           "Mon, 30 Nov 2026 09:30:00 +0100",
	} {
		if got := p.header.Get(field); got != want {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}
	if subj, _ := p.header.Text("Subject"); !strings.Contains(subj, "Non distribué") || !strings.Contains(subj, "Undelivered") {
		t.Errorf("Subject %q", subj)
	}
	if id := p.header.Get("Message-Id"); !strings.HasSuffix(id, "@mx.hygie.test>") {
		t.Errorf("Message-ID %q", id)
	}

	for _, want := range []string{"Votre message n'a pas pu être remis", "Your message could not be delivered",
		"<marie@medecin.autre.test>", "550 5.1.1 no such mailbox", "connection refused", "<abc123@mx.hygie.test>"} {
		if !strings.Contains(p.human, want) {
			t.Errorf("human part lacks %q:\n%s", want, p.human)
		}
	}
	if strings.Index(p.human, "Votre message") > strings.Index(p.human, "Your message") {
		t.Error("French must come first")
	}

	if got := p.perMsg.Get("Reporting-MTA"); got != "dns; mx.hygie.test" {
		t.Errorf("Reporting-MTA %q", got)
	}
	if got := p.perMsg.Get("Arrival-Date"); got != "Wed, 25 Nov 2026 10:00:00 +0100" {
		t.Errorf("Arrival-Date %q, want the date of the topmost Received field", got)
	}
	if len(p.perRcpt) != 2 {
		t.Fatalf("%d per-recipient groups, want 2", len(p.perRcpt))
	}
	want := []map[string]string{
		{"Final-Recipient": "rfc822; marie@medecin.autre.test", "Action": "failed", "Status": "5.1.1",
			"Remote-MTA": "dns; mx.autre.test", "Diagnostic-Code": "smtp; 550 5.1.1 no such mailbox",
			"Last-Attempt-Date": "Mon, 30 Nov 2026 09:30:00 +0100"},
		{"Final-Recipient": "rfc822; paul@medecin.autre.test", "Action": "failed", "Status": "5.4.7", "Remote-MTA": "",
			"Diagnostic-Code": "X-Hygie; dial tcp 127.0.0.1:1: connect: connection refused"},
	}
	for i, w := range want {
		for field, v := range w {
			if got := p.perRcpt[i].Get(field); got != v {
				t.Errorf("recipient %d %s: %q, want %q", i, field, got, v)
			}
		}
	}

	if got := p.original.Get("Message-Id"); got != "<abc123@mx.hygie.test>" {
		t.Errorf("original Message-ID %q", got)
	}
	if strings.Contains(string(raw), "Confidential body") {
		t.Error("the DSN carries the original body; only its header may be returned")
	}
	// The CRLF before the boundary belongs to the delimiter (RFC 2046
	// §5.1.1): the part is the header fields, each ending with CRLF.
	if !strings.HasSuffix(p.origRaw, "Message-ID: <abc123@mx.hygie.test>\r\n") || !strings.HasPrefix(p.origRaw, "Received: ") {
		t.Errorf("original header part: %q", p.origRaw)
	}
}

func TestBuildDSNSanitizes(t *testing.T) {
	raw := mail.BuildDSN("mx.hygie.test", "mx.hygie.test", "a@b.test", "not-a-msgid",
		[]mail.FailedRecipient{{Address: "x@y.test", Status: "5.0.0", Diagnostic: "550-first line\r\n550 second\tline é" + strings.Repeat("x", 2000)}},
		[]byte("Subject: no received field\n\nbody\n"), time.Now())
	p := parseDSN(t, raw)
	if p.header.Get("In-Reply-To") != "" {
		t.Error("In-Reply-To set from an invalid Message-ID")
	}
	if p.perMsg.Get("Arrival-Date") != "" {
		t.Error("Arrival-Date invented without a Received field")
	}
	d := p.perRcpt[0].Get("Diagnostic-Code")
	if !strings.HasPrefix(d, "smtp; 550-first line 550 second line ?xxx") || len(d) > 998 {
		t.Errorf("Diagnostic-Code not folded to one printable line: %.80q (%d)", d, len(d))
	}
	if p.original.Get("Subject") != "no received field" {
		t.Errorf("original header: %q", p.origRaw)
	}
}

func TestHeaderSection(t *testing.T) {
	for in, want := range map[string]string{
		"A: 1\r\nB: 2\r\n\r\nbody\r\n\r\nmore": "A: 1\r\nB: 2\r\n\r\n",
		"A: 1\nB: 2\n\nbody":                   "A: 1\r\nB: 2\r\n\r\n",
		"A: 1\r\n":                             "A: 1\r\n\r\n",
		"":                                     "",
	} {
		if got := string(mail.HeaderSection([]byte(in))); got != want {
			t.Errorf("HeaderSection(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDeliverSystemTx(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dbURL string) {
		ctx := context.Background()
		st, err := store.Open(ctx, dbURL)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		acc := account.NewService(st)
		if _, err := acc.CreateStructure(ctx, "Clinique", ""); err != nil {
			t.Fatal(err)
		}
		jean, err := acc.Create(ctx, account.NewAccount{Structure: "Clinique", Kind: account.PER, Login: "jean@hygie.test",
			MSS: "jean.dupont@medecin.hygie.test", FirstName: "Jean", LastName: "Dupont"})
		if err != nil {
			t.Fatal(err)
		}
		p := &mail.Pipeline{St: st, Hostname: "mx.hygie.test"}
		report := mail.BuildDSN("mx.hygie.test", "mx.hygie.test", jean.MSS, "<abc123@mx.hygie.test>",
			[]mail.FailedRecipient{{Address: "x@y.test", Status: "5.1.1", Diagnostic: "550 5.1.1 unknown"}}, []byte(original), time.Now())
		env := mail.Envelope{Source: mail.SourceSystem, Recipients: []mail.Destination{{Address: jean.MSS, Local: jean}}}

		// A rollback of the surrounding transaction leaves nothing behind.
		boom := errors.New("job completion failed")
		err = st.Tx(ctx, func(tx *store.Tx) error {
			if _, err := p.DeliverSystemTx(ctx, tx, env, report, time.Now()); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatal(err)
		}
		if n := inboxCount(t, st, jean.ID); n != 0 {
			t.Fatalf("%d messages after rollback", n)
		}

		var d mail.Delivered
		if err := st.Tx(ctx, func(tx *store.Tx) error {
			d, err = p.DeliverSystemTx(ctx, tx, env, report, time.Now())
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n := inboxCount(t, st, jean.ID); n != 1 {
			t.Fatalf("%d messages in INBOX, want the DSN", n)
		}
		var sender string
		var body []byte
		if err := st.QueryRow(ctx, `SELECT sender, body FROM messages WHERE id = ?`, d.ID).Scan(&sender, &body); err != nil {
			t.Fatal(err)
		}
		if sender != "" || !bytes.HasPrefix(body, []byte("Received: by mx.hygie.test (Hygie) with local;")) {
			t.Errorf("stored sender %q, body %.80q", sender, body)
		}

		// Only local system mail goes this way.
		for _, bad := range []mail.Envelope{
			{Source: mail.SourceSubmission, Recipients: env.Recipients},
			{Source: mail.SourceSystem, Recipients: []mail.Destination{{Address: "x@y.test"}}},
		} {
			err := st.Tx(ctx, func(tx *store.Tx) error { _, err := p.DeliverSystemTx(ctx, tx, bad, report, time.Now()); return err })
			if err == nil {
				t.Errorf("DeliverSystemTx accepted %+v", bad)
			}
		}
	})
}

func inboxCount(t *testing.T, st *store.Store, accountID int64) int {
	t.Helper()
	var n int
	err := st.QueryRow(context.Background(), `SELECT COUNT(*) FROM entries e JOIN mailboxes m ON m.id = e.mailbox_id
		WHERE m.account_id = ? AND m.name = 'INBOX'`, accountID).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

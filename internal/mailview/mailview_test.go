package mailview_test

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"io"
	"mime"
	"net/mail"
	"strconv"
	"strings"
	"testing"
	"time"

	gomessage "github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/mailview"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// xdmZip builds an IHE XDM package like those of SPEC §5.
func xdmZip(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, f := range []struct{ name, body string }{
		{"IHE_XDM/", ""},
		{"IHE_XDM/SUBSET01/", ""},
		{"INDEX.HTM", "<html>index</html>"},
		{"README.TXT", "readme"},
		{"IHE_XDM/SUBSET01/METADATA.XML", "<SubmitObjectsRequest/>"},
		{"IHE_XDM/SUBSET01/DOC0001.XML", "<ClinicalDocument/>"},
		{"IHE_XDM/SUBSET01/DOC0002.PDF", "%PDF-1.4 compte rendu"},
	} {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, f.body)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestBuildAndParse builds a message with an HTML alternative and files
// (one with an accented name, an XDM zip), checks its MIME structure with
// go-message, then reads it back as the webmail does.
func TestBuildAndParse(t *testing.T) {
	pdf := []byte("%PDF-1.4\n\x00\x01\x02 binaire")
	zipData := xdmZip(t)
	c := &mailview.Compose{
		From:       &mail.Address{Name: "Jean Dupont", Address: "jean.dupont@medecin.web.test"},
		To:         []*mail.Address{{Name: "Marie Curie", Address: "marie@web.test"}},
		Cc:         []*mail.Address{{Address: "paul@web.test"}},
		Subject:    "Compte rendu d'hospitalisation — été",
		Text:       "Bonjour,\nvoici le compte rendu.\n\n-- \nDr Dupont",
		HTML:       "<p>Bonjour,</p><p>voici le compte rendu.</p>",
		Date:       time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC),
		MessageID:  "<abc@mx.web.test>",
		InReplyTo:  "<orig@web.test>",
		References: "<first@web.test> <orig@web.test>",
		Attachments: []mailview.Attachment{
			{Filename: "résumé médical.pdf", ContentType: "application/pdf", Data: pdf},
			{Filename: "IHE_XDM.zip", Data: zipData},
		},
		Extra: [][2]string{{"X-Hygie-Signature", "7"}},
	}
	msg, err := mailview.Build(c)
	if err != nil {
		t.Fatal(err)
	}
	// Every line ends in CRLF and stays short (RFC 5322 §2.1.1).
	for i, l := range strings.Split(string(msg), "\r\n") {
		if strings.Contains(l, "\n") || len(l) > 998 {
			t.Fatalf("line %d malformed: %q", i, l)
		}
	}
	// Structure, with go-message.
	e, err := gomessage.Read(bytes.NewReader(msg))
	if err != nil {
		t.Fatal(err)
	}
	h := gomail.Header{Header: e.Header}
	if ct, _, _ := h.ContentType(); ct != "multipart/mixed" {
		t.Fatalf("content type %q", ct)
	}
	if s, _ := h.Subject(); s != c.Subject {
		t.Errorf("subject %q", s)
	}
	if h.Get("Mime-Version") != "1.0" || h.Get("Message-Id") != "<abc@mx.web.test>" || h.Get("In-Reply-To") != "<orig@web.test>" {
		t.Errorf("header: %v", h.Header)
	}
	if d, err := h.Date(); err != nil || !d.Equal(c.Date) {
		t.Errorf("date %v %v", d, err)
	}
	mr := e.MultipartReader()
	var types []string
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ct, _, _ := p.Header.ContentType()
		types = append(types, ct)
		if ct == "multipart/alternative" {
			inner := p.MultipartReader()
			for {
				q, err := inner.NextPart()
				if err == io.EOF {
					break
				}
				ict, params, _ := q.Header.ContentType()
				types = append(types, ict+";"+params["charset"]+";"+q.Header.Get("Content-Transfer-Encoding"))
			}
			continue
		}
		if enc := p.Header.Get("Content-Transfer-Encoding"); enc != "base64" {
			t.Errorf("attachment %s encoded %q", ct, enc)
		}
		_, dp, _ := p.Header.ContentDisposition()
		if ct == "application/pdf" && dp["filename"] != "résumé médical.pdf" {
			t.Errorf("filename %q", dp["filename"])
		}
	}
	want := "multipart/alternative text/plain;utf-8;quoted-printable text/html;utf-8;quoted-printable application/pdf application/zip"
	if got := strings.Join(types, " "); got != want {
		t.Errorf("parts:\n got %s\nwant %s", got, want)
	}

	// Read back.
	m, err := mailview.Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.From) != 1 || m.From[0].Address != "jean.dupont@medecin.web.test" || m.From[0].Name != "Jean Dupont" {
		t.Errorf("from %v", m.From)
	}
	if len(m.To) != 1 || m.To[0].Name != "Marie Curie" || len(m.Cc) != 1 {
		t.Errorf("to %v cc %v", m.To, m.Cc)
	}
	if m.Subject != c.Subject || !strings.Contains(m.Text, "voici le compte rendu.\n\n-- \nDr Dupont") || !m.HasHTML {
		t.Errorf("subject %q text %q html %v", m.Subject, m.Text, m.HasHTML)
	}
	if m.References != c.References || m.Header.Get("X-Hygie-Signature") != "7" {
		t.Errorf("references %q", m.References)
	}
	if len(m.Attachments) != 2 {
		t.Fatalf("attachments %v", m.Attachments)
	}
	a := m.Attachments[0]
	if a.Filename != "résumé médical.pdf" || !bytes.Equal(a.Data, pdf) || a.Path != "2" || m.FindPart("2") != a {
		t.Errorf("pdf: %q %q %q", a.Filename, a.Data, a.Path)
	}
	x := m.Attachments[1]
	if !x.IsXDM() || !bytes.Equal(x.Data, zipData) || x.ContentType != "application/zip" {
		t.Errorf("xdm: %q %v %q", x.Filename, x.IsXDM(), x.ContentType)
	}
	sum := mailview.SummaryOf(m)
	if sum.From() != "Jean Dupont" || sum.Recipients != "Marie Curie, paul@web.test" || !sum.Attachments || sum.Subject != c.Subject {
		t.Errorf("summary %+v", sum)
	}
}

// TestBuildPlainAndDraft checks the single-part form, header injection and
// a draft's recipients kept as typed.
func TestBuildPlainAndDraft(t *testing.T) {
	msg, err := mailview.Build(&mailview.Compose{
		From:    &mail.Address{Address: "a@web.test"},
		ToRaw:   "marie@web.test, pas encore fini",
		Subject: "Objet\r\nBcc: victime@example.org",
		Text:    "Une ligne\nDeux lignes",
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(msg), "\r\nBcc:") {
		t.Fatalf("header injection:\n%s", msg)
	}
	m, err := mailview.Parse(msg)
	if err != nil {
		t.Fatal(err)
	}
	if m.ToRaw != "marie@web.test, pas encore fini" || m.Text != "Une ligne\nDeux lignes" || m.HasHTML || len(m.Attachments) != 0 {
		t.Errorf("to %q text %q", m.ToRaw, m.Text)
	}
	if ct := mailview.AttachmentType("", "compte-rendu.pdf"); ct != "application/pdf" {
		t.Errorf("type %q", ct)
	}
	if ct := mailview.AttachmentType("text/html; charset=x", "a.bin"); ct != "text/html" {
		t.Errorf("type %q", ct)
	}
}

// TestParseForeign reads messages as other software writes them: Latin-1
// text, encoded words, a nested multipart with an inline image referenced
// by Content-ID, a file name in Content-Type only.
func TestParseForeign(t *testing.T) {
	png := []byte("\x89PNG\r\n\x1a\nfake")
	raw := "From: =?iso-8859-1?q?H=E9l=E8ne_Martin?= <helene@autre.test>\r\n" +
		"To: jean@web.test\r\n" +
		"Subject: =?utf-8?b?UsOpc3VsdGF0cw==?=\r\n" +
		"Date: Tue, 24 Nov 2026 09:00:00 +0100\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=outer\r\n\r\n" +
		"--outer\r\nContent-Type: multipart/related; boundary=rel\r\n\r\n" +
		"--rel\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n" +
		"--alt\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nR=E9sultats normaux.\r\n" +
		"--alt\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<p>Résultats <img src=\"cid:logo@x\"></p>\r\n" +
		"--alt--\r\n" +
		"--rel\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString(png) + "\r\n--rel--\r\n" +
		"--outer\r\nContent-Type: application/pdf; name=\"bilan.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
		base64.StdEncoding.EncodeToString([]byte("%PDF")) + "\r\n--outer--\r\n"
	m, err := mailview.Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.From) != 1 || m.From[0].Name != "Hélène Martin" || m.Subject != "Résultats" {
		t.Errorf("from %v subject %q", m.From, m.Subject)
	}
	if strings.TrimSpace(m.Text) != "Résultats normaux." || !m.HasHTML {
		t.Errorf("text %q", m.Text)
	}
	if len(m.Attachments) != 2 || m.Attachments[1].Filename != "bilan.pdf" || m.Attachments[1].Path != "2" {
		t.Fatalf("attachments %+v", m.Attachments)
	}
	if img := m.Inline["logo@x"]; img == nil || img.Path != "1.2" || !bytes.Equal(img.Data, png) {
		t.Fatalf("inline %+v", m.Inline)
	}
	out := mailview.SanitizeHTML(m.HTML, mailview.Options{Inline: m.Inline})
	if !strings.Contains(out, `src="data:image/png;base64,`+base64.StdEncoding.EncodeToString(png)+`"`) {
		t.Errorf("cid image not embedded: %s", out)
	}
	if s := mailview.SummaryOf(m); !s.Attachments || s.From() != "Hélène Martin" {
		t.Errorf("summary %+v", s)
	}
}

// TestXDMDocuments lists the documents of an XDM zip by name, documents
// first, without the directories.
func TestXDMDocuments(t *testing.T) {
	docs, err := mailview.XDMDocuments(xdmZip(t))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, d := range docs {
		names = append(names, d.Name)
	}
	want := "IHE_XDM/SUBSET01/DOC0001.XML IHE_XDM/SUBSET01/DOC0002.PDF IHE_XDM/SUBSET01/METADATA.XML INDEX.HTM README.TXT"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("docs:\n got %s\nwant %s", got, want)
	}
	if docs[1].Base != "DOC0002.PDF" || docs[1].Metadata || !docs[2].Metadata {
		t.Errorf("docs %+v", docs)
	}
	if _, err := mailview.XDMDocuments([]byte("pas un zip")); err == nil {
		t.Error("garbage accepted")
	}
	if !mailview.IsXDMName("ihe_xdm.ZIP") || mailview.IsXDMName("IHE_XDM.zip.exe") {
		t.Error("IsXDMName")
	}
}

// TestSanitizeHTML feeds hostile mail HTML to the display sanitiser.
func TestSanitizeHTML(t *testing.T) {
	in := `<html><head><style>@import url(http://evil.test/a.css); p{color:red;background:url(http://evil.test/t.png)}</style>
<script>window.pwned=1</script></head><body onload="alert(1)">
<p style="color:blue;background-image:url(http://evil.test/x.png);width:expression(alert(1))">Bonjour</p>
<img src="http://evil.test/track.png" alt="logo"><img src="data:image/svg+xml;base64,PHN2Zz4=">
<img src="data:image/png;base64,iVBORw0KGgo=" onerror="alert(2)">
<a href="javascript:alert(3)">x</a><a href="https://example.org/" target="_top">lien</a>
<svg onload="alert(4)"><circle/></svg><math><mi>x</mi></math><iframe src="http://evil.test/"></iframe>
<form action="http://evil.test/"><input name=a></form><object data="x"></object>
<table background="http://evil.test/bg.png"><tr><td bgcolor="#fff">cellule</td></tr></table>
<!-- commentaire --><blink>texte gardé</blink><base href="http://evil.test/"><meta http-equiv="refresh" content="0;url=http://evil.test/">
</body></html>`
	out := mailview.SanitizeHTML(in, mailview.Options{})
	low := strings.ToLower(out)
	for _, bad := range []string{"<script", "pwned", "onload", "onerror", "javascript:", "evil.test", "<svg", "<math", "<iframe",
		"<form", "<input", "<object", "expression", "url(", "background=", "<base", "<meta http-equiv", "commentaire", "image/svg"} {
		if strings.Contains(low, bad) {
			t.Errorf("output contains %q:\n%s", bad, out)
		}
	}
	for _, good := range []string{"Bonjour", "color:blue", "[logo]", `src="data:image/png;base64,iVBORw0KGgo="`,
		`href="https://example.org/"`, `target="_blank"`, `rel="noopener noreferrer"`, "cellule", `bgcolor="#fff"`, "texte gardé", "p{color:red;background:none}"} {
		if !strings.Contains(out, good) {
			t.Errorf("output lacks %q:\n%s", good, out)
		}
	}
	// A sheet hiding things in escapes goes entirely.
	if out := mailview.SanitizeHTML(`<style>p{background:u\72l(http://evil.test/)}</style><p>x</p>`, mailview.Options{}); strings.Contains(out, "evil") {
		t.Errorf("escaped url kept: %s", out)
	}
}

// TestHTMLToText renders signatures and HTML mails as text.
func TestHTMLToText(t *testing.T) {
	cases := map[string]string{
		`<p><b>Dr Jean Dupont</b><br>Cardiologue</p><p>Tél. 01 02 03 04 05</p>`: "Dr Jean Dupont\nCardiologue\nTél. 01 02 03 04 05",
		`<div>Clinique   du
  Parc</div><ul><li>un</li><li>deux</li></ul>`: "Clinique du Parc\n- un\n- deux",
		`<a href="https://clinique.example/">Site</a> <img alt="Logo" src="data:x">`: "Site <https://clinique.example/> Logo",
		`<script>alert(1)</script><style>p{}</style>Texte &amp; suite`:               "Texte & suite",
	}
	for in, want := range cases {
		if got := mailview.HTMLToText(in); got != want {
			t.Errorf("HTMLToText(%q) = %q, want %q", in, got, want)
		}
	}
	if got := mailview.TextToHTML("a < b\nc"); got != "a &lt; b<br>\nc" {
		t.Errorf("TextToHTML = %q", got)
	}
}

// TestSummariesAndSearch stores messages in folders, lists a page newest
// first with unread counts, and searches by sender, subject and text, on
// SQLite and PostgreSQL.
func TestSummariesAndSearch(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		accts := account.NewService(st)
		if _, err := accts.CreateStructure(ctx, "Clinique", ""); err != nil {
			t.Fatal(err)
		}
		jean, err := accts.Create(ctx, account.NewAccount{Structure: "Clinique", Kind: account.PER, Login: "jean@web.test",
			FirstName: "Jean", LastName: "Dupont"})
		if err != nil {
			t.Fatal(err)
		}
		other, err := accts.Create(ctx, account.NewAccount{Structure: "Clinique", Kind: account.PER, Login: "other@web.test",
			FirstName: "Autre", LastName: "Personne"})
		if err != nil {
			t.Fatal(err)
		}
		inbox, _ := mailbox.FolderByName(ctx, st, jean.ID, mailbox.Inbox)
		otherInbox, _ := mailbox.FolderByName(ctx, st, other.ID, mailbox.Inbox)
		base := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
		put := func(folder int64, i int, from, subject, text string, seen bool) {
			msg := "From: " + mime.QEncoding.Encode("utf-8", from) + " <exp" + string(rune('a'+i%26)) + "@web.test>\r\nTo: jean@web.test\r\nSubject: " +
				mime.QEncoding.Encode("utf-8", subject) + "\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text + "\r\n"
			var flags []string
			if seen {
				flags = []string{mailbox.FlagSeen}
			}
			err := st.Tx(ctx, func(tx *store.Tx) error {
				_, err := mailbox.AppendMessage(ctx, tx, folder, []byte(msg), flags, base.Add(time.Duration(i)*time.Hour))
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		for i := 0; i < 60; i++ {
			put(inbox.ID, i, "Expéditeur", "Message numéro "+itoa(i), "contenu ordinaire", i%3 != 0)
		}
		put(inbox.ID, 100, "Hélène Martin", "Résultats d'analyse", "Glycémie à jeun normale", false)
		put(otherInbox.ID, 101, "Hélène Martin", "Résultats pour autre", "glycémie", false)

		counts, err := mailview.FolderCounts(ctx, st, jean.ID)
		if err != nil || counts[inbox.ID] != (mailview.Counts{Total: 61, Unread: 21}) {
			t.Fatalf("counts %v %v", counts, err)
		}
		page, err := mailview.FolderPage(ctx, st, inbox.ID, 0, 50)
		if err != nil || len(page) != 50 {
			t.Fatalf("page %d %v", len(page), err)
		}
		if page[0].Subject != "Résultats d'analyse" || page[0].From() != "Hélène Martin" || page[0].Seen {
			t.Errorf("first row %+v", page[0])
		}
		if page[1].Subject != "Message numéro 59" || !page[1].Date.After(page[2].Date) {
			t.Errorf("order: %q %v %v", page[1].Subject, page[1].Date, page[2].Date)
		}
		last, err := mailview.FolderPage(ctx, st, inbox.ID, 50, 50)
		if err != nil || len(last) != 11 || last[10].Subject != "Message numéro 0" {
			t.Fatalf("last page %d %v", len(last), err)
		}
		// The summaries were stored on the way.
		var stored int
		st.QueryRow(ctx, `SELECT COUNT(*) FROM mail_summaries`).Scan(&stored)
		if stored != 61 {
			t.Errorf("%d summaries stored", stored)
		}
		for _, c := range []struct {
			q, in string
			want  int
		}{
			{"hélène", mailview.InAll, 1}, {"HÉLÈNE", mailview.InFrom, 1}, {"analyse", mailview.InSubject, 1},
			{"analyse", mailview.InText, 0}, {"glycémie", mailview.InText, 1}, {"numéro 5", mailview.InAll, 11},
			{"100%", mailview.InAll, 0}, {"_", mailview.InAll, 0}, {"", mailview.InAll, 0},
		} {
			rows, err := mailview.Search(ctx, st, jean.ID, c.q, c.in, 200)
			if err != nil {
				t.Fatal(err)
			}
			if len(rows) != c.want {
				t.Errorf("search %q in %q: %d results, want %d", c.q, c.in, len(rows), c.want)
			}
			for _, r := range rows {
				if r.FolderID == otherInbox.ID {
					t.Errorf("search %q found another account's message", c.q)
				}
			}
		}
		// Expunging a message drops its summary with it.
		err = st.Tx(ctx, func(tx *store.Tx) error {
			_, err := mailbox.Remove(ctx, tx, inbox.ID, []uint32{page[0].UID})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		st.QueryRow(ctx, `SELECT COUNT(*) FROM mail_summaries WHERE message_id = ?`, page[0].MessageID).Scan(&stored)
		if stored != 0 {
			t.Error("summary outlived its message")
		}
	})
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestFolderCounts checks that the counts kept by triggers follow every
// operation on entries (append, flags, copy, move, expunge, INBOX rename,
// folder deletion), on SQLite and PostgreSQL.
func TestFolderCounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		accts := account.NewService(st)
		if _, err := accts.CreateStructure(ctx, "Clinique", ""); err != nil {
			t.Fatal(err)
		}
		a, err := accts.Create(ctx, account.NewAccount{Structure: "Clinique", Kind: account.MED, Login: "a@web.test", FirstName: "A", LastName: "B"})
		if err != nil {
			t.Fatal(err)
		}
		inbox, _ := mailbox.FolderByName(ctx, st, a.ID, mailbox.Inbox)
		trash, _ := mailbox.FolderByName(ctx, st, a.ID, mailbox.Trash)
		check := func(what string) {
			t.Helper()
			counts, err := mailview.FolderCounts(ctx, st, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := st.Query(ctx, `SELECT b.id, COUNT(e.uid), COALESCE(SUM(CASE WHEN e.seen = 0 THEN 1 ELSE 0 END), 0)
				FROM mailboxes b LEFT JOIN entries e ON e.mailbox_id = b.id WHERE b.account_id = ? GROUP BY b.id`, a.ID)
			if err != nil {
				t.Fatal(err)
			}
			defer rows.Close()
			n := 0
			for rows.Next() {
				var id int64
				var c mailview.Counts
				if err := rows.Scan(&id, &c.Total, &c.Unread); err != nil {
					t.Fatal(err)
				}
				n++
				if counts[id] != c {
					t.Errorf("%s: folder %d counted %+v, has %+v", what, id, counts[id], c)
				}
			}
			if n != len(counts) {
				t.Errorf("%s: %d folders, %d counted", what, n, len(counts))
			}
		}
		tx := func(fn func(tx *store.Tx) error) {
			t.Helper()
			if err := st.Tx(ctx, fn); err != nil {
				t.Fatal(err)
			}
		}
		tx(func(tx *store.Tx) error {
			for i := 0; i < 6; i++ {
				var flags []string
				if i%2 == 0 {
					flags = []string{mailbox.FlagSeen}
				}
				if _, err := mailbox.AppendMessage(ctx, tx, inbox.ID, []byte("Subject: x\r\n\r\ny\r\n"), flags, time.Now()); err != nil {
					return err
				}
			}
			return nil
		})
		check("append")
		tx(func(tx *store.Tx) error {
			_, err := mailbox.StoreFlags(ctx, tx, inbox.ID, []uint32{1, 2}, mailbox.FlagsAdd, []string{mailbox.FlagSeen, mailbox.FlagDeleted})
			return err
		})
		check("flags")
		tx(func(tx *store.Tx) error {
			_, _, err := mailbox.Copy(ctx, tx, inbox.ID, []uint32{3, 4}, trash.ID)
			return err
		})
		check("copy")
		tx(func(tx *store.Tx) error {
			_, _, err := mailbox.Move(ctx, tx, inbox.ID, []uint32{5, 6}, trash.ID)
			return err
		})
		check("move")
		tx(func(tx *store.Tx) error {
			_, err := mailbox.Expunge(ctx, tx, inbox.ID, nil)
			return err
		})
		check("expunge")
		tx(func(tx *store.Tx) error { return mailbox.RenameFolder(ctx, tx, a.ID, mailbox.Inbox, "Archives") })
		check("rename INBOX")
		tx(func(tx *store.Tx) error { return mailbox.DeleteFolder(ctx, tx, a.ID, "Archives") })
		check("delete folder")
		tx(func(tx *store.Tx) error {
			_, err := mailbox.Remove(ctx, tx, trash.ID, []uint32{1})
			return err
		})
		check("remove")
	})
}

package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hygie-sante/hygie/internal/account"
	bt "github.com/hygie-sante/hygie/internal/browsertest"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store/storetest"
	"github.com/hygie-sante/hygie/internal/trust"
)

// mailPeople are the accounts of the webmail tests.
type mailPeople struct {
	jean, marie, marc, sophie, cardio *account.Account
}

// mailTestNode starts a node whose trust space knows another operator
// (autre-operateur.test), with: Jean Dupont (PER), Marie Curie (PER), Marc
// Masque (PER, invisible in the directory), Sophie Secrétaire (MED), and
// the box « Service de cardiologie » whose only member is Jean.
func mailTestNode(t *testing.T) (*testNode, string, mailPeople) {
	t.Helper()
	ca, err := trust.NewTestCA("Test IGC")
	if err != nil {
		t.Fatal(err)
	}
	dn := pkix.Name{CommonName: "mx.web.test"}
	whitelist := writeWhitelist(t, map[string]pkix.Name{"web.test": dn,
		"autre-operateur.test": {CommonName: "mx.autre-operateur.test"}})
	n := startNode(t, nodeSpec{Hostname: "mx.web.test", Domains: []string{"web.test"}, Issuer: ca, DN: dn,
		CABundle: writeCABundle(t, ca), Whitelist: whitelist, Database: storetest.SQLite(t)})
	ctx := context.Background()
	var p mailPeople
	p.jean = n.addPerson(t, account.PER, "jean@web.test", "jean.dupont@web.test", "Jean", "Dupont")
	p.marie = n.addPerson(t, account.PER, "marie@web.test", "marie.curie@web.test", "Marie", "Curie")
	p.marc = n.addPerson(t, account.PER, "marc@web.test", "marc.masque@web.test", "Marc", "Masque")
	p.sophie = n.addPerson(t, account.MED, "sophie@web.test", "", "Sophie", "Secrétaire")
	if _, err := n.St.DB.ExecContext(ctx, `UPDATE accounts SET visible_login = 0, visible_mss = 0 WHERE id = ?`, p.marc.ID); err != nil {
		t.Fatal(err)
	}
	box, err := n.Accounts.Create(ctx, account.NewAccount{Structure: "Structure mx.web.test", Kind: account.ORG,
		Login: "cardio@web.test", MSS: "cardiologie@web.test", Label: "Service de cardiologie"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Accounts.AddMember(ctx, box.Login, p.jean.Login); err != nil {
		t.Fatal(err)
	}
	p.cardio = box
	return n, "http://" + n.Addrs["web"], p
}

// mailClient is a person's HTTP session with the web application, for the
// access-control cases a browser cannot express (naming ids directly).
type mailClient struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func mailHTTPLogin(t *testing.T, base, login string) *mailClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	m := &mailClient{t: t, base: base, c: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
	status, body, _ := m.do("POST", "/connexion", "application/x-www-form-urlencoded",
		strings.NewReader(url.Values{"login": {login}, "password": {testPassword}}.Encode()))
	if status != 200 {
		t.Fatalf("login %s: %d", login, status)
	}
	sub := csrfRE.FindStringSubmatch(body)
	if sub == nil {
		t.Fatalf("login %s: no CSRF token in %s", login, body)
	}
	m.csrf = sub[1]
	return m
}

func (m *mailClient) do(method, path, ctype string, body io.Reader) (int, string, http.Header) {
	m.t.Helper()
	req, err := http.NewRequest(method, m.base+path, body)
	if err != nil {
		m.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	res, err := m.c.Do(req)
	if err != nil {
		m.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

func (m *mailClient) get(path string) (int, string, http.Header) {
	m.t.Helper()
	return m.do("GET", path, "", nil)
}

func (m *mailClient) post(path string, v url.Values) (int, string) {
	m.t.Helper()
	v.Set("csrf", m.csrf)
	status, body, _ := m.do("POST", path, "application/x-www-form-urlencoded", strings.NewReader(v.Encode()))
	return status, body
}

// mailFile is a file to upload.
type mailFile struct {
	name string
	data []byte
}

// send posts the compose form.
func (m *mailClient) send(acct int64, v url.Values, files ...mailFile) (int, string) {
	m.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	v.Set("csrf", m.csrf)
	if v.Get("action") == "" {
		v.Set("action", "envoyer")
	}
	for k, vals := range v {
		for _, x := range vals {
			mw.WriteField(k, x)
		}
	}
	for _, f := range files {
		w, _ := mw.CreateFormFile("files", f.name)
		w.Write(f.data)
	}
	mw.Close()
	status, body, _ := m.do("POST", fmt.Sprintf("/a/%d/mail/envoyer", acct), mw.FormDataContentType(), &b)
	return status, body
}

// mailRef finds the "folder/uid" of the message with subject in a list page.
func mailRef(t *testing.T, page string, acct int64, subject string) string {
	t.Helper()
	re := regexp.MustCompile(fmt.Sprintf(`href="/a/%d/mail/(?:lire/|nouveau\?brouillon=)(\d+/\d+)">%s<`, acct, regexp.QuoteMeta(subject)))
	sub := re.FindStringSubmatch(page)
	if sub == nil {
		t.Fatalf("no message %q in:\n%s", subject, page)
	}
	return sub[1]
}

// mailXDM builds an IHE XDM zip.
func mailXDM(t *testing.T) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, name := range []string{"IHE_XDM/SUBSET01/METADATA.XML", "IHE_XDM/SUBSET01/CR_BIOLOGIE.XML", "IHE_XDM/SUBSET01/CR_BIOLOGIE.PDF", "INDEX.HTM"} {
		w, _ := zw.Create(name)
		io.WriteString(w, "contenu de "+name)
	}
	zw.Close()
	return b.Bytes()
}

// mailFolderCount counts the messages of an account's folder.
func mailFolderCount(t *testing.T, n *testNode, acct int64, folder string) int {
	t.Helper()
	var c int
	if err := n.St.QueryRow(context.Background(), `SELECT COUNT(*) FROM entries e JOIN mailboxes b ON b.id = e.mailbox_id
		WHERE b.account_id = ? AND b.name = ?`, acct, folder).Scan(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWebMailHTTP sends, reads, downloads, searches, saves drafts and
// deletes over HTTP, and checks that nobody reaches another account's
// messages, attachments or folders by naming their ids (404), nor a box's
// without being a member; and the French refusals of the routing rules.
func TestWebMailHTTP(t *testing.T) {
	n, base, p := mailTestNode(t)
	jean := mailHTTPLogin(t, base, "jean@web.test")
	marie := mailHTTPLogin(t, base, "marie@web.test")
	pdf := append([]byte("%PDF-1.4\n"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 5000)...)
	xdm := mailXDM(t)

	// Marie writes to Jean with a PDF and an XDM package.
	status, body := marie.send(p.marie.ID, url.Values{"to": {"Jean Dupont <jean@web.test>"}, "subject": {"Compte rendu"},
		"body": {"Bonjour Jean,\nvoici le compte rendu de biologie."}},
		mailFile{"compte-rendu.pdf", pdf}, mailFile{"IHE_XDM.zip", xdm})
	if status != 200 || !strings.Contains(body, "Message envoyé") {
		t.Fatalf("send: %d %s", status, body)
	}
	if mailFolderCount(t, n, p.marie.ID, mailbox.Sent) != 1 {
		t.Error("no copy in Marie's Sent folder")
	}
	// Jean's inbox: the message, unread, and the unread count.
	status, page, _ := jean.get(fmt.Sprintf("/a/%d/mail/", p.jean.ID))
	if status != 200 || !strings.Contains(page, `class="msg unread"`) || !strings.Contains(page, `(1)</span>`) {
		t.Fatalf("inbox %d:\n%s", status, page)
	}
	ref := mailRef(t, page, p.jean.ID, "Compte rendu")
	status, page, _ = jean.get(fmt.Sprintf("/a/%d/mail/lire/%s", p.jean.ID, ref))
	for _, want := range []string{"Marie Curie &lt;marie.curie@web.test&gt;", "Jean Dupont &lt;jean@web.test&gt;", "voici le compte rendu de biologie",
		"compte-rendu.pdf", "IHE_XDM.zip", "CR_BIOLOGIE.XML", "CR_BIOLOGIE.PDF", "IHE_XDM/SUBSET01/METADATA.XML"} {
		if !strings.Contains(page, want) {
			t.Errorf("read page lacks %q", want)
		}
	}
	if status != 200 {
		t.Fatalf("read: %d", status)
	}
	// Read: no longer unread.
	if _, page, _ = jean.get(fmt.Sprintf("/a/%d/mail/", p.jean.ID)); strings.Contains(page, "unread") {
		t.Error("still unread after reading")
	}
	// Downloads, intact.
	for part, want := range map[string][]byte{"2": pdf, "3": xdm} {
		status, got, h := jean.get(fmt.Sprintf("/a/%d/mail/piece/%s/%s", p.jean.ID, ref, part))
		if status != 200 || got != string(want) {
			t.Errorf("part %s: %d, %d bytes", part, status, len(got))
		}
		if !strings.HasPrefix(h.Get("Content-Disposition"), "attachment;") || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("part %s headers: %v", part, h)
		}
	}
	if _, _, h := jean.get(fmt.Sprintf("/a/%d/mail/piece/%s/3", p.jean.ID, ref)); h.Get("Content-Disposition") != `attachment; filename=IHE_XDM.zip` {
		t.Errorf("disposition %q", h.Get("Content-Disposition"))
	}

	// Marie cannot reach Jean's message by its ids, whatever she tries.
	folder := strings.Split(ref, "/")[0]
	for _, path := range []string{
		fmt.Sprintf("/a/%d/mail/", p.jean.ID),
		fmt.Sprintf("/a/%d/mail/lire/%s", p.jean.ID, ref),
		fmt.Sprintf("/a/%d/mail/lire/%s", p.marie.ID, ref),
		fmt.Sprintf("/a/%d/mail/html/%s", p.marie.ID, ref),
		fmt.Sprintf("/a/%d/mail/piece/%s/2", p.marie.ID, ref),
		fmt.Sprintf("/a/%d/mail/piece/%s/2", p.jean.ID, ref),
		fmt.Sprintf("/a/%d/mail/?dossier=%s", p.marie.ID, folder),
		fmt.Sprintf("/a/%d/mail/nouveau?mode=transferer&src=%s", p.marie.ID, ref),
		fmt.Sprintf("/a/%d/mail/nouveau?brouillon=%s", p.marie.ID, ref),
		fmt.Sprintf("/a/%d/mail/annuaire?q=mar", p.jean.ID),
	} {
		if status, body, _ := marie.get(path); status != 404 || strings.Contains(body, "compte rendu de biologie") {
			t.Errorf("Marie GET %s: %d", path, status)
		}
	}
	for _, acct := range []int64{p.marie.ID, p.jean.ID} {
		if status, _ := marie.post(fmt.Sprintf("/a/%d/mail/supprimer", acct), url.Values{"dossier": {folder}, "uid": {strings.Split(ref, "/")[1]}}); status != 404 {
			t.Errorf("Marie deletes Jean's message as %d: %d", acct, status)
		}
	}
	// Forwarding « her » copy of Jean's attachment gets nothing.
	status, body = marie.send(p.marie.ID, url.Values{"to": {"marie@web.test"}, "subject": {"Vol"}, "body": {"x"},
		"source": {ref}, "garder": {"2"}})
	if status != 200 {
		t.Fatalf("send: %d %s", status, body)
	}
	for _, b := range n.inbox(t, p.marie.ID) {
		if strings.Contains(b, "compte-rendu.pdf") {
			t.Error("Marie obtained Jean's attachment")
		}
	}
	if mailFolderCount(t, n, p.jean.ID, mailbox.Inbox) != 1 {
		t.Error("Jean's message moved")
	}

	// The box: Jean (member) reads it, Marie does not.
	if status, body = marie.send(p.marie.ID, url.Values{"to": {"cardiologie@web.test"}, "subject": {"Pour le service"}, "body": {"Avis"}}); status != 200 {
		t.Fatalf("send to box: %d", status)
	}
	status, page, _ = jean.get(fmt.Sprintf("/a/%d/mail/", p.cardio.ID))
	if status != 200 || !strings.Contains(page, "Pour le service") {
		t.Fatalf("box inbox %d", status)
	}
	boxRef := mailRef(t, page, p.cardio.ID, "Pour le service")
	if status, _, _ := jean.get(fmt.Sprintf("/a/%d/mail/lire/%s", p.cardio.ID, boxRef)); status != 200 {
		t.Errorf("member reads box message: %d", status)
	}
	for _, path := range []string{fmt.Sprintf("/a/%d/mail/", p.cardio.ID), fmt.Sprintf("/a/%d/mail/lire/%s", p.cardio.ID, boxRef),
		fmt.Sprintf("/a/%d/mail/lire/%s", p.marie.ID, boxRef)} {
		if status, _, _ := marie.get(path); status != 404 {
			t.Errorf("non-member GET %s: %d", path, status)
		}
	}
	// Jean answers as the box: From is the box's MSSanté address.
	if status, body = jean.send(p.cardio.ID, url.Values{"to": {"marie@web.test"}, "subject": {"RE: Pour le service"},
		"body": {"Avis favorable"}, "repond": {boxRef}}); status != 200 {
		t.Fatalf("send as box: %d %s", status, body)
	}
	if in := n.inbox(t, p.marie.ID); !strings.Contains(in[len(in)-1], "From: \"Service de cardiologie\" <cardiologie@web.test>") {
		t.Errorf("reply as box:\n%s", in[len(in)-1])
	}
	if _, page, _ = jean.get(fmt.Sprintf("/a/%d/mail/", p.cardio.ID)); !strings.Contains(page, `title="Répondu"`) {
		t.Error("box message not marked answered")
	}

	// The autocomplete: visible addresses only, never a disabled account.
	martine := n.addPerson(t, account.PER, "martine@web.test", "martine.partie@web.test", "Martine", "Partie")
	if err := n.Accounts.SetDisabled(context.Background(), martine.Login, true); err != nil {
		t.Fatal(err)
	}
	if _, err := n.St.DB.ExecContext(context.Background(), `UPDATE accounts SET visible_login = 0 WHERE id = ?`, p.marie.ID); err != nil {
		t.Fatal(err)
	}
	status, body, _ = jean.get(fmt.Sprintf("/a/%d/mail/annuaire?q=mar", p.jean.ID))
	if status != 200 || body != `[{"name":"Marie Curie","address":"marie.curie@web.test"}]`+"\n" {
		t.Errorf("autocomplete: %d %s", status, body)
	}
	if _, body, _ = jean.get(fmt.Sprintf("/a/%d/mail/annuaire?q=service", p.cardio.ID)); !strings.Contains(body, `"address":"cardio@web.test"`) {
		t.Errorf("autocomplete of boxes: %s", body)
	}

	// Routing refusals, in French, next to the field.
	sophie := mailHTTPLogin(t, base, "sophie@web.test")
	status, body = sophie.send(p.sophie.ID, url.Values{"to": {"dr.house@autre-operateur.test"}, "subject": {"x"}, "body": {"x"}})
	if status != 422 || !strings.Contains(body, "Un compte Hygie (MED) ne peut écrire qu&#39;aux utilisateurs de Hygie : dr.house@autre-operateur.test est chez un autre opérateur MSSanté") {
		t.Errorf("MED refusal: %d\n%s", status, body)
	}
	for rcpt, want := range map[string]string{
		"quelquun@gmail.example": "quelquun@gmail.example n&#39;appartient pas à l&#39;espace de confiance MSSanté",
		"inconnu@web.test":       "Adresse inconnue",
		"pas une adresse":        "Adresse invalide",
	} {
		status, body = jean.send(p.jean.ID, url.Values{"to": {"marie@web.test"}, "cc": {rcpt}, "subject": {"x"}, "body": {"x"}})
		if status != 422 || !strings.Contains(body, want) || !strings.Contains(body, `<div id="cc-error"><p class="error"`) {
			t.Errorf("refusal of %s: %d\n%s", rcpt, status, body)
		}
	}
	// Sophie writes within the platform.
	if status, _ = sophie.send(p.sophie.ID, url.Values{"to": {"jean@web.test"}, "subject": {"Planning"}, "body": {"ok"}}); status != 200 {
		t.Errorf("MED within the platform: %d", status)
	}

	// Too big: the SMTP limit (20 MiB by default), in French.
	status, body = jean.send(p.jean.ID, url.Values{"to": {"marie@web.test"}, "subject": {"Gros"}, "body": {"x"}},
		mailFile{"scanner.bin", make([]byte, 22<<20)})
	if status != 413 || !strings.Contains(body, "dépasse la taille maximale autorisée") {
		t.Errorf("too big upload: %d", status)
	}
	status, body = jean.send(p.jean.ID, url.Values{"to": {"marie@web.test"}, "subject": {"Gros encodé"}, "body": {"x"}},
		mailFile{"irm.bin", make([]byte, 16<<20)})
	if status != 413 || !strings.Contains(body, "dépasse la taille maximale autorisée") || !strings.Contains(body, `<div id="files-error"><p class="error"`) {
		t.Errorf("too big once encoded: %d", status)
	}

	// Drafts: saved with what was typed and a file, reopened, sent, gone.
	status, page = jean.send(p.jean.ID, url.Values{"action": {"brouillon"}, "to": {"marie@web.test, pas fini"}, "subject": {"Brouillon d'avis"},
		"body": {"Première version"}}, mailFile{"ecg.pdf", []byte("%PDF ecg")})
	if status != 200 || !strings.Contains(page, "Brouillon enregistré") || !strings.Contains(page, `value="marie@web.test, pas fini"`) ||
		!strings.Contains(page, "ecg.pdf") || !strings.Contains(page, "Première version") {
		t.Fatalf("draft saved: %d\n%s", status, page)
	}
	_, drafts, _ := jean.get(fmt.Sprintf("/a/%d/mail/?dossier=%d", p.jean.ID, mailFolderID(t, n, p.jean.ID, mailbox.Drafts)))
	draftRef := mailRef(t, drafts, p.jean.ID, "Brouillon d&#39;avis")
	status, page = jean.send(p.jean.ID, url.Values{"brouillon": {draftRef}, "source": {draftRef}, "garder": {"2"},
		"to": {"marie@web.test"}, "subject": {"Avis final"}, "body": {"Version finale"}})
	if status != 200 || !strings.Contains(page, "Message envoyé") {
		t.Fatalf("send draft: %d %s", status, page)
	}
	if c := mailFolderCount(t, n, p.jean.ID, mailbox.Drafts); c != 0 {
		t.Errorf("%d drafts left after sending", c)
	}
	if in := n.inbox(t, p.marie.ID); !strings.Contains(in[len(in)-1], "ecg.pdf") || !strings.Contains(in[len(in)-1], "Version finale") {
		t.Errorf("sent draft:\n%s", in[len(in)-1])
	}

	// Search by sender, subject and text, within Jean's folders only.
	for q, want := range map[string]string{"marie": "Compte rendu", "planning": "Planning", "biologie": "Compte rendu"} {
		if _, page, _ := jean.get(fmt.Sprintf("/a/%d/mail/recherche?q=%s", p.jean.ID, q)); !strings.Contains(page, ">"+want+"<") {
			t.Errorf("search %q finds nothing", q)
		}
	}
	if _, page, _ := marie.get(fmt.Sprintf("/a/%d/mail/recherche?q=planning", p.marie.ID)); strings.Contains(page, ">Planning<") {
		t.Error("Marie's search found Jean's message")
	}

	// « Supprimer »: to the Trash, then for good.
	uid := strings.Split(ref, "/")[1]
	if status, page = jean.post(fmt.Sprintf("/a/%d/mail/supprimer", p.jean.ID), url.Values{"dossier": {folder}, "uid": {uid}}); status != 200 ||
		!strings.Contains(page, "Message déplacé dans la corbeille") {
		t.Fatalf("delete: %d", status)
	}
	trash := mailFolderID(t, n, p.jean.ID, mailbox.Trash)
	_, page, _ = jean.get(fmt.Sprintf("/a/%d/mail/?dossier=%d", p.jean.ID, trash))
	trashRef := mailRef(t, page, p.jean.ID, "Compte rendu")
	if status, _ = marie.post(fmt.Sprintf("/a/%d/mail/supprimer", p.marie.ID), url.Values{"dossier": {fmt.Sprint(trash)}, "uid": {strings.Split(trashRef, "/")[1]}}); status != 404 {
		t.Errorf("Marie empties Jean's trash: %d", status)
	}
	if status, page = jean.post(fmt.Sprintf("/a/%d/mail/supprimer", p.jean.ID), url.Values{"dossier": {fmt.Sprint(trash)}, "uid": {strings.Split(trashRef, "/")[1]}}); status != 200 ||
		!strings.Contains(page, "Message supprimé définitivement") {
		t.Fatalf("delete for good: %d", status)
	}
	if mailFolderCount(t, n, p.jean.ID, mailbox.Trash) != 0 {
		t.Error("trash not emptied")
	}
}

func mailFolderID(t *testing.T, n *testNode, acct int64, name string) int64 {
	t.Helper()
	id, err := mailbox.ID(context.Background(), n.St, acct, name)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// mailWait polls a JavaScript condition in the page until it holds.
func mailWait(t *testing.T, ctx context.Context, what, cond string) {
	t.Helper()
	bt.Do(t, ctx, what, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(15*time.Second), chromedp.WithPollingInterval(50*time.Millisecond)))
}

// mailEval evaluates a JavaScript expression (a promise is awaited).
func mailEval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	return bt.Get(t, ctx, expr, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// TestWebMailBrowser drives the webmail in Chromium as people would: Jean
// writes to Marie with the recipient autocomplete (a visible person shows,
// an invisible one never does), his default signature already in the body,
// and a file; Marie sees it unread with the unread count, opens it,
// downloads the file and replies. An HTML mail with a script and remote
// images runs nothing and loads nothing. A MED account writing to another
// operator gets the French refusal.
func TestWebMailBrowser(t *testing.T) {
	n, base, p := mailTestNode(t)
	ctx := context.Background()
	if _, err := n.St.DB.ExecContext(ctx, `INSERT INTO signatures (account_id, label, html, is_default, created_at) VALUES (?, ?, ?, 1, ?)`,
		p.jean.ID, "Cabinet", `<p><b>Dr Jean Dupont</b><br>Cardiologue</p>`, time.Now().Unix()); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "analyse-sanguine.txt")
	if err := os.WriteFile(file, []byte("Hémoglobine : 14 g/dL\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// Jean: « Nouveau message ».
	jean := bt.New(t)
	login(t, jean, base, "jean@web.test", testPassword)
	bt.Do(t, jean, "inbox", bt.WaitVisible("#compose"), bt.Click("#compose"), bt.WaitVisible("#to"))
	if body := bt.Value(t, jean, "#body"); body != "\n\n-- \nDr Jean Dupont\nCardiologue" {
		t.Fatalf("compose body = %q, want the default signature", body)
	}
	bt.Do(t, jean, "type a recipient", bt.Fill("#to", "Ma"), bt.WaitVisible("#to-ac li"))
	suggestions := mailEval[[]string](t, jean, `[...document.querySelectorAll("#to-ac li")].map(li => li.textContent)`)
	if !slices.Contains(suggestions, "Marie Curie <marie@web.test>") || !slices.Contains(suggestions, "Marie Curie <marie.curie@web.test>") {
		t.Errorf("suggestions %q", suggestions)
	}
	for _, s := range suggestions {
		if strings.Contains(s, "Marc") || strings.Contains(s, "marc") {
			t.Errorf("invisible account suggested: %q", s)
		}
	}
	// Even typed in full, the invisible address is not suggested.
	if got := mailEval[[]map[string]string](t, jean, fmt.Sprintf(`fetch("/a/%d/mail/annuaire?q=marc").then(r => r.json())`, p.jean.ID)); len(got) != 0 {
		t.Errorf("directory answers %v for an invisible account", got)
	}
	bt.Do(t, jean, "choose Marie", bt.Click(`#to-ac li[data-address="marie@web.test"]`))
	if to := bt.Value(t, jean, "#to"); to != "marie@web.test, " {
		t.Fatalf("to = %q", to)
	}
	bt.Do(t, jean, "write",
		bt.Fill("#subject", "Résultats de biologie"),
		bt.JS(`(() => { const b = document.querySelector("#body"); b.focus(); b.setSelectionRange(0, 0); return true })()`),
		chromedp.KeyEvent("Bonjour Marie,\nvoici les résultats."),
		chromedp.SetUploadFiles(chromedp.CSS("#files"), []string{file}),
		bt.Click("#send"),
		bt.WaitVisible(".flash"),
	)
	if f := bt.Text(t, jean, ".flash"); f != "Message envoyé." {
		t.Fatalf("flash %q", f)
	}

	// Marie: unread, counted; opens it, downloads the file, replies.
	marie := bt.New(t)
	login(t, marie, base, "marie@web.test", testPassword)
	bt.Do(t, marie, "inbox", bt.WaitVisible("tr.msg.unread"))
	if c := bt.Text(t, marie, `a[data-folder="INBOX"] .unread-count`); c != "(1)" {
		t.Errorf("unread count %q", c)
	}
	if s := bt.Text(t, marie, "tr.msg.unread td.subject a"); s != "Résultats de biologie" {
		t.Errorf("unread row %q", s)
	}
	bt.Do(t, marie, "open", bt.Click("tr.msg.unread td.subject a"), bt.WaitVisible("#subject"))
	if from := bt.Text(t, marie, "#from"); from != "Jean Dupont <jean.dupont@web.test>" {
		t.Errorf("from %q", from)
	}
	// The signature went as rich text: the body is HTML, in the frame.
	bt.Do(t, marie, "html body", bt.WaitVisible("iframe#mail-html"))
	// The opening was reported to the pipeline (opening notifications).
	var opened int
	if err := n.St.QueryRow(ctx, `SELECT COUNT(*) FROM openings WHERE account_id = ?`, p.marie.ID).Scan(&opened); err != nil || opened != 1 {
		t.Errorf("openings of Marie: %d %v", opened, err)
	}
	got := mailEval[map[string]string](t, marie, `(async () => {
		const a = document.querySelector("a.attachment");
		const r = await fetch(a.href);
		return {name: a.textContent, body: await r.text(), disposition: r.headers.get("Content-Disposition"), nosniff: r.headers.get("X-Content-Type-Options")};
	})()`)
	if got["name"] != "analyse-sanguine.txt" || got["body"] != "Hémoglobine : 14 g/dL\n" ||
		got["disposition"] != "attachment; filename=analyse-sanguine.txt" || got["nosniff"] != "nosniff" {
		t.Errorf("download %q", got)
	}
	bt.Do(t, marie, "back to the inbox", chromedp.Navigate(fmt.Sprintf("%s/a/%d/mail/", base, p.marie.ID)), bt.WaitVisible("tr.msg"))
	if unread := mailEval[int](t, marie, `document.querySelectorAll("tr.msg.unread").length`); unread != 0 {
		t.Errorf("%d unread after opening", unread)
	}
	bt.Do(t, marie, "reply", bt.Click("tr.msg td.subject a"), bt.WaitVisible("#reply"), bt.Click("#reply"), bt.WaitVisible("#to"))
	if to, subj := bt.Value(t, marie, "#to"), bt.Value(t, marie, "#subject"); to != "Jean Dupont <jean.dupont@web.test>" || subj != "RE: Résultats de biologie" {
		t.Errorf("reply to %q subject %q", to, subj)
	}
	if body := bt.Value(t, marie, "#body"); !strings.Contains(body, "a écrit :\n> Bonjour Marie,\n> voici les résultats.") {
		t.Errorf("reply body %q", body)
	}
	bt.Do(t, marie, "send the reply",
		bt.JS(`(() => { const b = document.querySelector("#body"); b.focus(); b.setSelectionRange(0, 0); return true })()`),
		chromedp.KeyEvent("Merci, bien reçu."),
		bt.Click("#send"), bt.WaitVisible(".flash"))
	bt.Do(t, jean, "Jean's inbox", chromedp.Navigate(base+"/"), bt.WaitVisible("tr.msg.unread"))
	if s := bt.Text(t, jean, "tr.msg.unread td.subject a"); s != "RE: Résultats de biologie" {
		t.Errorf("Jean sees %q", s)
	}

	// A hostile HTML mail from another operator.
	var hits atomic.Int32
	remote := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		t.Logf("remote host requested: %s", r.URL)
	}))
	defer remote.Close()
	hostile := "From: Pirate <pirate@autre-operateur.test>\r\nTo: jean@web.test\r\nSubject: Facture\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n\r\n" +
		`<html><head><style>body{background:url(` + remote.URL + `/css.png)}</style><script>window.hygiePwned = 1; fetch("` + remote.URL + `/script")</script></head>` +
		`<body><p>Votre facture</p><img src="` + remote.URL + `/pixel.png" alt="pixel">` +
		`<img src="x" onerror="window.hygiePwned = 2; new Image().src='` + remote.URL + `/onerror'">` +
		`<iframe src="` + remote.URL + `/frame"></iframe><svg onload="window.hygiePwned = 3"></svg>` +
		`<a href="javascript:window.hygiePwned=4">lien</a></body></html>` + "\r\n"
	if _, err := n.Pipeline.Deliver(ctx, mail.Envelope{Source: mail.SourceMX, From: "pirate@autre-operateur.test",
		Recipients: []mail.Destination{{Address: "jean@web.test", Local: p.jean}}}, []byte(hostile)); err != nil {
		t.Fatal(err)
	}
	bt.Do(t, jean, "open the hostile mail", chromedp.Navigate(base+"/"), bt.WaitVisible("tr.msg.unread"),
		bt.Click("tr.msg.unread td.subject a"), bt.WaitVisible("iframe#mail-html"))
	src := mailEval[string](t, jean, `document.querySelector("iframe#mail-html").src`)
	time.Sleep(time.Second)
	if v := mailEval[string](t, jean, `typeof window.hygiePwned`); v != "undefined" {
		t.Errorf("read page: hygiePwned is %s", v)
	}
	// The frame's document itself, opened on its own: no script ran in it.
	bt.Do(t, jean, "the frame's document", chromedp.Navigate(src), bt.WaitVisible("p"))
	if txt := bt.Text(t, jean, "p"); txt != "Votre facture" {
		t.Errorf("mail text %q", txt)
	}
	bt.Do(t, jean, "click the link", bt.Click("a"))
	time.Sleep(500 * time.Millisecond)
	if v := mailEval[string](t, jean, `typeof window.hygiePwned`); v != "undefined" {
		t.Errorf("mail document: hygiePwned is %s", v)
	}
	if c := hits.Load(); c != 0 {
		t.Errorf("the remote host got %d requests", c)
	}

	// Sophie (MED) writes to another operator: refused, in French.
	sophie := bt.New(t)
	login(t, sophie, base, "sophie@web.test", testPassword)
	bt.Do(t, sophie, "compose", bt.WaitVisible("#compose"), bt.Click("#compose"), bt.WaitVisible("#to"),
		bt.Fill("#to", "dr.house@autre-operateur.test"), bt.Fill("#subject", "Patient commun"),
		bt.Click("#send"), bt.WaitVisible("#to-error .error"))
	want := "Un compte Hygie (MED) ne peut écrire qu'aux utilisateurs de Hygie : dr.house@autre-operateur.test est chez un autre opérateur MSSanté. " +
		"Demandez à un compte Personnel ou organisationnel de l'envoyer (délégation)."
	if msg := bt.Text(t, sophie, "#to-error .error"); msg != want {
		t.Errorf("MED refusal %q", msg)
	}
	if v := bt.Value(t, sophie, "#subject"); v != "Patient commun" {
		t.Errorf("subject lost: %q", v)
	}
}

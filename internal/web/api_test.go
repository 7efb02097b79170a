package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/device"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// apiFixture is a web application over a fresh store with two people, Jean
// (member of the box « Secrétariat ») and Marie (member of « Comptabilité »),
// a message in each INBOX, and a paired device of Jean.
type apiFixture struct {
	t                  *testing.T
	st                 *store.Store
	app                *Server
	srv                *httptest.Server
	jean, marie        *account.Account
	secretariat, compt *account.Account
	cred               string
	dev                *device.Paired

	mu     sync.Mutex
	opened []int64 // message ids opened, by reader
}

func newAPIFixture(t *testing.T, dsn string) *apiFixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	accts := account.NewService(st)
	if _, err := accts.CreateStructure(ctx, "Clinique", ""); err != nil {
		t.Fatal(err)
	}
	f := &apiFixture{t: t, st: st}
	mk := func(n account.NewAccount) *account.Account {
		n.Structure = "Clinique"
		a, err := accts.Create(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	f.jean = mk(account.NewAccount{Kind: account.PER, Login: "jean@api.test", MSS: "jean.dupont@api.test", FirstName: "Jean", LastName: "Dupont"})
	f.marie = mk(account.NewAccount{Kind: account.PER, Login: "marie@api.test", FirstName: "Marie", LastName: "Curie"})
	f.secretariat = mk(account.NewAccount{Kind: account.ORG, Login: "secretariat@api.test", MSS: "secretariat.mss@api.test", Label: "Secrétariat"})
	f.compt = mk(account.NewAccount{Kind: account.ORG, Login: "compta@api.test", MSS: "compta.mss@api.test", Label: "Comptabilité"})
	for _, m := range [][2]string{{"secretariat@api.test", "jean@api.test"}, {"compta@api.test", "marie@api.test"}} {
		if err := accts.AddMember(ctx, m[0], m[1]); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []*account.Account{f.jean, f.marie, f.secretariat, f.compt} {
		f.appendInbox(a, "Bilan de "+a.DisplayName())
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	pl := &mail.Pipeline{St: st, Hostname: "mx.api.test", Log: log}
	pl.OnOpened = func(ctx context.Context, reader *account.Account, id int64) error {
		f.mu.Lock()
		f.opened = append(f.opened, reader.ID)
		f.mu.Unlock()
		return nil
	}
	f.app, err = New(Config{St: st, Accounts: accts, Audit: &audit.Log{St: st}, Log: log, Pipeline: pl,
		Router: &mail.Router{Accounts: accts, Domains: []string{"api.test"}}, PublicURL: "https://hygie.api.test"})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(f.app.Handler())
	t.Cleanup(f.srv.Close)
	p, err := f.app.dev.svc.StartPairing(ctx, f.jean.ID, "Téléphone de Jean")
	if err != nil {
		t.Fatal(err)
	}
	var res apiPairResponse
	f.expect("POST", "/api/v1/pair", "", map[string]string{"secret": p.Secret, "name": "Pixel"}, 201, &res)
	if res.Credential == "" || res.Account.ID != f.jean.ID || res.Device.Name != "Téléphone de Jean" {
		t.Fatalf("pair answer %+v", res)
	}
	f.cred = res.Credential
	return f
}

func (f *apiFixture) appendInbox(a *account.Account, subject string) {
	f.t.Helper()
	ctx := context.Background()
	msg := fmt.Sprintf("From: Paul Martin <paul@api.test>\r\nTo: %s\r\nSubject: %s\r\nDate: Mon, 02 Mar 2026 09:00:00 +0100\r\nMessage-ID: <%d.%s>\r\n\r\nTexte de %s.\r\n",
		a.Login, subject, time.Now().UnixNano(), a.Login, subject)
	err := f.st.Tx(ctx, func(tx *store.Tx) error {
		inbox, err := mailbox.FolderByName(ctx, tx, a.ID, mailbox.Inbox)
		if err != nil {
			return err
		}
		_, err = mailbox.AppendMessage(ctx, tx, inbox.ID, []byte(msg), nil, time.Now())
		return err
	})
	if err != nil {
		f.t.Fatal(err)
	}
}

// do calls the API with a credential ("" for none) and returns the status
// and body.
func (f *apiFixture) do(method, path, cred string, body any) (int, []byte, http.Header) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if cred != "" {
		req.Header.Set("Authorization", "Bearer "+cred)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b, res.Header
}

// expect calls the API and checks the status, decoding the body into out.
func (f *apiFixture) expect(method, path, cred string, body any, status int, out any) {
	f.t.Helper()
	got, b, _ := f.do(method, path, cred, body)
	if got != status {
		f.t.Fatalf("%s %s: %d %s, want %d", method, path, got, b, status)
	}
	if !json.Valid(b) {
		f.t.Fatalf("%s %s: not JSON: %s", method, path, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			f.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

type apiPage struct {
	Folder   apiFolderView `json:"folder"`
	Total    int           `json:"total"`
	Pages    int           `json:"pages"`
	Messages []apiSummary  `json:"messages"`
}

func (f *apiFixture) inbox(acct int64) apiPage {
	f.t.Helper()
	var p apiPage
	f.expect("GET", fmt.Sprintf("/api/v1/accounts/%d/messages", acct), f.cred, nil, 200, &p)
	return p
}

func TestAPIAuthorization(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		f := newAPIFixture(t, dsn)

		// The accounts: Jean, then his box only.
		var accts struct{ Accounts []apiAccountView }
		f.expect("GET", "/api/v1/accounts", f.cred, nil, 200, &accts)
		if len(accts.Accounts) != 2 || accts.Accounts[0].ID != f.jean.ID || accts.Accounts[1].ID != f.secretariat.ID ||
			!accts.Accounts[1].Box || accts.Accounts[0].From != "jean.dupont@api.test" {
			t.Fatalf("accounts %+v", accts)
		}

		// No, unknown or malformed credential: 401 with WWW-Authenticate.
		for _, cred := range []string{"", "hyd_unknown", "not-a-credential"} {
			code, _, h := f.do("GET", "/api/v1/accounts", cred, nil)
			if code != 401 || !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
				t.Fatalf("credential %q: %d %q", cred, code, h.Get("WWW-Authenticate"))
			}
		}

		// Own INBOX and the box's; Marie's and the other box's are 404, on
		// every endpoint.
		own := f.inbox(f.jean.ID)
		if own.Total != 1 || len(own.Messages) != 1 || own.Messages[0].Subject != "Bilan de Jean Dupont" || own.Messages[0].Seen {
			t.Fatalf("own inbox %+v", own)
		}
		box := f.inbox(f.secretariat.ID)
		if box.Total != 1 || box.Messages[0].Subject != "Bilan de Secrétariat" {
			t.Fatalf("box inbox %+v", box)
		}
		marieInbox, err := mailbox.FolderByName(context.Background(), f.st, f.marie.ID, mailbox.Inbox)
		if err != nil {
			t.Fatal(err)
		}
		for _, other := range []int64{f.marie.ID, f.compt.ID, 999999} {
			for _, p := range []string{"/folders", "/messages", fmt.Sprintf("/messages/%d/1", marieInbox.ID)} {
				f.expect("GET", fmt.Sprintf("/api/v1/accounts/%d%s", other, p), f.cred, nil, 404, nil)
			}
			f.expect("POST", fmt.Sprintf("/api/v1/accounts/%d/send", other), f.cred,
				map[string]any{"to": []string{"marie@api.test"}, "subject": "x", "body": "x"}, 404, nil)
		}
		// Marie's message through Jean's own account id: 404 too, and
		// nothing changes on it.
		for _, m := range []string{"GET", "POST"} {
			suffix := map[string]string{"GET": "", "POST": "/trash"}[m]
			f.expect(m, fmt.Sprintf("/api/v1/accounts/%d/messages/%d/1%s", f.jean.ID, marieInbox.ID, suffix), f.cred, nil, 404, nil)
		}
		// When Jean leaves the box, the box is out of reach at once.
		// (Marie joins first: the last member cannot be removed.)
		if err := account.NewService(f.st).AddMember(context.Background(), "secretariat@api.test", "marie@api.test"); err != nil {
			t.Fatal(err)
		}
		if err := account.NewService(f.st).RemoveMember(context.Background(), "secretariat@api.test", "jean@api.test"); err != nil {
			t.Fatal(err)
		}
		f.expect("GET", fmt.Sprintf("/api/v1/accounts/%d/messages", f.secretariat.ID), f.cred, nil, 404, nil)
	})
}

func TestAPIMessages(t *testing.T) {
	f := newAPIFixture(t, storetest.SQLite(t))
	for i := range 4 {
		f.appendInbox(f.jean, fmt.Sprintf("Message %d", i))
	}
	// Folders with counts.
	var fs struct{ Folders []apiFolderView }
	f.expect("GET", fmt.Sprintf("/api/v1/accounts/%d/folders", f.jean.ID), f.cred, nil, 200, &fs)
	if len(fs.Folders) != 4 || fs.Folders[0].Name != "INBOX" || fs.Folders[0].Total != 5 || fs.Folders[0].Unread != 5 {
		t.Fatalf("folders %+v", fs)
	}
	// Paging, newest first.
	var p apiPage
	f.expect("GET", fmt.Sprintf("/api/v1/accounts/%d/messages?folder=inbox&per_page=2&page=3", f.jean.ID), f.cred, nil, 200, &p)
	if p.Pages != 3 || p.Total != 5 || len(p.Messages) != 1 {
		t.Fatalf("page 3 %+v", p)
	}
	f.expect("GET", fmt.Sprintf("/api/v1/accounts/%d/messages?per_page=500", f.jean.ID), f.cred, nil, 400, nil)
	f.expect("GET", fmt.Sprintf("/api/v1/accounts/%d/messages?folder=Nope", f.jean.ID), f.cred, nil, 404, nil)
	all := f.inbox(f.jean.ID)
	first := all.Messages[0]

	// Reading marks \Seen and is an opening by Jean.
	var m apiMessageView
	f.expect("GET", fmt.Sprintf("/api/v1/accounts/%d/messages/%s", f.jean.ID, first.ID), f.cred, nil, 200, &m)
	if m.Subject != first.Subject || !strings.Contains(m.Text, "Texte de "+first.Subject) || len(m.From) != 1 || m.From[0].Address != "paul@api.test" {
		t.Fatalf("message %+v", m)
	}
	f.mu.Lock()
	opened := append([]int64(nil), f.opened...)
	f.mu.Unlock()
	if len(opened) != 1 || opened[0] != f.jean.ID {
		t.Fatalf("openings %v, want one by Jean", opened)
	}
	if got := f.inbox(f.jean.ID).Messages[0]; !got.Seen {
		t.Fatal("read message not \\Seen")
	}
	// Unread, read again.
	var seen struct{ Seen bool }
	f.expect("POST", fmt.Sprintf("/api/v1/accounts/%d/messages/%s/unread", f.jean.ID, first.ID), f.cred, nil, 200, &seen)
	if seen.Seen || f.inbox(f.jean.ID).Messages[0].Seen {
		t.Fatal("unread did not clear \\Seen")
	}
	f.expect("POST", fmt.Sprintf("/api/v1/accounts/%d/messages/%s/read", f.jean.ID, first.ID), f.cred, nil, 200, &seen)
	if !seen.Seen || !f.inbox(f.jean.ID).Messages[0].Seen {
		t.Fatal("read did not set \\Seen")
	}
	// To the Trash.
	var moved struct {
		ID       string `json:"id"`
		FolderID int64  `json:"folder_id"`
	}
	f.expect("POST", fmt.Sprintf("/api/v1/accounts/%d/messages/%s/trash", f.jean.ID, first.ID), f.cred, nil, 200, &moved)
	if f.inbox(f.jean.ID).Total != 4 {
		t.Fatal("message still in INBOX")
	}
	f.expect("GET", fmt.Sprintf("/api/v1/accounts/%d/messages/%s", f.jean.ID, first.ID), f.cred, nil, 404, nil)
	var trash apiPage
	f.expect("GET", fmt.Sprintf("/api/v1/accounts/%d/messages?folder=Trash", f.jean.ID), f.cred, nil, 200, &trash)
	if trash.Total != 1 || trash.Messages[0].ID != moved.ID {
		t.Fatalf("trash %+v, moved %+v", trash, moved)
	}
}

func TestAPISend(t *testing.T) {
	f := newAPIFixture(t, storetest.SQLite(t))
	path := fmt.Sprintf("/api/v1/accounts/%d/send", f.jean.ID)
	// Unknown local address: 422 with the enhanced code and a French reason.
	var e apiError
	f.expect("POST", path, f.cred, map[string]any{"to": []string{"personne@api.test"}, "subject": "x", "body": "x"}, 422, &e)
	if e.Code != "5.1.1" || e.Recipient != "personne@api.test" || !strings.Contains(e.Error, "Adresse inconnue") {
		t.Fatalf("refusal %+v", e)
	}
	f.expect("POST", path, f.cred, map[string]any{"to": []string{"pas une adresse"}}, 422, &e)
	f.expect("POST", path, f.cred, map[string]any{"to": []string{}}, 422, nil)
	f.expect("POST", path, f.cred, "not an object", 400, nil)

	// Sent to Marie: in her INBOX, and in Jean's Sent.
	var sent struct {
		MessageID string `json:"message_id"`
	}
	f.expect("POST", path, f.cred, map[string]any{"to": []string{"Marie Curie <marie@api.test>"}, "subject": "Compte rendu",
		"body": "Bonjour Marie,\nci-joint le compte rendu."}, 201, &sent)
	if sent.MessageID == "" {
		t.Fatal("no message id")
	}
	ctx := context.Background()
	var n int
	if err := f.st.QueryRow(ctx, `SELECT COUNT(*) FROM entries e JOIN mailboxes b ON b.id = e.mailbox_id
		WHERE b.account_id = ? AND b.name = 'INBOX'`, f.marie.ID).Scan(&n); err != nil || n != 2 {
		t.Fatalf("Marie's INBOX holds %d messages (%v), want 2", n, err)
	}
	var sentBox apiPage
	f.expect("GET", fmt.Sprintf("/api/v1/accounts/%d/messages?folder=Sent", f.jean.ID), f.cred, nil, 200, &sentBox)
	if sentBox.Total != 1 || sentBox.Messages[0].Subject != "Compte rendu" || !strings.Contains(sentBox.Messages[0].Recipients, "Marie") {
		t.Fatalf("Sent %+v", sentBox)
	}
	// As the box Jean is a member of: from the box's address.
	f.expect("POST", fmt.Sprintf("/api/v1/accounts/%d/send", f.secretariat.ID), f.cred,
		map[string]any{"to": []string{"marie@api.test"}, "subject": "Du secrétariat", "body": "x"}, 201, nil)
	var from string
	if err := f.st.QueryRow(ctx, `SELECT s.from_addr FROM mail_summaries s JOIN entries e ON e.message_id = s.message_id
		JOIN mailboxes b ON b.id = e.mailbox_id WHERE b.account_id = ? AND s.subject = 'Du secrétariat'`, f.marie.ID).Scan(&from); err != nil {
		t.Fatalf("summary of the box's message: %v", err)
	} else if from != "secretariat.mss@api.test" {
		t.Fatalf("sent from %q, want the box's MSSanté address", from)
	}
}

func TestAPIRevokeThrottleAndCrossOrigin(t *testing.T) {
	f := newAPIFixture(t, storetest.SQLite(t))
	// A POST without Origin nor Sec-Fetch-Site (a device), and one a
	// browser would mark cross-site: neither is refused as CSRF.
	msg := f.inbox(f.jean.ID).Messages[0]
	for _, site := range []string{"", "cross-site"} {
		req, _ := http.NewRequest("POST", f.srv.URL+fmt.Sprintf("/api/v1/accounts/%d/messages/%s/read", f.jean.ID, msg.ID), nil)
		req.Header.Set("Authorization", "Bearer "+f.cred)
		if site != "" {
			req.Header.Set("Sec-Fetch-Site", site)
			req.Header.Set("Origin", "https://elsewhere.example")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("POST with Sec-Fetch-Site %q: %d", site, res.StatusCode)
		}
	}

	// Throttling per credential: a second device is not affected. The
	// limiter in the database (as on PostgreSQL, shared by the nodes).
	f.app.dev.limit = device.NewSharedLimiter(f.st, 0.001, 3)
	p, err := f.app.dev.svc.StartPairing(context.Background(), f.jean.ID, "Tablette")
	if err != nil {
		t.Fatal(err)
	}
	var other apiPairResponse
	f.expect("POST", "/api/v1/pair", "", map[string]string{"secret": p.Secret}, 201, &other)
	for range 3 {
		f.expect("GET", "/api/v1/accounts", f.cred, nil, 200, nil)
	}
	code, body, h := f.do("GET", "/api/v1/accounts", f.cred, nil)
	if code != 429 || h.Get("Retry-After") == "" || !strings.Contains(string(body), "Trop de requêtes") {
		t.Fatalf("over the limit: %d %q %s", code, h.Get("Retry-After"), body)
	}
	f.expect("GET", "/api/v1/accounts", other.Credential, nil, 200, nil)

	// The pairing secret was single-use.
	f.expect("POST", "/api/v1/pair", "", map[string]string{"secret": p.Secret}, 401, nil)

	// Revoked: 401 at once (before the throttle).
	f.app.dev.limit = device.NewLimiter(100, 100)
	if err := f.app.dev.svc.Revoke(context.Background(), f.jean.ID, other.Device.ID); err != nil {
		t.Fatal(err)
	}
	f.expect("GET", "/api/v1/accounts", other.Credential, nil, 401, nil)
	f.expect("GET", "/api/v1/accounts", f.cred, nil, 200, nil)
}

func TestAPIOpenAPIDocument(t *testing.T) {
	f := newAPIFixture(t, storetest.SQLite(t))
	code, body, h := f.do("GET", "/api/v1/openapi.json", "", nil)
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("openapi.json: %d %s", code, h.Get("Content-Type"))
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Servers []struct{ URL string }    `json:"servers"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") || len(doc.Servers) != 1 || doc.Servers[0].URL != "https://hygie.api.test" {
		t.Fatalf("document head: %s %+v", doc.OpenAPI, doc.Servers)
	}
	// Every registered API route is described, with its method.
	for _, r := range plainRoutes {
		method, path, _ := strings.Cut(r.pattern, " ")
		if !strings.HasPrefix(path, "/api/v1/") {
			continue
		}
		ops, ok := doc.Paths[path]
		if !ok {
			t.Errorf("path %s not in the document", path)
			continue
		}
		if _, ok := ops[strings.ToLower(method)]; !ok {
			t.Errorf("%s %s not in the document", method, path)
		}
	}
	// And every $ref resolves.
	var raw any
	json.Unmarshal(body, &raw)
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if k == "$ref" {
					ref, _ := c.(string)
					parts := strings.Split(strings.TrimPrefix(ref, "#/"), "/")
					var cur any = raw
					for _, p := range parts {
						m, _ := cur.(map[string]any)
						cur = m[p]
					}
					if cur == nil {
						t.Errorf("dangling $ref %s", ref)
					}
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(raw)
}

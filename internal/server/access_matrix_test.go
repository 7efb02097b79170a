package server_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/device"
	"github.com/hygie-sante/hygie/internal/mailbox"
)

// amClient is one person's browser for the access matrix: a cookie jar, no
// redirect followed, and the session's CSRF token.
type amClient struct {
	c    *http.Client
	base string
	csrf string
	// bearer is the person's paired-device credential (device API).
	bearer string
}

func amNew(base string) *amClient {
	jar, _ := cookiejar.New(nil)
	return &amClient{base: base, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var amCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// amLogin logs in with the password and reads the session's CSRF token.
func amLogin(t *testing.T, base, login string, ownID int64) *amClient {
	t.Helper()
	c := amNew(base)
	resp, err := c.c.PostForm(base+"/connexion", url.Values{"login": {login}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %s: %d", login, resp.StatusCode)
	}
	code, body := c.do(t, http.MethodGet, fmt.Sprintf("/a/%d/compte/informations", ownID), nil)
	m := amCSRF.FindStringSubmatch(body)
	if code != http.StatusOK || m == nil {
		t.Fatalf("no CSRF token for %s (%d)", login, code)
	}
	c.csrf = m[1]
	return c
}

// do sends a GET, or a POST of form with the session's CSRF token.
func (c *amClient) do(t *testing.T, method, path string, form url.Values) (int, string) {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		if form == nil {
			form = url.Values{}
		}
		if c.csrf != "" {
			form.Set("csrf", c.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, c.base+path, body)
	if method == http.MethodPost {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if strings.HasPrefix(path, "/api/v1/") && c.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+c.bearer)
	}
	resp, err := c.c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The roles of the matrix.
const (
	amOwner     = "owner"      // the person whose own account it is; for the box, its responsable (a member)
	amMember    = "member"     // a login account of the box
	amNonMember = "non-member" // a person of the same structure, neither
	amAdmin     = "admin"      // administrator of the box's structure
	amOtherAdm  = "admin-other"
	amOperator  = "operator"
	amAnon      = "anonymous"
)

var amRoles = []string{amOwner, amMember, amNonMember, amAdmin, amOtherAdm, amOperator, amAnon}

// amOK stands for « carried out »: 200, or 303 after a form.
const amOK = -1

// amExpect builds the expected status of each role: allowed roles get
// allow, the others deny; anonymous gets anon.
func amExpect(allow int, allowed []string, deny, anon int) map[string]int {
	m := map[string]int{}
	for _, r := range amRoles {
		m[r] = deny
	}
	for _, r := range allowed {
		m[r] = allow
	}
	m[amAnon] = anon
	return m
}

// TestAccessMatrix checks, for every box, personal and administration
// endpoint, what each role gets; then that a removed member loses the box
// at once on the web, the device API and an open IMAP session, and that a
// revoked administrator loses the console at once.
func TestAccessMatrix(t *testing.T) {
	n, _, base := webNode(t)
	ctx := context.Background()
	s1 := "Structure mx.web.test"
	if _, err := n.Accounts.CreateStructure(ctx, "Autre structure", ""); err != nil {
		t.Fatal(err)
	}
	people := map[string]*account.Account{
		amOwner:     n.addPerson(t, account.PER, "paula@web.test", "paula.mss@web.test", "Paula", "Responsable"),
		amMember:    n.addPerson(t, account.MED, "marc@web.test", "", "Marc", "Membre"),
		amNonMember: n.addPerson(t, account.MED, "nina@web.test", "", "Nina", "Voisine"),
		amAdmin:     n.addPerson(t, account.MED, "adm1@web.test", "", "Anne", "Admin"),
		amOperator:  n.addPerson(t, account.MED, "ops@web.test", "", "Oscar", "Opérateur"),
	}
	other, err := n.Accounts.Create(ctx, account.NewAccount{Structure: "Autre structure", Kind: account.MED, Login: "adm2@web.test",
		FirstName: "Bruno", LastName: "Ailleurs"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Accounts.SetPassword(ctx, "adm2@web.test", testPassword); err != nil {
		t.Fatal(err)
	}
	people[amOtherAdm] = other
	box, err := n.Accounts.Create(ctx, account.NewAccount{Structure: s1, Kind: account.ORG, Login: "accueil@web.test",
		MSS: "accueil.mss@web.test", Label: "Accueil"})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"paula@web.test", "marc@web.test"} {
		if err := n.Accounts.AddMember(ctx, "accueil@web.test", m); err != nil {
			t.Fatal(err)
		}
	}
	amMust(t, n.Accounts.SetStructureAdmin(ctx, account.CLI, s1, "adm1@web.test", true))
	amMust(t, n.Accounts.SetStructureAdmin(ctx, account.CLI, "Autre structure", "adm2@web.test", true))
	amMust(t, n.Accounts.SetOperator(ctx, account.CLI, "ops@web.test", true))
	sid1, sid2 := box.StructureID, other.StructureID
	_, err = n.St.DB.ExecContext(ctx, `UPDATE accounts SET notify = 'nina.perso@gmail.example' WHERE login = 'nina@web.test'`)
	amMust(t, err)

	// A message in the box and one in Paula's own INBOX.
	amMust(t, n.submit(t, "nina@web.test", "nina@web.test", []string{"accueil@web.test", "paula@web.test"}, "Planning"))
	boxInbox, err := mailbox.ID(ctx, n.St, box.ID, mailbox.Inbox)
	amMust(t, err)
	ownInbox, err := mailbox.ID(ctx, n.St, people[amOwner].ID, mailbox.Inbox)
	amMust(t, err)
	eventually(t, 5e9, "messages delivered", func() bool { return len(n.inbox(t, box.ID)) == 1 && len(n.inbox(t, people[amOwner].ID)) == 1 })

	clients := map[string]*amClient{amAnon: amNew(base)}
	dev := device.New(n.St)
	for role, p := range people {
		clients[role] = amLogin(t, base, p.Login, p.ID)
		pairing, err := dev.StartPairing(ctx, p.ID, "Téléphone")
		amMust(t, err)
		paired, err := dev.Pair(ctx, pairing.Secret, "")
		amMust(t, err)
		clients[role].bearer = paired.Credential
	}

	type row struct {
		method, path string
		form         url.Values
		want         map[string]int
	}
	var rows []row
	get := func(path string, want map[string]int) { rows = append(rows, row{http.MethodGet, path, nil, want}) }
	post := func(path string, form url.Values, want map[string]int) {
		rows = append(rows, row{http.MethodPost, path, form, want})
	}

	// Personal endpoints of Paula's own account: Paula only. Being an
	// administrator or an operator gives no access to anybody's mail.
	own := fmt.Sprintf("/a/%d", people[amOwner].ID)
	ownGet := amExpect(http.StatusOK, []string{amOwner}, http.StatusNotFound, http.StatusSeeOther)
	ownPost := amExpect(amOK, []string{amOwner}, http.StatusNotFound, http.StatusUnauthorized)
	for _, p := range []string{"/mail/", "/mail/recherche?q=Planning", "/mail/nouveau", fmt.Sprintf("/mail/lire/%d/1", ownInbox),
		"/compte", "/compte/informations", "/compte/identifiants", "/compte/signatures", "/compte/reponse-automatique",
		"/compte/notifications", "/compte/delegations", "/compte/dematerialisation", "/compte/appareils"} {
		get(own+p, ownGet)
	}
	post(own+"/compte/dematerialisation", url.Values{"dematerialisation": {"1"}}, ownPost)

	// Box endpoints: its members (Paula, its responsable, and Marc) only;
	// not the structure's administrator, nor an operator.
	bx := fmt.Sprintf("/a/%d", box.ID)
	boxGet := amExpect(http.StatusOK, []string{amOwner, amMember}, http.StatusNotFound, http.StatusSeeOther)
	boxPost := amExpect(amOK, []string{amOwner, amMember}, http.StatusNotFound, http.StatusUnauthorized)
	for _, p := range []string{"/mail/", "/mail/recherche?q=Planning", "/mail/nouveau", fmt.Sprintf("/mail/lire/%d/1", boxInbox),
		"/compte", "/compte/informations", "/compte/identifiants", "/compte/signatures", "/compte/reponse-automatique",
		"/compte/notifications", "/compte/delegations", "/compte/dematerialisation", "/compte/journal"} {
		get(bx+p, boxGet)
	}
	post(bx+"/compte/dematerialisation", url.Values{"dematerialisation": {"1"}}, boxPost)
	// A box has no « Appareils mobiles » section: nobody reaches it.
	get(bx+"/compte/appareils", amExpect(http.StatusNotFound, nil, http.StatusNotFound, http.StatusSeeOther))

	// Device API: the same rule with a device credential; none: 401.
	apiWant := func(allowed ...string) map[string]int {
		return amExpect(http.StatusOK, allowed, http.StatusNotFound, http.StatusUnauthorized)
	}
	get(fmt.Sprintf("/api/v1/accounts/%d/folders", box.ID), apiWant(amOwner, amMember))
	get(fmt.Sprintf("/api/v1/accounts/%d/messages", box.ID), apiWant(amOwner, amMember))
	get(fmt.Sprintf("/api/v1/accounts/%d/folders", people[amOwner].ID), apiWant(amOwner))

	// Administration console.
	admins := []string{amAdmin, amOtherAdm, amOperator}
	s1Admins := []string{amAdmin, amOperator}
	get("/admin/", amExpect(http.StatusOK, admins, http.StatusNotFound, http.StatusSeeOther))
	get("/admin/journal", amExpect(http.StatusOK, admins, http.StatusNotFound, http.StatusSeeOther))
	get(fmt.Sprintf("/admin/s/%d/", sid1), amExpect(http.StatusOK, s1Admins, http.StatusNotFound, http.StatusSeeOther))
	get(fmt.Sprintf("/admin/s/%d/", sid2), amExpect(http.StatusOK, []string{amOtherAdm, amOperator}, http.StatusNotFound, http.StatusSeeOther))
	get(fmt.Sprintf("/admin/s/%d/comptes/%d", sid1, box.ID), amExpect(http.StatusOK, s1Admins, http.StatusNotFound, http.StatusSeeOther))
	get(fmt.Sprintf("/admin/s/%d/comptes/%d", sid1, people[amNonMember].ID), amExpect(http.StatusOK, s1Admins, http.StatusNotFound, http.StatusSeeOther))
	// An account looked up under another structure: nobody.
	get(fmt.Sprintf("/admin/s/%d/comptes/%d", sid2, box.ID), amExpect(0, nil, http.StatusNotFound, http.StatusSeeOther))
	post(fmt.Sprintf("/admin/s/%d/comptes/%d", sid2, box.ID), url.Values{"kind": {"ORG"}}, amExpect(0, nil, http.StatusNotFound, http.StatusUnauthorized))
	post(fmt.Sprintf("/admin/s/%d/comptes/%d/reinitialisation", sid1, people[amNonMember].ID), nil,
		amExpect(http.StatusSeeOther, s1Admins, http.StatusNotFound, http.StatusUnauthorized))
	post(fmt.Sprintf("/admin/s/%d/comptes/%d", sid1, people[amNonMember].ID),
		url.Values{"kind": {"MED"}, "description": {"Secrétariat"}}, amExpect(http.StatusSeeOther, s1Admins, http.StatusNotFound, http.StatusUnauthorized))
	post(fmt.Sprintf("/admin/s/%d/comptes", sid1), url.Values{"kind": {"MED"}},
		amExpect(http.StatusBadRequest, s1Admins, http.StatusNotFound, http.StatusUnauthorized))
	post(fmt.Sprintf("/admin/s/%d/comptes/%d/membres", sid1, box.ID), url.Values{"member": {"nobody@web.test"}},
		amExpect(http.StatusBadRequest, s1Admins, http.StatusNotFound, http.StatusUnauthorized))
	post(fmt.Sprintf("/admin/s/%d/inscriptions/999999/refuser", sid1), nil,
		amExpect(http.StatusSeeOther, s1Admins, http.StatusNotFound, http.StatusUnauthorized))
	// Operators only: 403 for a structure administrator.
	opOnly := func(ok, anon int) map[string]int {
		m := amExpect(ok, []string{amOperator}, http.StatusNotFound, anon)
		m[amAdmin], m[amOtherAdm] = http.StatusForbidden, http.StatusForbidden
		return m
	}
	get("/admin/file", opOnly(http.StatusOK, http.StatusSeeOther))
	get("/admin/confiance", opOnly(http.StatusOK, http.StatusSeeOther))
	get("/admin/adhesions", opOnly(http.StatusOK, http.StatusSeeOther))
	post("/admin/file/999999/relancer", nil, opOnly(http.StatusSeeOther, http.StatusUnauthorized))
	post("/admin/file/999999/supprimer", nil, opOnly(http.StatusSeeOther, http.StatusUnauthorized))
	post("/admin/adhesions/999999/refuser", nil, opOnly(http.StatusSeeOther, http.StatusUnauthorized))
	post("/admin/structures", url.Values{"name": {""}}, opOnly(http.StatusBadRequest, http.StatusUnauthorized))
	post(fmt.Sprintf("/admin/s/%d/administrateurs", sid1), url.Values{"admin": {""}}, opOnly(http.StatusBadRequest, http.StatusUnauthorized))
	// Public pages.
	get("/inscription", amExpect(http.StatusOK, amRoles, http.StatusOK, http.StatusOK))

	for _, r := range rows {
		for _, role := range amRoles {
			want := r.want[role]
			got, body := clients[role].do(t, r.method, r.path, amClone(r.form))
			ok := got == want
			if want == amOK {
				ok = got == http.StatusOK || got == http.StatusSeeOther
			}
			if !ok {
				t.Errorf("%s %s as %s: %d, want %d\n%.200s", r.method, r.path, role, got, want, body)
			}
		}
	}
	if t.Failed() {
		return
	}

	// IMAP: the box's folders exist for its members only.
	imapFor := func(login string) *imapclient.Client {
		c, err := imapclient.DialStartTLS(n.Addrs["imap"], &imapclient.Options{TLSConfig: &tls.Config{RootCAs: n.issuer.Pool(), ServerName: "127.0.0.1"}})
		amMust(t, err)
		t.Cleanup(func() { c.Close() })
		amMust(t, c.Login(login, testPassword).Wait())
		return c
	}
	shared := "Partagé/accueil@web.test/INBOX"
	for role, p := range people {
		c := imapFor(p.Login)
		_, err := c.Select(shared, nil).Wait()
		if member := role == amOwner || role == amMember; member != (err == nil) {
			t.Errorf("IMAP SELECT of the box as %s: %v", role, err)
		}
	}

	// A removed member loses the box at once: web, device API, and the
	// open IMAP session at its next command.
	marc := clients[amMember]
	ic := imapFor("marc@web.test")
	if _, err := ic.Select(shared, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if code, _ := clients[amAdmin].do(t, http.MethodPost, fmt.Sprintf("/admin/s/%d/comptes/%d/membres/%d/retirer", sid1, box.ID, people[amMember].ID), nil); code != http.StatusSeeOther {
		t.Fatalf("administrator removes Marc: %d", code)
	}
	for _, p := range []string{bx + "/mail/", fmt.Sprintf("%s/mail/lire/%d/1", bx, boxInbox), bx + "/compte/informations",
		fmt.Sprintf("/api/v1/accounts/%d/folders", box.ID)} {
		if code, _ := marc.do(t, http.MethodGet, p, nil); code != http.StatusNotFound {
			t.Errorf("removed member GET %s: %d", p, code)
		}
	}
	if _, err := ic.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect(); err == nil {
		t.Error("IMAP: the open session still reads the box after the removal")
	}
	if code, _ := clients[amOwner].do(t, http.MethodGet, bx+"/mail/", nil); code != http.StatusOK {
		t.Errorf("the remaining member: %d", code)
	}

	// A revoked administrator loses the console at once.
	if code, _ := clients[amOperator].do(t, http.MethodPost, fmt.Sprintf("/admin/s/%d/administrateurs/%d/retirer", sid1, people[amAdmin].ID), nil); code != http.StatusSeeOther {
		t.Fatalf("operator revokes the administrator: %d", code)
	}
	if code, _ := clients[amAdmin].do(t, http.MethodGet, fmt.Sprintf("/admin/s/%d/", sid1), nil); code != http.StatusNotFound {
		t.Errorf("revoked administrator: %d", code)
	}
	// A disabled operator's session ends.
	amMust(t, n.Accounts.AdminSetDisabled(ctx, account.CLI, people[amOperator].ID, true))
	if code, _ := clients[amOperator].do(t, http.MethodGet, "/admin/file", nil); code != http.StatusSeeOther {
		t.Errorf("disabled operator: %d", code)
	}

	// Every administrative change above is in the journal.
	cs, err := n.Accounts.Changes(ctx, account.Roles{Operator: true}, 100)
	amMust(t, err)
	seen := map[string]bool{}
	for _, c := range cs {
		seen[c.Action] = true
	}
	for _, a := range []string{"member_remove", "role_revoke", "disabled", "description", "password_reset_sent"} {
		if !seen[a] {
			t.Errorf("journal lacks %s", a)
		}
	}
}

func amClone(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := url.Values{}
	for k, x := range v {
		out[k] = append([]string(nil), x...)
	}
	return out
}

func amMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

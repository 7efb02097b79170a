package server_test

import (
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hygie-sante/hygie/internal/account"
	bt "github.com/hygie-sante/hygie/internal/browsertest"
	"github.com/hygie-sante/hygie/internal/outmail/smarthosttest"
	"github.com/hygie-sante/hygie/internal/store/storetest"
	"github.com/hygie-sante/hygie/internal/trust"
)

const profileSupportURL = "https://assistance.example/portail"

// profileNode starts a node with a smarthost and a support link, and the
// people of the « Gérer mon compte » tests: Jean (PER, with a notification
// address), Marie (MED, without), Luc (PER, a correspondent).
func profileNode(t *testing.T) (n *testNode, sh *smarthosttest.Server, base string, jean, marie, luc *account.Account) {
	t.Helper()
	ca, err := trust.NewTestCA("Test IGC")
	if err != nil {
		t.Fatal(err)
	}
	sh = smarthosttest.Start(t)
	n = startNode(t, nodeSpec{Hostname: "mx.web.test", Domains: []string{"web.test"}, Issuer: ca,
		DN: pkix.Name{CommonName: "mx.web.test"}, Database: storetest.SQLite(t), Smarthost: sh.Addr, SupportURL: profileSupportURL})
	jean = n.addPerson(t, account.PER, "jean@web.test", "jean.dupont@web.test", "Jean", "Dupont")
	marie = n.addPerson(t, account.MED, "marie@web.test", "", "Marie", "Martin")
	luc = n.addPerson(t, account.PER, "luc@web.test", "luc.petit@web.test", "Luc", "Petit")
	if _, err := n.St.DB.ExecContext(context.Background(), `UPDATE accounts SET notify = 'jean.perso@gmail.example' WHERE login = 'jean@web.test'`); err != nil {
		t.Fatal(err)
	}
	return n, sh, "http://" + n.Addrs["web"], jean, marie, luc
}

// profileSave submits the form sel and waits for « Modifications
// enregistrées ».
func profileSave(t *testing.T, ctx context.Context, what, sel string) {
	t.Helper()
	bt.Do(t, ctx, what, bt.Click(sel+" button[type=submit]"), bt.WaitVisible(".flash"))
	if f := bt.Text(t, ctx, ".flash"); f != "Modifications enregistrées" {
		t.Fatalf("%s: flash %q", what, f)
	}
}

// profileOpen navigates to a page and waits for sel.
func profileOpen(t *testing.T, ctx context.Context, url, sel string) {
	t.Helper()
	bt.Do(t, ctx, "open "+url, chromedp.Navigate(url), bt.WaitVisible(sel))
}

// TestWebProfileInformations drives Informations personnelles A, B, C and
// Dématérialisation as Jean: type, « Enregistrer », reload, read back; and
// checks that the visibility boxes really hide the addresses from the
// directory search.
func TestWebProfileInformations(t *testing.T) {
	n, _, base, jean, _, luc := profileNode(t)
	ctx := context.Background()
	b := bt.New(t)
	login(t, b, base, "jean@web.test", testPassword)
	// Clicking one's name opens « Gérer mon compte » on Informations personnelles.
	bt.Do(t, b, "open Gérer mon compte", bt.WaitVisible("#me"), bt.Click("#me"), bt.WaitVisible("form#donnees"))
	if h := bt.Text(t, b, "section.profile h2"); h != "Informations personnelles" {
		t.Fatalf("section %q", h)
	}
	if cur := bt.Text(t, b, "nav.sections a[aria-current]"); cur != "Informations personnelles" {
		t.Fatalf("menu current %q", cur)
	}
	page := base + fmt.Sprintf("/a/%d/compte/informations", jean.ID)

	// A. données personnelles.
	bt.Do(t, b, "type personal data",
		bt.Fill("#last_name", "Dupont-Moretti"), bt.Fill("#first_name", "Jean-Luc"),
		bt.Fill("#phone", "+33 5 61 00 00 00"), bt.Fill("#postal_address", "1 rue de la Paix\n31000 Toulouse"))
	profileSave(t, b, "save A", "form#donnees")
	profileOpen(t, b, page, "form#donnees")
	for sel, want := range map[string]string{"#last_name": "Dupont-Moretti", "#first_name": "Jean-Luc",
		"#phone": "+33 5 61 00 00 00", "#postal_address": "1 rue de la Paix\n31000 Toulouse"} {
		if got := bt.Value(t, b, sel); got != want {
			t.Errorf("after reload %s = %q, want %q", sel, got, want)
		}
	}
	if who := bt.Text(t, b, "#me"); who != "Jean-Luc Dupont-Moretti" {
		t.Errorf("header shows %q", who)
	}
	// Refusals in French next to the fields; what was typed stays.
	bt.Do(t, b, "bad personal data", bt.Clear("#last_name"), bt.Fill("#phone", "05 61 ab"),
		bt.Click("form#donnees button[type=submit]"), bt.WaitVisible("#phone + .error"))
	if msg := bt.Text(t, b, "#phone + .error"); !strings.Contains(msg, "Numéro de téléphone invalide") {
		t.Errorf("phone error %q", msg)
	}
	if msg := bt.Text(t, b, "#last_name + .error"); msg != "Saisissez votre nom." {
		t.Errorf("name error %q", msg)
	}
	if v := bt.Value(t, b, "#phone"); v != "05 61 ab" {
		t.Errorf("typed phone not kept: %q", v)
	}
	if p, _ := n.Accounts.Profile(ctx, jean.ID); p.Phone != "+33 5 61 00 00 00" || p.LastName != "Dupont-Moretti" {
		t.Fatalf("refused form saved: %+v", p)
	}

	// B. activité, with the account type and the support link.
	profileOpen(t, b, page, "form#activite")
	if k := bt.Text(t, b, "#account-kind"); k != "Compte Personnel" {
		t.Errorf("account type %q", k)
	}
	if cur := bt.Text(t, b, "dl.kinds dt.current"); !strings.HasPrefix(cur, "Compte Personnel") {
		t.Errorf("highlighted type %q", cur)
	}
	if txt := bt.Text(t, b, "dl.kinds"); !strings.Contains(txt, "Compte Hygie") || !strings.Contains(txt, "Compte Interne") ||
		!strings.Contains(txt, "visible uniquement par les utilisateurs de Hygie") || strings.Contains(txt, "Medimail") {
		t.Errorf("type explanations: %q", txt)
	}
	if href := bt.Get(t, b, "support link", chromedp.AttributeValue(chromedp.CSS("#support-link"), "href")); href.Value != profileSupportURL {
		t.Errorf("support link %q", href.Value)
	}
	bt.Do(t, b, "type activity", bt.Fill("#raison_sociale", "Cabinet Dupont"), bt.Fill("#profession", "Médecin"),
		bt.Fill("#specialite", "Cardiologie"))
	profileSave(t, b, "save B", "form#activite")
	profileOpen(t, b, page, "form#activite")
	for sel, want := range map[string]string{"#raison_sociale": "Cabinet Dupont", "#profession": "Médecin", "#specialite": "Cardiologie"} {
		if got := bt.Value(t, b, sel); got != want {
			t.Errorf("after reload %s = %q, want %q", sel, got, want)
		}
	}

	// C. visibilité: both checked by default; unchecking hides the
	// addresses from the directory.
	// The directory is read as the webmail's recipient autocomplete reads
	// it (its JSON endpoint, in Luc's session), and at the account level.
	l := bt.New(t)
	login(t, l, base, "luc@web.test", testPassword)
	bt.Do(t, l, "Luc logged in", bt.WaitVisible("#me"))
	inDirectory := func(q string) []string {
		t.Helper()
		es, err := n.Accounts.SearchVisible(ctx, q, 10)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Address)
		}
		var auto []struct{ Address string }
		bt.Do(t, l, "autocomplete "+q, chromedp.Navigate(base+fmt.Sprintf("/a/%d/mail/annuaire?q=%s", luc.ID, url.QueryEscape(q))),
			bt.WaitVisible("body"))
		if err := json.Unmarshal([]byte(bt.Text(t, l, "body")), &auto); err != nil {
			t.Fatalf("autocomplete %q: %v", q, err)
		}
		var fromAuto []string
		for _, e := range auto {
			fromAuto = append(fromAuto, e.Address)
		}
		if strings.Join(fromAuto, " ") != strings.Join(out, " ") {
			t.Fatalf("autocomplete %q = %v, directory search = %v", q, fromAuto, out)
		}
		return out
	}
	if got := inDirectory("dupont"); len(got) != 2 {
		t.Fatalf("directory before: %v", got)
	}
	if !bt.Checked(t, b, "#visible_login") || !bt.Checked(t, b, "#visible_mss") {
		t.Fatal("visibility boxes not checked by default")
	}
	if txt := bt.Text(t, b, "form#visibilite"); !strings.Contains(txt, "visible dans l’annuaire Hygie") ||
		!strings.Contains(txt, "visible dans l’annuaire santé") || !strings.Contains(txt, "Nous vous conseillons de garder l’adresse MSS visible") {
		t.Errorf("visibility texts: %q", txt)
	}
	bt.Do(t, b, "uncheck both", bt.Click("#visible_login"), bt.Click("#visible_mss"))
	profileSave(t, b, "save C", "form#visibilite")
	profileOpen(t, b, page, "form#visibilite")
	if bt.Checked(t, b, "#visible_login") || bt.Checked(t, b, "#visible_mss") {
		t.Fatal("visibility not saved")
	}
	for _, q := range []string{"dupont", "jean", "jean@web.test", "jean.dupont@web.test"} {
		if got := inDirectory(q); len(got) != 0 {
			t.Fatalf("hidden addresses found by %q: %v", q, got)
		}
	}
	bt.Do(t, b, "show the login address again", bt.Click("#visible_login"))
	profileSave(t, b, "save C again", "form#visibilite")
	profileOpen(t, b, page, "form#visibilite")
	if !bt.Checked(t, b, "#visible_login") || bt.Checked(t, b, "#visible_mss") {
		t.Fatal("visibility not saved (2)")
	}
	if got := inDirectory("dupont"); len(got) != 1 || got[0] != "jean@web.test" {
		t.Fatalf("directory after: %v", got)
	}

	// Dématérialisation: checked by default, stored.
	demat := base + fmt.Sprintf("/a/%d/compte/dematerialisation", jean.ID)
	profileOpen(t, b, demat, "#dematerialisation")
	if !bt.Checked(t, b, "#dematerialisation") {
		t.Fatal("dematerialisation not checked by default")
	}
	if l := bt.Text(t, b, "label[for=dematerialisation]"); l != "accepte la dématérialisation totale des échanges" {
		t.Errorf("label %q", l)
	}
	bt.Do(t, b, "uncheck dematerialisation", bt.Click("#dematerialisation"))
	profileSave(t, b, "save dematerialisation", "#dematerialisation-form")
	profileOpen(t, b, demat, "#dematerialisation")
	if bt.Checked(t, b, "#dematerialisation") {
		t.Fatal("dematerialisation not saved")
	}
	if p, _ := n.Accounts.Profile(ctx, jean.ID); p.Dematerialisation {
		t.Fatal("dematerialisation still accepted in the store")
	}
	bt.Do(t, b, "check dematerialisation", bt.Click("#dematerialisation"))
	profileSave(t, b, "save dematerialisation again", "#dematerialisation-form")
	profileOpen(t, b, demat, "#dematerialisation")
	if !bt.Checked(t, b, "#dematerialisation") {
		t.Fatal("dematerialisation not saved (2)")
	}
}

// TestWebCredentials drives Identifiants de connexion: the reset request
// (mailed through the smarthost; a French error without a notification
// address), and « Comptes accessibles »: the default account changes where
// login lands, the per-box notification choice is kept.
func TestWebCredentials(t *testing.T) {
	n, sh, base, jean, _, _ := profileNode(t)
	ctx := context.Background()
	box, err := n.Accounts.Create(ctx, account.NewAccount{Structure: "Structure mx.web.test", Kind: account.ORG,
		Login: "cardio@web.test", MSS: "cardio.service@web.test", Label: "Service de cardiologie", Notify: "cardio@hopital.example"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Accounts.AddMember(ctx, "cardio@web.test", "jean@web.test"); err != nil {
		t.Fatal(err)
	}
	b := bt.New(t)
	login(t, b, base, "jean@web.test", testPassword)
	bt.Do(t, b, "logged in", bt.WaitVisible("#me"))
	page := base + fmt.Sprintf("/a/%d/compte/identifiants", jean.ID)

	// A. « Demander la réinitialisation du mot de passe ».
	profileOpen(t, b, page, "#reset-request")
	bt.Do(t, b, "ask for a reset", bt.Click("#reset-request"), bt.WaitVisible(".flash"))
	if f := bt.Text(t, b, ".flash"); !strings.Contains(f, "jean.perso@gmail.example") || !strings.Contains(f, "une heure") {
		t.Errorf("flash %q", f)
	}
	mails := sh.WaitFor(t, "jean.perso@gmail.example", 1, 10*time.Second)
	if !regexp.MustCompile(`/reinitialisation\?jeton=[A-Za-z0-9_-]+`).MatchString(mails[0].Data) {
		t.Fatalf("no reset link in %q", mails[0].Data)
	}

	// C. accessible accounts: the individual account and the box; the
	// individual account is the default, box notifications are on.
	profileOpen(t, b, page, "form#comptes")
	defBox, defSelf := fmt.Sprintf("#default-%d", box.ID), fmt.Sprintf("#default-%d", jean.ID)
	notifyBox := fmt.Sprintf("#notify-%d", box.ID)
	if !bt.Checked(t, b, defSelf) || bt.Checked(t, b, defBox) || !bt.Checked(t, b, notifyBox) {
		t.Fatal("defaults: want the individual account as default and box notifications on")
	}
	if txt := bt.Text(t, b, "table.accessible"); !strings.Contains(txt, "Service de cardiologie") || !strings.Contains(txt, "Jean Dupont") {
		t.Fatalf("accessible accounts: %q", txt)
	}
	bt.Do(t, b, "choose the box, no notifications", bt.Click(defBox), bt.Click(notifyBox))
	profileSave(t, b, "save C", "form#comptes")
	profileOpen(t, b, page, "form#comptes")
	if !bt.Checked(t, b, defBox) || bt.Checked(t, b, notifyBox) {
		t.Fatal("choices not kept after reload")
	}
	// Logging in again opens the box.
	bt.Do(t, b, "logout", bt.Click("form[action='/deconnexion'] button"), bt.WaitVisible("#login"))
	login(t, b, base, "jean@web.test", testPassword)
	bt.Do(t, b, "logged in again", bt.WaitVisible("#me"))
	if loc := bt.Location(t, b); !strings.Contains(loc, fmt.Sprintf("/a/%d/mail/", box.ID)) {
		t.Fatalf("after login at %s, want the box %d", loc, box.ID)
	}
	// Back to the individual account.
	profileOpen(t, b, page, "form#comptes")
	bt.Do(t, b, "choose the individual account", bt.Click(defSelf), bt.Click(notifyBox))
	profileSave(t, b, "save C again", "form#comptes")
	bt.Do(t, b, "logout", bt.Click("form[action='/deconnexion'] button"), bt.WaitVisible("#login"))
	login(t, b, base, "jean@web.test", testPassword)
	bt.Do(t, b, "logged in a third time", bt.WaitVisible("#me"))
	if loc := bt.Location(t, b); !strings.Contains(loc, fmt.Sprintf("/a/%d/mail/", jean.ID)) {
		t.Fatalf("after login at %s, want the individual account", loc)
	}
	if acc, _ := n.Accounts.BoxAccesses(ctx, jean.ID); len(acc) != 1 || !acc[0].Notify {
		t.Fatalf("box notification: %+v", acc)
	}

	// Marie has no notification address: a French error, no mail.
	m := bt.New(t)
	login(t, m, base, "marie@web.test", testPassword)
	bt.Do(t, m, "Marie logged in", bt.WaitVisible("#me"))
	marie, _ := n.Accounts.ByAddress(ctx, "marie@web.test")
	profileOpen(t, m, base+fmt.Sprintf("/a/%d/compte/identifiants", marie.ID), "#reset-request")
	bt.Do(t, m, "ask for a reset without address", bt.Click("#reset-request"), bt.WaitVisible(".error"))
	if msg := bt.Text(t, m, ".error"); !strings.Contains(msg, "Aucune adresse de notification") {
		t.Fatalf("error %q", msg)
	}
	if len(sh.All()) != 1 {
		t.Fatalf("%d mails sent, want 1", len(sh.All()))
	}
}

// profileInbox lists the subjects in an account's INBOX and the bodies.
func profileInbox(t *testing.T, n *testNode, id int64) (subjects []string, bodies []string) {
	t.Helper()
	rows, err := n.St.Query(context.Background(), `SELECT m.subject, m.body FROM entries e JOIN mailboxes b ON b.id = e.mailbox_id
		JOIN messages m ON m.id = e.message_id WHERE b.account_id = ? AND b.name = 'INBOX' ORDER BY e.uid`, id)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		var body []byte
		if err := rows.Scan(&s, &body); err != nil {
			t.Fatal(err)
		}
		subjects, bodies = append(subjects, s), append(bodies, string(body))
	}
	return subjects, bodies
}

// TestWebDelegations adds a delegate by address (refusals in French),
// checks that mail received afterwards is copied to the delegate, marked,
// and removes the delegation with the cross. Marie, a MED account, sees
// the guide's advice.
func TestWebDelegations(t *testing.T) {
	n, _, base, jean, marie, _ := profileNode(t)
	ctx := context.Background()
	n.addPerson(t, account.MED, "ancien@web.test", "", "Ancien", "Compte")
	if err := n.Accounts.SetDisabled(ctx, "ancien@web.test", true); err != nil {
		t.Fatal(err)
	}
	b := bt.New(t)
	login(t, b, base, "jean@web.test", testPassword)
	bt.Do(t, b, "logged in", bt.WaitVisible("#me"))
	page := base + fmt.Sprintf("/a/%d/compte/delegations", jean.ID)
	profileOpen(t, b, page, "#delegate")
	bt.Do(t, b, "no delegation yet", bt.WaitVisible("#no-delegates"))
	if ok := bt.Get(t, b, "advice shown?", chromedp.Evaluate[bool](`document.querySelector("#med-advice") !== null`)); ok {
		t.Error("MED advice shown to a PER account")
	}
	// Add Marie by her address.
	bt.Do(t, b, "add Marie", bt.Fill("#delegate", "marie@web.test"), bt.Click("form#ajout button[type=submit]"), bt.WaitVisible(".flash"))
	bt.Do(t, b, "Marie listed", bt.WaitVisible("li[data-delegate='marie@web.test']"))
	profileOpen(t, b, page, "li[data-delegate='marie@web.test']")
	if who := bt.Text(t, b, "li[data-delegate='marie@web.test'] .who"); who != "Marie Martin — marie@web.test" {
		t.Errorf("listed as %q", who)
	}
	// Refusals, in French, next to the field, with what was typed.
	for _, c := range []struct{ addr, want string }{
		{"", "Saisissez l’adresse d’un utilisateur Hygie."},
		{"secretariat@gmail.example", "Seuls les utilisateurs de Hygie peuvent recevoir une délégation"},
		{"inconnu@web.test", "Seuls les utilisateurs de Hygie peuvent recevoir une délégation"},
		{"jean.dupont@web.test", "Vous ne pouvez pas déléguer ce compte à lui-même"},
		{"MARIE@web.test", "Une délégation vers ce compte existe déjà."},
		{"ancien@web.test", "est désactivé"},
		{"pas-une-adresse", "Adresse mail invalide"},
	} {
		profileOpen(t, b, page, "#delegate")
		typeIt := bt.Clear("#delegate")
		if c.addr != "" {
			typeIt = bt.Fill("#delegate", c.addr)
		}
		bt.Do(t, b, "refused "+c.addr, typeIt, bt.Click("form#ajout button[type=submit]"), bt.WaitVisible("#delegate + .error"))
		if msg := bt.Text(t, b, "#delegate + .error"); !strings.Contains(msg, c.want) {
			t.Errorf("%q: error %q, want %q", c.addr, msg, c.want)
		}
		if v := bt.Value(t, b, "#delegate"); v != c.addr {
			t.Errorf("typed address not kept: %q", v)
		}
	}
	if list, _ := n.Accounts.Delegations(ctx, jean.ID); len(list) != 1 {
		t.Fatalf("delegations: %+v", list)
	}

	// A message received by Jean is copied into Marie's INBOX, marked.
	if err := n.submit(t, "luc@web.test", "luc@web.test", []string{"jean.dupont@web.test"}, "Compte rendu"); err != nil {
		t.Fatal(err)
	}
	subjects, bodies := profileInbox(t, n, marie.ID)
	if len(subjects) != 1 || subjects[0] != "[Délégation de Jean Dupont] Compte rendu" ||
		!strings.HasPrefix(bodies[0], "X-Hygie-Delegation: jean@web.test\r\n") {
		t.Fatalf("Marie's INBOX: %q", subjects)
	}
	if s, _ := profileInbox(t, n, jean.ID); len(s) != 1 || s[0] != "Compte rendu" {
		t.Fatalf("Jean's INBOX: %q", s)
	}

	// Remove with the cross: the list is empty, no more copies.
	bt.Do(t, b, "remove Marie", bt.Click("li[data-delegate='marie@web.test'] button.remove"), bt.WaitVisible("#no-delegates"))
	profileOpen(t, b, page, "#no-delegates")
	if err := n.submit(t, "luc@web.test", "luc@web.test", []string{"jean@web.test"}, "Second"); err != nil {
		t.Fatal(err)
	}
	if s, _ := profileInbox(t, n, marie.ID); len(s) != 1 {
		t.Fatalf("copy after removal: %q", s)
	}

	// Marie (MED): the guide's advice; no MSSanté visibility box; her type.
	m := bt.New(t)
	login(t, m, base, "marie@web.test", testPassword)
	bt.Do(t, m, "Marie logged in", bt.WaitVisible("#me"))
	profileOpen(t, m, base+fmt.Sprintf("/a/%d/compte/delegations", marie.ID), "#med-advice")
	if adv := bt.Text(t, m, "#med-advice"); !strings.Contains(adv, "délégation vers un compte PERsonnel ou ORGanisationnel") {
		t.Errorf("advice %q", adv)
	}
	profileOpen(t, m, base+fmt.Sprintf("/a/%d/compte", marie.ID), "form#visibilite")
	if k := bt.Text(t, m, "#account-kind"); k != "Compte Hygie" {
		t.Errorf("MED type %q", k)
	}
	if has := bt.Get(t, m, "MSS box?", chromedp.Evaluate[bool](`document.querySelector("#visible_mss") !== null`)); has {
		t.Error("a MED account has an MSSanté visibility box")
	}
	// Marie may delegate to a box (allowed: the guide advises it).
	if _, err := n.Accounts.Create(ctx, account.NewAccount{Structure: "Structure mx.web.test", Kind: account.ORG,
		Login: "secretariat@web.test", MSS: "secretariat.service@web.test", Label: "Secrétariat"}); err != nil {
		t.Fatal(err)
	}
	profileOpen(t, m, base+fmt.Sprintf("/a/%d/compte/delegations", marie.ID), "#delegate")
	bt.Do(t, m, "delegate to a box", bt.Fill("#delegate", "secretariat@web.test"), bt.Click("form#ajout button[type=submit]"),
		bt.WaitVisible("li[data-delegate='secretariat@web.test']"))
	if err := n.submit(t, "luc@web.test", "luc@web.test", []string{"marie@web.test"}, "Pour le secrétariat"); err != nil {
		t.Fatal(err)
	}
	sec, _ := n.Accounts.ByAddress(ctx, "secretariat@web.test")
	if s, _ := profileInbox(t, n, sec.ID); len(s) != 1 || s[0] != "[Délégation de Marie Martin] Pour le secrétariat" {
		t.Fatalf("box delegate INBOX: %q", s)
	}
}

// profileClient is a person's plain HTTP session (cookie jar), logged in.
type profileClient struct {
	c    *http.Client
	base string
	csrf string
}

func profileHTTPLogin(t *testing.T, base, user string, self int64) *profileClient {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	resp, err := c.PostForm(base+"/connexion", url.Values{"login": {user}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	pc := &profileClient{c: c, base: base}
	code, body := pc.get(t, fmt.Sprintf("/a/%d/compte/informations", self))
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if code != 200 || m == nil {
		t.Fatalf("%s: own page %d, no csrf", user, code)
	}
	pc.csrf = m[1]
	return pc
}

func (p *profileClient) get(t *testing.T, path string) (int, string) {
	t.Helper()
	resp, err := p.c.Get(p.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func (p *profileClient) post(t *testing.T, path string, v url.Values) (int, string) {
	t.Helper()
	c := *p.c
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.PostForm(p.base+path, v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestWebProfileAccessControl tries another person's settings by id, with
// two sessions: every GET and POST answers 404 and changes nothing; a POST
// without the CSRF token is refused with 403.
func TestWebProfileAccessControl(t *testing.T) {
	n, _, base, jean, marie, luc := profileNode(t)
	ctx := context.Background()
	if _, err := n.Accounts.AddDelegation(ctx, jean.ID, "luc@web.test"); err != nil {
		t.Fatal(err)
	}
	j := profileHTTPLogin(t, base, "jean@web.test", jean.ID)
	m := profileHTTPLogin(t, base, "marie@web.test", marie.ID)
	for _, s := range []string{"", "/informations", "/identifiants", "/delegations", "/dematerialisation"} {
		if code, body := m.get(t, fmt.Sprintf("/a/%d/compte%s", jean.ID, s)); code != http.StatusNotFound || strings.Contains(body, "Dupont") {
			t.Errorf("Marie GET Jean's %q: %d", s, code)
		}
		if code, _ := j.get(t, fmt.Sprintf("/a/%d/compte%s", jean.ID, s)); code != http.StatusOK {
			t.Errorf("Jean GET his own %q: %d", s, code)
		}
	}
	posts := []struct {
		path string
		form url.Values
	}{
		{"/informations", url.Values{"partie": {"donnees"}, "last_name": {"Pirate"}, "first_name": {"P"}}},
		{"/informations", url.Values{"partie": {"visibilite"}}},
		{"/informations", url.Values{"partie": {"activite"}, "profession": {"Pirate"}}},
		{"/identifiants", url.Values{"default": {fmt.Sprint(jean.ID)}}},
		{"/identifiants/reinitialisation", url.Values{}},
		{"/delegations", url.Values{"address": {"marie@web.test"}}},
		{fmt.Sprintf("/delegations/%d/supprimer", luc.ID), url.Values{}},
		{"/dematerialisation", url.Values{}},
	}
	for _, p := range posts {
		p.form.Set("csrf", m.csrf)
		if code, _ := m.post(t, fmt.Sprintf("/a/%d/compte%s", jean.ID, p.path), p.form); code != http.StatusNotFound {
			t.Errorf("Marie POST Jean's %s: %d, want 404", p.path, code)
		}
	}
	// Marie cannot remove Jean's delegation through her own account either.
	if code, _ := m.post(t, fmt.Sprintf("/a/%d/compte/delegations/%d/supprimer", marie.ID, luc.ID), url.Values{"csrf": {m.csrf}}); code != http.StatusNotFound {
		t.Errorf("remove a delegation Marie does not have: %d", code)
	}
	p, _ := n.Accounts.Profile(ctx, jean.ID)
	if p.LastName != "Dupont" || !p.VisibleLogin || !p.VisibleMSS || !p.Dematerialisation || p.Profession != "" {
		t.Fatalf("Jean's profile changed: %+v", p)
	}
	if list, _ := n.Accounts.Delegations(ctx, jean.ID); len(list) != 1 || list[0].Delegate.ID != luc.ID {
		t.Fatalf("Jean's delegations changed: %+v", list)
	}
	// Without the CSRF token (or with another session's), Jean's own POST is refused.
	for _, tok := range []string{"", m.csrf} {
		v := url.Values{"partie": {"visibilite"}}
		if tok != "" {
			v.Set("csrf", tok)
		}
		if code, _ := j.post(t, fmt.Sprintf("/a/%d/compte/informations", jean.ID), v); code != http.StatusForbidden {
			t.Errorf("POST with csrf %q: %d, want 403", tok, code)
		}
	}
	if code, _ := j.post(t, fmt.Sprintf("/a/%d/compte/delegations/%d/supprimer", jean.ID, luc.ID), url.Values{}); code != http.StatusForbidden {
		t.Errorf("remove without csrf: %d", code)
	}
	if p, _ := n.Accounts.Profile(ctx, jean.ID); !p.VisibleLogin {
		t.Fatal("a refused POST changed the visibility")
	}
	// With it, it works (303 to the page).
	if code, _ := j.post(t, fmt.Sprintf("/a/%d/compte/delegations/%d/supprimer", jean.ID, luc.ID), url.Values{"csrf": {j.csrf}}); code != http.StatusSeeOther {
		t.Errorf("remove with csrf: %d", code)
	}
}

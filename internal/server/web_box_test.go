package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/hygie-sante/hygie/internal/account"
	bt "github.com/hygie-sante/hygie/internal/browsertest"
	"github.com/hygie-sante/hygie/internal/device"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/outmail/smarthosttest"
	"github.com/hygie-sante/hygie/internal/store/storetest"
	"github.com/hygie-sante/hygie/internal/trust"
)

// boxWorld is the node of the organisational box tests: the box « Service
// de cardiologie » (cardio@web.test, MSSanté cardiologie@web.test, FINESS,
// responsable and description set by an administrator, its associated
// address outside the platform) whose only member is Jean; Luc (PER) and
// Marie (MED) are platform users not members.
type boxWorld struct {
	n                *testNode
	sh               *smarthosttest.Server
	ca               *trust.TestCA
	base             string
	jean, luc, marie *account.Account
	box              *account.Account
}

func boxNode(t *testing.T) *boxWorld {
	t.Helper()
	ca, err := trust.NewTestCA("Test IGC")
	if err != nil {
		t.Fatal(err)
	}
	w := &boxWorld{ca: ca, sh: smarthosttest.Start(t)}
	w.n = startNode(t, nodeSpec{Hostname: "mx.web.test", Domains: []string{"web.test"}, Issuer: ca,
		DN: pkix.Name{CommonName: "mx.web.test"}, Database: storetest.SQLite(t), Smarthost: w.sh.Addr, SupportURL: profileSupportURL})
	ctx := context.Background()
	w.jean = w.n.addPerson(t, account.PER, "jean@web.test", "jean.dupont@web.test", "Jean", "Dupont")
	w.luc = w.n.addPerson(t, account.PER, "luc@web.test", "luc.petit@web.test", "Luc", "Petit")
	w.marie = w.n.addPerson(t, account.MED, "marie@web.test", "", "Marie", "Martin")
	w.box, err = w.n.Accounts.Create(ctx, account.NewAccount{Structure: "Structure mx.web.test", Kind: account.ORG,
		Login: "cardio@web.test", MSS: "cardiologie@web.test", Label: "Service de cardiologie", FINESS: "310781406",
		Notify: "cardio.secretariat@gmail.example"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.n.Accounts.AddMember(ctx, w.box.Login, w.jean.Login); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`UPDATE accounts SET notify = 'jean.perso@gmail.example' WHERE login = 'jean@web.test'`,
		`UPDATE accounts SET notify = 'luc.perso@gmail.example' WHERE login = 'luc@web.test'`,
		`UPDATE accounts SET responsable = 'Dr Anne Cœur', description = 'Secrétariat du service de cardiologie' WHERE login = 'cardio@web.test'`,
	} {
		if _, err := w.n.St.DB.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	w.base = "http://" + w.n.Addrs["web"]
	return w
}

// boxSwitch chooses the box in the account switcher, as a person would,
// and waits for its mailbox.
func boxSwitch(t *testing.T, ctx context.Context, boxID int64) {
	t.Helper()
	bt.Do(t, ctx, "logged in", bt.WaitVisible("#me"), bt.WaitVisible("#switch-account"))
	bt.Do(t, ctx, "choose the box in the account switcher",
		bt.JS(fmt.Sprintf(`(() => { const s = document.querySelector("#switch-account"); s.value = "%d";
			setTimeout(() => s.dispatchEvent(new Event("change", {bubbles: true})), 0); return true })()`, boxID)),
		bt.WaitVisible(fmt.Sprintf(`a#me[href="/a/%d/compte"]`, boxID)))
	if loc := bt.Location(t, ctx); !strings.HasSuffix(loc, fmt.Sprintf("/a/%d/mail/", boxID)) {
		t.Fatalf("the switcher opened %s", loc)
	}
}

// boxSave clicks « Enregistrer » of form sel and expects « Modifications
// enregistrées ».
func boxSave(t *testing.T, ctx context.Context, what, sel string) {
	t.Helper()
	profileSave(t, ctx, what, sel)
}

// boxJournal returns the box's journal lines as "member|action|detail".
func boxJournal(t *testing.T, w *boxWorld) []string {
	t.Helper()
	es, err := w.n.Accounts.BoxJournal(context.Background(), w.box.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.MemberLogin+"|"+e.Action+"|"+e.Detail)
	}
	return out
}

func boxHas(lines []string, parts ...string) bool {
	for _, l := range lines {
		ok := true
		for _, p := range parts {
			if !strings.Contains(l, p) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

// TestWebBoxSections drives « Gérer mon compte » of an organisational box
// in Chromium, reached from the account switcher: every section of SPEC §3
// with its differences from an individual account, typed, saved, reloaded
// and read back; login accounts added and removed with French refusals,
// the last one kept; the journal shows who did what.
func TestWebBoxSections(t *testing.T) {
	w := boxNode(t)
	ctx := context.Background()
	b := bt.New(t)
	login(t, b, w.base, "jean@web.test", testPassword)
	boxSwitch(t, b, w.box.ID)
	if who := bt.Text(t, b, "#me"); who != "Service de cardiologie" {
		t.Fatalf("acting as %q", who)
	}
	bt.Do(t, b, "Gérer mon compte", bt.Click("#me"), bt.WaitVisible("form#donnees"))
	boxURL := func(section string) string { return fmt.Sprintf("%s/a/%d/compte/%s", w.base, w.box.ID, section) }

	// The menu: every section but Appareils mobiles, and the Journal.
	nav := bt.Text(t, b, "nav.sections")
	for _, s := range []string{"Informations personnelles", "Identifiants de connexion", "Signatures", "Réponse automatique",
		"Notifications", "Délégations", "Dématérialisation", "Journal"} {
		if !strings.Contains(nav, s) {
			t.Errorf("menu lacks %q: %q", s, nav)
		}
	}
	if strings.Contains(nav, "Appareils mobiles") {
		t.Errorf("a box's menu offers Appareils mobiles: %q", nav)
	}

	// Informations personnelles A: téléphone and adresse postale only.
	names := bt.Get(t, b, "count name fields", chromedp.Evaluate[int](`document.querySelectorAll("#last_name, #first_name").length`))
	if names != 0 {
		t.Errorf("a box's form has %d name fields", names)
	}
	bt.Do(t, b, "type A", bt.Fill("#phone", "05 61 77 00 00"), bt.Fill("#postal_address", "CHU Rangueil\n31400 Toulouse"))
	boxSave(t, b, "save A", "form#donnees")
	profileOpen(t, b, boxURL("informations"), "form#donnees")
	if p, q := bt.Value(t, b, "#phone"), bt.Value(t, b, "#postal_address"); p != "05 61 77 00 00" || q != "CHU Rangueil\n31400 Toulouse" {
		t.Errorf("A after reload: %q %q", p, q)
	}
	bt.Do(t, b, "bad phone", bt.Fill("#phone", "appelez-nous"), bt.Click("form#donnees button[type=submit]"), bt.WaitVisible("#phone + .error"))
	if msg := bt.Text(t, b, "#phone + .error"); !strings.Contains(msg, "Numéro de téléphone invalide") {
		t.Errorf("phone error %q", msg)
	}

	// B: raison sociale editable; FINESS, responsable and description
	// read-only with the guide's text and the support link.
	profileOpen(t, b, boxURL("informations"), "form#activite")
	for sel, want := range map[string]string{"#finess": "310781406", "#responsable": "Dr Anne Cœur",
		"#description": "Secrétariat du service de cardiologie"} {
		if got := bt.Text(t, b, sel); got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	editable := bt.Get(t, b, "read-only fields", chromedp.Evaluate[int](`document.querySelectorAll("form#activite input:not([type=hidden]), form#activite textarea").length`))
	if editable != 1 {
		t.Errorf("%d editable fields in B, want only the raison sociale", editable)
	}
	if txt := bt.Text(t, b, "form#activite"); !strings.Contains(txt, "ne sont pas modifiables par les utilisateurs") ||
		!strings.Contains(txt, "contacter l’administrateur Hygie de votre structure") {
		t.Errorf("B text: %q", txt)
	}
	if href := bt.Get(t, b, "support link", chromedp.AttributeValue(chromedp.CSS("form#activite #support-link"), "href")); href.Value != profileSupportURL {
		t.Errorf("support link %q", href.Value)
	}
	bt.Do(t, b, "type B", bt.Fill("#raison_sociale", "CHU de Toulouse — Cardiologie"))
	boxSave(t, b, "save B", "form#activite")
	profileOpen(t, b, boxURL("informations"), "form#activite")
	if v := bt.Value(t, b, "#raison_sociale"); v != "CHU de Toulouse — Cardiologie" {
		t.Errorf("B after reload: %q", v)
	}

	// C: both directory checkboxes.
	if !bt.Checked(t, b, "#visible_login") || !bt.Checked(t, b, "#visible_mss") {
		t.Fatal("visibility not checked by default")
	}
	bt.Do(t, b, "uncheck MSS", bt.Click("#visible_mss"))
	boxSave(t, b, "save C", "form#visibilite")
	profileOpen(t, b, boxURL("informations"), "form#visibilite")
	if !bt.Checked(t, b, "#visible_login") || bt.Checked(t, b, "#visible_mss") {
		t.Error("C not saved")
	}

	// Identifiants de connexion A: the associated address; B: members.
	profileOpen(t, b, boxURL("identifiants"), "#comptes-connexion")
	if got := bt.Text(t, b, "#box-notify"); got != "cardio.secretariat@gmail.example" {
		t.Errorf("associated address %q", got)
	}
	resetForms := bt.Get(t, b, "no password block", chromedp.Evaluate[int](`document.querySelectorAll("#reinitialisation, #comptes").length`))
	if resetForms != 0 {
		t.Error("a box shows the password or default-account blocks")
	}
	addMember := func(addr string) {
		t.Helper()
		bt.Do(t, b, "add "+addr, bt.Fill("#membre", addr), bt.Click("#ajout-membre button[type=submit]"),
			bt.WaitVisible(".flash, #ajout-membre .error"))
	}
	for addr, want := range map[string]string{
		"pas-une-adresse":        "Adresse mail invalide",
		"inconnu@web.test":       "Aucun compte Hygie ne correspond à cette adresse",
		"cardiologie@web.test":   "seul un compte individuel peut être ajouté",
		"jean.dupont@web.test":   "a déjà accès à la boîte organisationnelle",
		"  inconnu@ailleurs.fr ": "Aucun compte Hygie",
	} {
		profileOpen(t, b, boxURL("identifiants"), "#membre")
		addMember(addr)
		if msg := bt.Text(t, b, "#ajout-membre .error"); !strings.Contains(msg, want) {
			t.Errorf("add %q: error %q, want %q", addr, msg, want)
		}
		if v := bt.Value(t, b, "#membre"); v != strings.TrimSpace(addr) {
			t.Errorf("typed address not kept: %q", v)
		}
	}
	profileOpen(t, b, boxURL("identifiants"), "#membre")
	addMember("luc.petit@web.test") // by the MSSanté address: Luc's account
	if f := bt.Text(t, b, ".flash"); f != "Modifications enregistrées" {
		t.Fatalf("add Luc: %q", f)
	}
	profileOpen(t, b, boxURL("identifiants"), "#members")
	if got := bt.Text(t, b, "#members"); !strings.Contains(got, "luc@web.test") || !strings.Contains(got, "jean@web.test") {
		t.Fatalf("members after adding Luc: %q", got)
	}
	bt.Do(t, b, "remove Luc with the cross", bt.Click(`#members li[data-member="luc@web.test"] button.remove`), bt.WaitVisible(".flash"))
	profileOpen(t, b, boxURL("identifiants"), "#members")
	if got := bt.Text(t, b, "#members"); strings.Contains(got, "luc@web.test") {
		t.Fatalf("Luc still a member: %q", got)
	}
	// The last login account cannot be removed.
	bt.Do(t, b, "remove the last member", bt.Click(`#members li[data-member="jean@web.test"] button.remove`),
		bt.WaitVisible("#comptes-connexion .error"))
	if msg := bt.Text(t, b, "#comptes-connexion .error"); !strings.Contains(msg, "Impossible de supprimer le dernier compte de connexion") {
		t.Errorf("last member error %q", msg)
	}
	if ok, _ := w.n.Accounts.IsMember(ctx, w.box.ID, w.jean.ID); !ok {
		t.Fatal("the last member was removed")
	}

	// Signatures: the box's, with the hint that every member sees them.
	profileOpen(t, b, boxURL("signatures"), "#label-new")
	if txt := bt.Text(t, b, "#signature-new"); !strings.Contains(txt, "visible par tous les utilisateurs de ce compte partagé") {
		t.Errorf("signature hint %q", txt)
	}
	bt.Do(t, b, "box signature", bt.Fill("#label-new", "Secrétariat cardiologie"),
		chromedp.SendKeys(chromedp.CSS("#content-new"), "Le secrétariat de cardiologie"),
		bt.Click("#default-new"), bt.Click("#signature-new button[type=submit]"), bt.WaitVisible(".flash"))
	profileOpen(t, b, boxURL("signatures"), ".signature-form")
	sigs, err := w.n.Accounts.Signatures(ctx, w.box.ID)
	if err != nil || len(sigs) != 1 || !sigs[0].Default {
		t.Fatalf("box signatures %+v %v", sigs, err)
	}
	if v := bt.Value(t, b, fmt.Sprintf("#label-%d", sigs[0].ID)); v != "Secrétariat cardiologie" {
		t.Errorf("signature label after reload %q", v)
	}
	if own, _ := w.n.Accounts.Signatures(ctx, w.jean.ID); len(own) != 0 {
		t.Errorf("the box's signature went to Jean's own account: %+v", own)
	}
	// The compose page of the box starts with the box's default signature.
	bt.Do(t, b, "compose as the box", chromedp.Navigate(fmt.Sprintf("%s/a/%d/mail/nouveau", w.base, w.box.ID)), bt.WaitVisible("#to"))
	if page := bt.Get(t, b, "compose page", chromedp.OuterHTML(chromedp.CSS("main"))); !strings.Contains(page, "Le secrétariat de cardiologie") ||
		!strings.Contains(page, "cardiologie@web.test") {
		t.Errorf("box compose lacks the signature or the From: %s", page)
	}

	// Réponse automatique.
	today := time.Now().In(account.Paris)
	start, end := today.Format(time.DateOnly), today.AddDate(0, 0, 5).Format(time.DateOnly)
	profileOpen(t, b, boxURL("reponse-automatique"), "#enabled")
	bt.Do(t, b, "box automatic reply", bt.Click("#enabled"),
		chromedp.SetValue(chromedp.CSS("#start"), start), chromedp.SetValue(chromedp.CSS("#end"), end),
		bt.Fill("#subject", "Secrétariat fermé"), chromedp.SendKeys(chromedp.CSS("#autoreply-body"), "Rouvre lundi."))
	boxSave(t, b, "save automatic reply", "#autoreply-form")
	profileOpen(t, b, boxURL("reponse-automatique"), "#enabled")
	if !bt.Checked(t, b, "#enabled") || bt.Value(t, b, "#subject") != "Secrétariat fermé" || bt.Value(t, b, "#start") != start {
		t.Error("automatic reply not read back")
	}
	if ar, _ := w.n.Accounts.AutoReplyOf(ctx, w.box.ID); !ar.Enabled || ar.Subject != "Secrétariat fermé" {
		t.Errorf("box automatic reply %+v", ar)
	}
	bt.Do(t, b, "turn it off", bt.Click("#enabled"))
	boxSave(t, b, "save automatic reply off", "#autoreply-form")

	// Notifications: the box's address shown, not editable; the daily one.
	profileOpen(t, b, boxURL("notifications"), "#notify_daily")
	if got := bt.Text(t, b, "#notify-address"); got != "cardio.secretariat@gmail.example" {
		t.Errorf("notification address %q", got)
	}
	notifyInputs := bt.Get(t, b, "no address field", chromedp.Evaluate[int](`document.querySelectorAll("input#notify").length`))
	if notifyInputs != 0 {
		t.Error("a member can change the box's associated address")
	}
	bt.Do(t, b, "daily on", bt.Click("#notify_daily"))
	boxSave(t, b, "save notifications", "#notifications-form")
	profileOpen(t, b, boxURL("notifications"), "#notify_daily")
	if !bt.Checked(t, b, "#notify_daily") || !bt.Checked(t, b, "#notify_each") {
		t.Error("notifications not read back")
	}

	// Délégations.
	profileOpen(t, b, boxURL("delegations"), "#delegate")
	bt.Do(t, b, "delegate to nobody", bt.Fill("#delegate", "personne@web.test"), bt.Click("#ajout button[type=submit]"), bt.WaitVisible("#ajout .error"))
	if msg := bt.Text(t, b, "#ajout .error"); !strings.Contains(msg, "Seuls les utilisateurs de Hygie") {
		t.Errorf("delegation error %q", msg)
	}
	bt.Do(t, b, "delegate to Marie", bt.Fill("#delegate", "marie@web.test"), bt.Click("#ajout button[type=submit]"), bt.WaitVisible(".flash"))
	profileOpen(t, b, boxURL("delegations"), "#delegates")
	if got := bt.Text(t, b, "#delegates"); !strings.Contains(got, "marie@web.test") {
		t.Errorf("delegates %q", got)
	}

	// Dématérialisation.
	profileOpen(t, b, boxURL("dematerialisation"), "#dematerialisation")
	if !bt.Checked(t, b, "#dematerialisation") {
		t.Fatal("dematerialisation not checked by default")
	}
	bt.Do(t, b, "uncheck", bt.Click("#dematerialisation"))
	boxSave(t, b, "save dematerialisation", "#dematerialisation-form")
	profileOpen(t, b, boxURL("dematerialisation"), "#dematerialisation")
	if bt.Checked(t, b, "#dematerialisation") {
		t.Error("dematerialisation not saved")
	}

	// No Appareils mobiles for a box.
	jc := profileHTTPLogin(t, w.base, "jean@web.test", w.jean.ID)
	if code, _ := jc.get(t, fmt.Sprintf("/a/%d/compte/appareils", w.box.ID)); code != http.StatusNotFound {
		t.Errorf("box devices page: %d", code)
	}
	if code, _ := jc.get(t, fmt.Sprintf("/a/%d/compte/journal", w.jean.ID)); code != http.StatusNotFound {
		t.Errorf("a person's journal page: %d", code)
	}

	// The journal, seen by a member.
	profileOpen(t, b, boxURL("journal"), "#journal")
	page := bt.Text(t, b, "#journal")
	for _, want := range []string{"jean@web.test", "Ajout d’un compte de connexion", "a ajouté le compte de connexion luc@web.test",
		"a retiré le compte de connexion luc@web.test", "a modifié « Informations personnelles »", "a enregistré la signature « Secrétariat cardiologie »",
		"a modifié « Réponse automatique »", "a modifié « Notifications »", "Délégations : ajout de marie@web.test", "a modifié « Dématérialisation »"} {
		if !strings.Contains(page, want) {
			t.Errorf("journal lacks %q:\n%s", want, page)
		}
	}
}

// TestWebBoxWorking checks work in a box by two members: a message to the
// box read by Jean is read for Luc too (web and IMAP); Jean answers as the
// box with its signature; then Jean removes Luc, and Luc loses the box at
// once: web pages 404, his open IMAP session on the box's INBOX is refused
// at its next command, the device API 404. The journal says who did what.
// The notification of a message to the box goes to the box's associated
// address and to each member's own address per that member's choice.
func TestWebBoxWorking(t *testing.T) {
	w := boxNode(t)
	ctx := context.Background()
	if _, err := w.n.Accounts.AddBoxMember(ctx, w.box.ID, "luc@web.test"); err != nil {
		t.Fatal(err)
	}
	// Luc does not want the box's notifications on his own address.
	if err := w.n.Accounts.SaveAccess(ctx, w.luc.ID, w.luc.ID, map[int64]bool{w.box.ID: false}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.n.Accounts.SaveSignature(ctx, w.box.ID, account.Signature{Label: "Service", HTML: "<p>Service de cardiologie, CHU</p>", Default: true}); err != nil {
		t.Fatal(err)
	}
	if err := w.n.submit(t, "marie@web.test", "marie@web.test", []string{"cardio@web.test"}, "Demande de rendez-vous"); err != nil {
		t.Fatal(err)
	}
	// Notifications: the box's address and Jean's; not Luc's.
	w.sh.WaitFor(t, "cardio.secretariat@gmail.example", 1, 10*time.Second)
	w.sh.WaitFor(t, "jean.perso@gmail.example", 1, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	if got := w.sh.To("luc.perso@gmail.example"); len(got) != 0 {
		t.Errorf("Luc got %d notifications despite his choice", len(got))
	}

	jean := profileHTTPLogin(t, w.base, "jean@web.test", w.jean.ID)
	luc := profileHTTPLogin(t, w.base, "luc@web.test", w.luc.ID)
	boxMail := fmt.Sprintf("/a/%d/mail/", w.box.ID)
	_, list := luc.get(t, boxMail)
	if !strings.Contains(list, "Demande de rendez-vous") || !regexp.MustCompile(`class="[^"]*unread`).MatchString(list) {
		t.Fatalf("Luc's view of the box before reading:\n%s", list)
	}
	ref := regexp.MustCompile(fmt.Sprintf(`/a/%d/mail/lire/(\d+/\d+)`, w.box.ID)).FindStringSubmatch(list)
	if ref == nil {
		t.Fatalf("no message link in the box list")
	}

	// Luc's IMAP session on the box's INBOX, and his paired device.
	ic, err := imapclient.DialStartTLS(w.n.Addrs["imap"], &imapclient.Options{TLSConfig: &tls.Config{RootCAs: w.ca.Pool(), ServerName: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if err := ic.Login("luc@web.test", testPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.Select("Partagé/cardio@web.test/INBOX", nil).Wait(); err != nil {
		t.Fatalf("select the box's INBOX: %v", err)
	}
	seen := func() bool {
		t.Helper()
		// Changes by others reach a session with its next command (RFC 9051 §5.2).
		if err := ic.Noop().Wait(); err != nil {
			t.Fatalf("NOOP: %v", err)
		}
		msgs, err := ic.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("fetch flags: %v %d", err, len(msgs))
		}
		for _, f := range msgs[0].Flags {
			if f == imap.FlagSeen {
				return true
			}
		}
		return false
	}
	if seen() {
		t.Fatal("seen before anyone read it")
	}
	dev := device.New(w.n.St)
	pairing, err := dev.StartPairing(ctx, w.luc.ID, "Téléphone de Luc")
	if err != nil {
		t.Fatal(err)
	}
	paired, err := dev.Pair(ctx, pairing.Secret, "")
	if err != nil {
		t.Fatal(err)
	}
	api := func(path string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, w.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+paired.Credential)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	apiFolders := fmt.Sprintf("/api/v1/accounts/%d/folders", w.box.ID)
	if code := api(apiFolders); code != http.StatusOK {
		t.Fatalf("device API on the box: %d", code)
	}

	// Jean reads: the message is read for Luc too (web and IMAP).
	if code, _ := jean.get(t, boxMail+"lire/"+ref[1]); code != http.StatusOK {
		t.Fatalf("Jean reads: %d", code)
	}
	_, list = luc.get(t, boxMail)
	if regexp.MustCompile(`class="[^"]*unread`).MatchString(list) {
		t.Errorf("Luc still sees the message unread after Jean read it")
	}
	if !seen() {
		t.Error("IMAP: not \\Seen for Luc after Jean read it")
	}

	// Jean answers as the box, with the box's signature.
	jm := mailHTTPLogin(t, w.base, "jean@web.test")
	if code, body := jm.send(w.box.ID, url.Values{"to": {"marie@web.test"}, "subject": {"RE: Demande de rendez-vous"},
		"body": {"Rendez-vous mardi 10 h.\n\n-- \nService de cardiologie, CHU"}, "repond": {ref[1]}}); code != http.StatusOK {
		t.Fatalf("reply as the box: %d %s", code, body)
	}
	in := w.n.inbox(t, w.marie.ID)
	if len(in) == 0 || !strings.Contains(in[len(in)-1], `From: "Service de cardiologie" <cardiologie@web.test>`) {
		t.Fatalf("reply as the box:\n%v", in)
	}
	if id, _ := mailbox.ID(ctx, w.n.St, w.box.ID, mailbox.Sent); id == 0 {
		t.Fatal("no Sent folder for the box")
	}

	// Jean removes Luc: Luc loses the box at once, everywhere.
	_, ident := jean.get(t, fmt.Sprintf("/a/%d/compte/identifiants", w.box.ID))
	if !strings.Contains(ident, fmt.Sprintf("/compte/identifiants/membres/%d/supprimer", w.luc.ID)) {
		t.Fatalf("no cross for Luc:\n%s", ident)
	}
	if code, _ := jean.post(t, fmt.Sprintf("/a/%d/compte/identifiants/membres/%d/supprimer", w.box.ID, w.luc.ID),
		url.Values{"csrf": {jean.csrf}}); code != http.StatusSeeOther {
		t.Fatalf("remove Luc: %d", code)
	}
	for _, p := range []string{boxMail, boxMail + "lire/" + ref[1], fmt.Sprintf("/a/%d/compte/informations", w.box.ID),
		fmt.Sprintf("/a/%d/compte/identifiants", w.box.ID), fmt.Sprintf("/a/%d/compte/journal", w.box.ID)} {
		if code, _ := luc.get(t, p); code != http.StatusNotFound {
			t.Errorf("removed member GET %s: %d", p, code)
		}
	}
	if code, _ := luc.post(t, fmt.Sprintf("/a/%d/compte/identifiants/membres", w.box.ID), url.Values{"csrf": {luc.csrf}, "membre": {"luc@web.test"}}); code != http.StatusNotFound {
		t.Errorf("removed member adds himself back: %d", code)
	}
	if _, err := ic.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect(); err == nil {
		t.Error("IMAP: the open session still reads the box after the removal")
	} else if !strings.Contains(err.Error(), "withdrawn") {
		t.Errorf("IMAP refusal: %v", err)
	}
	if code := api(apiFolders); code != http.StatusNotFound {
		t.Errorf("device API after the removal: %d", code)
	}
	if code := api(fmt.Sprintf("/api/v1/accounts/%d/folders", w.luc.ID)); code != http.StatusOK {
		t.Errorf("device API on Luc's own account: %d", code)
	}
	// The switcher no longer offers the box to Luc.
	if _, own := luc.get(t, fmt.Sprintf("/a/%d/mail/", w.luc.ID)); strings.Contains(own, "cardio@web.test</option>") {
		t.Error("the switcher still offers the box")
	}
	// The last member cannot be removed, not even over HTTP.
	if code, body := jean.post(t, fmt.Sprintf("/a/%d/compte/identifiants/membres/%d/supprimer", w.box.ID, w.jean.ID),
		url.Values{"csrf": {jean.csrf}}); code != http.StatusConflict || !strings.Contains(body, "dernier compte de connexion") {
		t.Errorf("remove the last member: %d", code)
	}

	// The journal: who read, sent, removed.
	lines := boxJournal(t, w)
	for _, want := range [][]string{
		{"jean@web.test|read|", "Demande de rendez-vous"},
		{"jean@web.test|send|", "RE: Demande de rendez-vous", "marie@web.test"},
		{"jean@web.test|member_remove|", "luc@web.test"},
	} {
		if !boxHas(lines, want...) {
			t.Errorf("journal lacks %v:\n%s", want, strings.Join(lines, "\n"))
		}
	}
	// Jean moves the message to the trash: journaled too.
	if code, _ := jean.post(t, boxMail+"supprimer", url.Values{"csrf": {jean.csrf}, "dossier": {strings.Split(ref[1], "/")[0]},
		"uid": {strings.Split(ref[1], "/")[1]}}); code != http.StatusSeeOther {
		t.Fatalf("delete: %d", code)
	}
	if !boxHas(boxJournal(t, w), "jean@web.test|move|", "corbeille") {
		t.Errorf("journal lacks the move:\n%s", strings.Join(boxJournal(t, w), "\n"))
	}
}

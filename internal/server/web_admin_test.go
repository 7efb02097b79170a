package server_test

import (
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hygie-sante/hygie/internal/account"
	bt "github.com/hygie-sante/hygie/internal/browsertest"
	"github.com/hygie-sante/hygie/internal/outmail/smarthosttest"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
	"github.com/hygie-sante/hygie/internal/trust"
)

// adminWaitText waits until the element sel contains want (after a form
// submission, the next page's message).
func adminWaitText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	s, _ := json.Marshal(sel)
	w, _ := json.Marshal(want)
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%s); return !!e && e.textContent.includes(%s) })()`, s, w)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, 2*time.Second)
		ok, err := chromedp.Run(c, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			txt, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			t.Fatalf("%s does not show %q (err %v); page:\n%s", sel, want, err, txt)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// adminSelect chooses the option of value v in the <select> sel, as a
// person picking it in the list.
func adminSelect(sel, v string) chromedp.Action[chromedp.Void] {
	s, _ := json.Marshal(sel)
	val, _ := json.Marshal(v)
	return bt.JS(fmt.Sprintf(`(() => { const e = document.querySelector(%s); e.value = %s; e.dispatchEvent(new Event("change", {bubbles: true})); return true })()`, s, val))
}

// adminLink returns the first link in mail text that goes to path.
func adminLink(t *testing.T, text, path string) string {
	t.Helper()
	l := regexp.MustCompile(`http://\S+` + regexp.QuoteMeta(path) + `\?jeton=[A-Za-z0-9_-]+`).FindString(text)
	if l == "" {
		t.Fatalf("no %s link in %q", path, text)
	}
	return l
}

// TestWebAdminStructureConsole: a structure administrator creates an
// account, changes its type, sends it a password-reset link (the smarthost
// receives it) and reads the change journal; a person without a role sees
// neither the link nor the console.
func TestWebAdminStructureConsole(t *testing.T) {
	n, sh, base := webNode(t)
	ctx := context.Background()
	n.addPerson(t, account.MED, "alice@web.test", "", "Alice", "Admin")
	if err := n.Accounts.SetStructureAdmin(ctx, account.CLI, "Structure mx.web.test", "alice@web.test", true); err != nil {
		t.Fatal(err)
	}
	b := bt.New(t)
	login(t, b, base, "alice@web.test", testPassword)
	bt.Do(t, b, "open the console", bt.WaitVisible("#admin-link"), bt.Click("#admin-link"), bt.WaitVisible("#structures"))
	bt.Do(t, b, "open the structure", bt.Click("#structures a"), bt.WaitVisible("#account-create"))

	// Create a MED account.
	bt.Do(t, b, "create an account",
		adminSelect("#new-kind", "MED"),
		bt.Fill("#new-login", "sophie@web.test"),
		bt.Fill("#new-last", "Martin"),
		bt.Fill("#new-first", "Sophie"),
		bt.Fill("#new-notify", "sophie.perso@gmail.example"),
		bt.Click("#account-create button[type=submit]"))
	adminWaitText(t, b, ".flash", "Compte créé : sophie@web.test")
	if k := bt.Value(t, b, "#kind"); k != "MED" {
		t.Fatalf("type after creation = %q", k)
	}

	// A refused change: PER without an MSSanté address, French message next to the field.
	bt.Do(t, b, "PER without MSSanté address", adminSelect("#kind", "PER"), bt.Click("#admin-fields button[type=submit]"))
	adminWaitText(t, b, "#admin-fields", "adresse MSSanté : saisissez-la")

	// Change the type to PER with its MSSanté address and RPPS.
	bt.Do(t, b, "change the type",
		adminSelect("#kind", "PER"),
		bt.Fill("#mss", "sophie.martin@web.test"),
		bt.Fill("#rpps", "10101010101"),
		bt.Fill("#responsable", "Dr Claire Petit"),
		bt.Click("#admin-fields button[type=submit]"))
	adminWaitText(t, b, ".flash", "Modifications enregistrées")
	bt.Do(t, b, "reload", chromedp.Reload(), bt.WaitVisible("#admin-fields"))
	if k, m, r := bt.Value(t, b, "#kind"), bt.Value(t, b, "#mss"), bt.Value(t, b, "#rpps"); k != "PER" || m != "sophie.martin@web.test" || r != "10101010101" {
		t.Fatalf("after reload: type %q mss %q rpps %q", k, m, r)
	}
	a, err := n.Accounts.ByAddress(ctx, "sophie@web.test")
	if err != nil || a.Kind != account.PER || a.MSS != "sophie.martin@web.test" {
		t.Fatalf("account = %+v, %v", a, err)
	}

	// Send a password-reset link: the person's own mailbox receives it.
	bt.Do(t, b, "send a reset link", bt.Click("#send-reset button"))
	adminWaitText(t, b, ".flash", "sophie.perso@gmail.example")
	mails := sh.WaitFor(t, "sophie.perso@gmail.example", 1, 10*time.Second)
	adminLink(t, mails[0].Data, "/reinitialisation")

	// Disable the account.
	bt.Do(t, b, "disable", bt.Click("#account-state button"))
	adminWaitText(t, b, ".flash", "Compte désactivé")
	adminWaitText(t, b, "#state", "désactivé")

	// The journal shows who changed what, before and after.
	bt.Do(t, b, "journal", chromedp.Navigate(base+"/admin/"), bt.WaitVisible(".admin-nav"),
		bt.Click(".admin-nav a[href='/admin/journal']"), bt.WaitVisible("#journal"))
	journal := bt.Text(t, b, "#journal")
	for _, want := range []string{"alice@web.test", "Création du compte", "Type de compte", "MED", "PER", "Adresse MSSanté",
		"sophie.martin@web.test", "Lien de réinitialisation envoyé", "État du compte", "désactivé", "Dr Claire Petit"} {
		if !strings.Contains(journal, want) {
			t.Errorf("journal lacks %q:\n%s", want, journal)
		}
	}
	if bt.Text(t, b, "#journal tr[data-action=type] .before") != "MED" || bt.Text(t, b, "#journal tr[data-action=type] .after") != "PER" {
		t.Errorf("type change row: %q", bt.Text(t, b, "#journal tr[data-action=type]"))
	}

	// A structure administrator is no operator: the queue is forbidden.
	bt.Do(t, b, "queue page", chromedp.Navigate(base+"/admin/file"), bt.WaitVisible("body"))
	if txt := bt.Text(t, b, "body"); !strings.Contains(txt, "Réservé aux opérateurs") {
		t.Errorf("queue page for a structure admin: %q", txt)
	}

	// Jean has no role: no link, and the console does not exist for him.
	j := bt.New(t)
	login(t, j, base, "jean@web.test", testPassword)
	bt.Do(t, j, "mailbox", bt.WaitVisible("#me"))
	if ok := bt.Get(t, j, "admin link", chromedp.Evaluate[bool](`document.querySelector("#admin-link") !== null`)); ok {
		t.Error("a person without role sees « Administration »")
	}
	bt.Do(t, j, "console", chromedp.Navigate(base+"/admin/"), bt.WaitVisible("body"))
	if txt := bt.Text(t, j, "body"); !strings.Contains(txt, "404") {
		t.Errorf("console for jean: %q", txt)
	}
}

// TestWebAdminOperatorConsole: a platform operator creates a structure,
// names its administrator, sees the outbound queue (a delivery that keeps
// failing, retried from the console) and the whitelist status.
func TestWebAdminOperatorConsole(t *testing.T) {
	ca, err := trust.NewTestCA("Test IGC")
	if err != nil {
		t.Fatal(err)
	}
	sh := smarthosttest.Start(t)
	wl := writeWhitelist(t, map[string]pkix.Name{"ailleurs.test": {CommonName: "mx.ailleurs.test"}})
	n := startNode(t, nodeSpec{Hostname: "mx.op.test", Domains: []string{"op.test"}, Issuer: ca,
		DN: pkix.Name{CommonName: "mx.op.test"}, Database: storetest.SQLite(t), Smarthost: sh.Addr,
		Whitelist: wl, Routes: map[string]string{"ailleurs.test": closedPort(t)},
		InitialBackoff: time.Hour, MaxBackoff: time.Hour})
	base := "http://" + n.Addrs["web"]
	ctx := context.Background()
	n.addPerson(t, account.PER, "olga@op.test", "olga.ops@op.test", "Olga", "Opératrice")
	n.addPerson(t, account.MED, "paul@op.test", "", "Paul", "Futur-Admin")
	if err := n.Accounts.SetOperator(ctx, account.CLI, "olga@op.test", true); err != nil {
		t.Fatal(err)
	}
	// A delivery to another operator that cannot be reached stays queued.
	if err := n.submit(t, "olga@op.test", "olga.ops@op.test", []string{"dr@ailleurs.test"}, "Compte rendu"); err != nil {
		t.Fatal(err)
	}

	b := bt.New(t)
	login(t, b, base, "olga@op.test", testPassword)
	bt.Do(t, b, "console", bt.WaitVisible("#admin-link"), bt.Click("#admin-link"), bt.WaitVisible("#structure-create"))
	bt.Do(t, b, "create a structure",
		bt.Fill("#structure-name", "Clinique des Lilas"),
		bt.Fill("#structure-finess", "123"),
		bt.Click("#structure-create button"))
	adminWaitText(t, b, "#structure-create", "9 chiffres")
	bt.Do(t, b, "create a structure (good FINESS)",
		bt.Fill("#structure-finess", "750000001"),
		bt.Click("#structure-create button"))
	adminWaitText(t, b, ".flash", "Structure créée : Clinique des Lilas")
	bt.Do(t, b, "name its administrator", bt.Fill("#admin-login", "paul@op.test"), bt.Click("#admin-add button"))
	adminWaitText(t, b, ".flash", "paul@op.test administre désormais Clinique des Lilas")
	adminWaitText(t, b, "#admins", "paul@op.test")
	st, err := n.Accounts.Structures(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var lilas int64
	for _, s := range st {
		if s.Name == "Clinique des Lilas" {
			lilas = s.ID
		}
	}
	roles, err := n.Accounts.RolesOf(ctx, mustAccount(t, n, "paul@op.test").ID)
	if err != nil || !roles.Administers(lilas) || roles.Operator {
		t.Fatalf("paul's roles = %+v, %v", roles, err)
	}

	// The outbound queue: the failing delivery, its attempts and error.
	eventually(t, 15*time.Second, "a failed attempt", func() bool {
		var attempts int
		n.St.QueryRow(ctx, `SELECT COALESCE(MAX(attempts), 0) FROM jobs WHERE kind = 'remote'`).Scan(&attempts)
		return attempts > 0
	})
	bt.Do(t, b, "queue", chromedp.Navigate(base+"/admin/"), bt.WaitVisible(".admin-nav"),
		bt.Click(".admin-nav a[href='/admin/file']"), bt.WaitVisible("#queue"))
	if a := bt.Text(t, b, "#queue .attempts"); a == "0" || a == "" {
		t.Errorf("attempts shown = %q", a)
	}
	if e := bt.Text(t, b, "#queue .last-error"); e == "" {
		t.Error("no last error shown")
	}
	bt.Do(t, b, "retry", bt.Click("#queue button.retry"))
	adminWaitText(t, b, ".flash", "tenté de nouveau")
	bt.Do(t, b, "drop", bt.Click("#queue button.drop"))
	adminWaitText(t, b, ".flash", "supprimé de la file")
	bt.Do(t, b, "queue empty", bt.WaitVisible("#queue-empty"))

	// The trust space: location, last load, domains.
	bt.Do(t, b, "trust", bt.Click(".admin-nav a[href='/admin/confiance']"), bt.WaitVisible("#trust"))
	if loc := bt.Text(t, b, "#trust-location"); !strings.Contains(loc, "listeblanche.xml") {
		t.Errorf("location = %q", loc)
	}
	if d := bt.Text(t, b, "#trust-domains"); d != "1" {
		t.Errorf("domains = %q", d)
	}
	if l := bt.Text(t, b, "#trust-last-load"); l == "jamais" {
		t.Error("whitelist never loaded")
	}
	if e := bt.Text(t, b, "#trust-error"); e != "aucune" {
		t.Errorf("error = %q", e)
	}

	// The journal has the structure, the role and the queue actions.
	bt.Do(t, b, "journal", bt.Click(".admin-nav a[href='/admin/journal']"), bt.WaitVisible("#journal"))
	journal := bt.Text(t, b, "#journal")
	for _, want := range []string{"Création de la structure", "Attribution d'un rôle", "paul@op.test", "Relance d'un envoi", "Suppression d'un envoi"} {
		if !strings.Contains(journal, want) {
			t.Errorf("journal lacks %q:\n%s", want, journal)
		}
	}
}

func mustAccount(t *testing.T, n *testNode, addr string) *account.Account {
	t.Helper()
	a, err := n.Accounts.ByAddress(context.Background(), addr)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestWebSignup: a person asks for an account on the public form, confirms
// the personal address from the mailed link, the structure's administrator
// accepts in the console, the person sets a password from the second mail
// and logs in. A request for an address already taken gets the same answer.
func TestWebSignup(t *testing.T) {
	n, sh, base := webNode(t)
	ctx := context.Background()
	n.addPerson(t, account.MED, "alice@web.test", "", "Alice", "Admin")
	if err := n.Accounts.SetStructureAdmin(ctx, account.CLI, "Structure mx.web.test", "alice@web.test", true); err != nil {
		t.Fatal(err)
	}
	sid := mustAccount(t, n, "alice@web.test").StructureID

	p := bt.New(t)
	signup := func(login, email string) {
		bt.Do(t, p, "sign-up form "+login, chromedp.Navigate(base+"/connexion"), bt.WaitVisible("#signup-link"),
			bt.Click("#signup-link"), bt.WaitVisible("#signup"),
			bt.Fill("#last_name", "Moreau"), bt.Fill("#first_name", "Léa"),
			bt.Fill("#login", login), bt.Fill("#email", email),
			adminSelect("#structure", fmt.Sprint(sid)), bt.Fill("#profession", "Secrétaire médicale"),
			bt.Click("#signup button[type=submit]"))
	}
	// A personal address on the platform is refused, in French, next to the field.
	signup("lea@web.test", "jean@web.test")
	adminWaitText(t, p, "#signup", "hors de la plateforme")
	// A taken address gets the same answer as a free one.
	signup("jean@web.test", "someone@gmail.example")
	bt.Do(t, p, "answer for a taken address", bt.WaitVisible("#signup-sent"))
	taken := bt.Text(t, p, "#signup-sent")
	signup("lea@web.test", "lea.moreau@gmail.example")
	bt.Do(t, p, "answer", bt.WaitVisible("#signup-sent"))
	if free := bt.Text(t, p, "#signup-sent"); free != taken {
		t.Errorf("answers differ:\n%q\n%q", free, taken)
	}

	// Confirm the personal address.
	mails := sh.WaitFor(t, "lea.moreau@gmail.example", 1, 10*time.Second)
	bt.Do(t, p, "confirm", chromedp.Navigate(adminLink(t, mails[0].Data, "/inscription/confirmation")),
		bt.WaitVisible("#signup-confirm button"), bt.Click("#signup-confirm button"), bt.WaitVisible("#signup-confirmed"))

	// The administrator sees the request (the unconfirmed one is not listed) and accepts it.
	a := bt.New(t)
	login(t, a, base, "alice@web.test", testPassword)
	bt.Do(t, a, "structure page", bt.WaitVisible("#me"), chromedp.Navigate(fmt.Sprintf("%s/admin/s/%d/", base, sid)), bt.WaitVisible("#signups"))
	if rows := bt.Get(t, a, "requests", chromedp.Evaluate[int](`document.querySelectorAll("#signups tbody tr").length`)); rows != 1 {
		t.Fatalf("%d requests listed, want 1 (the confirmed one)", rows)
	}
	bt.Do(t, a, "accept", bt.Click("#signups tr[data-login='lea@web.test'] button.accept"))
	adminWaitText(t, a, ".flash", "Demande acceptée")
	acc := mustAccount(t, n, "lea@web.test")
	if acc.Kind != account.MED || acc.Notify != "lea.moreau@gmail.example" || acc.HasPassword() {
		t.Fatalf("account = %+v", acc)
	}

	// The person sets a password from the mailed link and logs in.
	mails = sh.WaitFor(t, "lea.moreau@gmail.example", 2, 10*time.Second)
	link := adminLink(t, mails[1].Data, "/reinitialisation")
	bt.Do(t, p, "set the password", chromedp.Navigate(link), bt.WaitVisible("#password"),
		bt.Fill("#password", "mon-premier-mot-de-passe"), bt.Fill("#confirm", "mon-premier-mot-de-passe"),
		bt.Click("button[type=submit]"), bt.WaitVisible(".flash"))
	login(t, p, base, "lea@web.test", "mon-premier-mot-de-passe")
	bt.Do(t, p, "logged in", bt.WaitVisible("#me"))
	if who := bt.Text(t, p, "#me"); who != "Léa Moreau" {
		t.Fatalf("header shows %q", who)
	}

	// A refused request: the person is told by mail.
	if err := n.Accounts.SubmitSignup(ctx, account.SignupForm{FirstName: "Marc", LastName: "Refus", Login: "marc@web.test",
		Email: "marc@gmail.example", StructureID: sid}, nil, "127.0.0.1", "tok-marc", func(*store.Tx, account.SignupForm) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := n.Accounts.ConfirmSignup(ctx, "tok-marc"); err != nil {
		t.Fatal(err)
	}
	bt.Do(t, a, "refuse", chromedp.Navigate(fmt.Sprintf("%s/admin/s/%d/", base, sid)), bt.WaitVisible("#signups"),
		bt.Click("#signups tr[data-login='marc@web.test'] button.refuse"))
	adminWaitText(t, a, ".flash", "Demande refusée")
	refused := sh.WaitFor(t, "marc@gmail.example", 1, 10*time.Second)
	if !strings.Contains(refused[0].Data, "pas =C3=A9t=C3=A9 accept") && !strings.Contains(refused[0].Data, "pas été accept") {
		t.Errorf("refusal mail: %q", refused[0].Data)
	}
	if _, err := n.Accounts.ByAddress(ctx, "marc@web.test"); err == nil {
		t.Error("refused request created an account")
	}
}

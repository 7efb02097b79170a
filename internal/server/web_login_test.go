package server_test

import (
	"context"
	"crypto/x509/pkix"
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

// webNode starts a node with a smarthost and one person whose notification
// address is outside the platform.
func webNode(t *testing.T) (*testNode, *smarthosttest.Server, string) {
	t.Helper()
	ca, err := trust.NewTestCA("Test IGC")
	if err != nil {
		t.Fatal(err)
	}
	sh := smarthosttest.Start(t)
	n := startNode(t, nodeSpec{Hostname: "mx.web.test", Domains: []string{"web.test"}, Issuer: ca,
		DN: pkix.Name{CommonName: "mx.web.test"}, Database: storetest.SQLite(t), Smarthost: sh.Addr})
	ctx := context.Background()
	n.addPerson(t, account.PER, "jean@web.test", "jean.dupont@web.test", "Jean", "Dupont")
	if _, err := n.St.DB.ExecContext(ctx, `UPDATE accounts SET notify = 'jean.perso@gmail.example' WHERE login = 'jean@web.test'`); err != nil {
		t.Fatal(err)
	}
	return n, sh, "http://" + n.Addrs["web"]
}

func login(t *testing.T, ctx context.Context, base, user, password string) {
	t.Helper()
	bt.Do(t, ctx, "login as "+user,
		chromedp.Navigate(base+"/"),
		bt.WaitVisible("#login"),
		bt.Fill("#login", user),
		bt.Fill("#password", password),
		bt.Click("button[type=submit]"),
	)
}

// TestWebLoginAndPasswordReset drives the login page, logout, and the
// « Mot de passe oublié ? » flow in Chromium, reading the reset mail from
// the smarthost.
func TestWebLoginAndPasswordReset(t *testing.T) {
	n, sh, base := webNode(t)
	browser := bt.New(t)

	// Wrong password: a French message next to the form.
	login(t, browser, base, "jean@web.test", "wrong-password")
	bt.Do(t, browser, "error shown", bt.WaitVisible(".error"))
	if msg := bt.Text(t, browser, ".error"); !strings.Contains(msg, "Adresse ou mot de passe incorrect") {
		t.Fatalf("error = %q", msg)
	}
	// Right password: the default account opens, the header shows the name.
	login(t, browser, base, "jean@web.test", testPassword)
	bt.Do(t, browser, "mailbox page", bt.WaitVisible("#me"))
	if who := bt.Text(t, browser, "#me"); who != "Jean Dupont" {
		t.Fatalf("header shows %q", who)
	}
	if loc := bt.Location(t, browser); !strings.Contains(loc, "/mail/") {
		t.Fatalf("after login at %s", loc)
	}
	// A second browser (another session of the same person).
	other := bt.New(t)
	login(t, other, base, "jean@web.test", testPassword)
	bt.Do(t, other, "second session", bt.WaitVisible("#me"))

	// Logout ends the session: going back asks to log in again.
	bt.Do(t, browser, "logout", bt.Click("form[action='/deconnexion'] button"), bt.WaitVisible("#login"))
	bt.Do(t, browser, "back to the mailbox", chromedp.Navigate(base+"/"), bt.WaitVisible("#login"))

	// « Mot de passe oublié ? »
	bt.Do(t, browser, "forgot password",
		bt.Click("a[href='/mot-de-passe-oublie']"),
		bt.WaitVisible("#login"),
		bt.Fill("#login", "jean@web.test"),
		bt.Click("button[type=submit]"),
		bt.WaitVisible("p.card"),
	)
	// The same answer for an unknown address, and no mail.
	bt.Do(t, browser, "forgot unknown", chromedp.Navigate(base+"/mot-de-passe-oublie"), bt.WaitVisible("#login"),
		bt.Fill("#login", "nobody@web.test"), bt.Click("button[type=submit]"), bt.WaitVisible("p.card"))
	mails := sh.WaitFor(t, "jean.perso@gmail.example", 1, 10*time.Second)
	if len(sh.All()) != 1 {
		t.Fatalf("%d mails sent, want only the one for the existing account", len(sh.All()))
	}
	link := regexp.MustCompile(`http://\S+/reinitialisation\?jeton=[A-Za-z0-9_-]+`).FindString(mails[0].Data)
	if link == "" {
		t.Fatalf("no reset link in %q", mails[0].Data)
	}
	bt.Do(t, browser, "reset page", chromedp.Navigate(link), bt.WaitVisible("#password"),
		bt.Fill("#password", "short"), bt.Fill("#confirm", "short"), bt.Click("button[type=submit]"), bt.WaitVisible(".error"))
	if msg := bt.Text(t, browser, ".error"); !strings.Contains(msg, "au moins") {
		t.Fatalf("policy error = %q", msg)
	}
	bt.Do(t, browser, "set new password",
		bt.Fill("#password", "un-nouveau-mot-de-passe"), bt.Fill("#confirm", "un-nouveau-mot-de-passe"),
		bt.Click("button[type=submit]"), bt.WaitVisible(".flash"))

	// The old password no longer works, the new one does.
	if _, err := n.Accounts.Authenticate(context.Background(), "jean@web.test", testPassword); err == nil {
		t.Fatal("old password still accepted")
	}
	login(t, browser, base, "jean@web.test", "un-nouveau-mot-de-passe")
	bt.Do(t, browser, "login with the new password", bt.WaitVisible("#me"))
	// The other session has ended.
	bt.Do(t, other, "other session ended", chromedp.Navigate(base+"/"), bt.WaitVisible("#login"))
	// The link is single-use.
	bt.Do(t, browser, "link reused", chromedp.Navigate(link), bt.WaitVisible(".error"))
	if msg := bt.Text(t, browser, ".error"); !strings.Contains(msg, "n'est plus valable") {
		t.Fatalf("reused link: %q", msg)
	}
}

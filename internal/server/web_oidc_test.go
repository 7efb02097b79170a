package server_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/auth/oidc/oidctest"
	bt "github.com/hygie-sante/hygie/internal/browsertest"
)

// TestWebOIDCCardLogin drives « Carte CPS / e-CPS » in Chromium against an
// in-process Pro Santé Connect stand-in that approves a test identity:
// first login → prove the account with its password → associated; log
// out; log in with the card alone; see the mode in Identifiants de
// connexion B; dissociate it with the cross; associate it again from there.
func TestWebOIDCCardLogin(t *testing.T) {
	n, cps, _, base := oidcNode(t, "ES256")
	jean := n.addPerson(t, account.PER, "jean@oidc.test", "jean.dupont@oidc.test", "Jean", "Dupont")
	cps.SetUser(oidctest.PSCUser("810012345678", "JEAN", "DUPONT", "jean.perso@example.test", "310000000"))
	creds := base + "/a/" + strconv.FormatInt(jean.ID, 10) + "/compte/identifiants"
	browser := bt.New(t)

	// First login with the card: unknown identity, prove the account once.
	bt.Do(t, browser, "login page offers the card",
		chromedp.Navigate(base+"/connexion"),
		bt.WaitVisible("#login-cps"),
		bt.Click("#login-cps"),
		bt.WaitVisible("#associer"),
	)
	if who := bt.Text(t, browser, "#oidc-who"); who != "Jean Dupont" {
		t.Fatalf("association page names %q", who)
	}
	bt.Do(t, browser, "prove the account",
		bt.Fill("#login", "jean@oidc.test"),
		bt.Fill("#password", testPassword),
		bt.Click("#associate"),
		bt.WaitVisible("#me"),
	)
	if f := bt.Text(t, browser, ".flash"); !strings.Contains(f, "Carte CPS / e-CPS") || !strings.Contains(f, "associé") {
		t.Fatalf("flash after association: %q", f)
	}

	// Log out, then in with the card alone.
	bt.Do(t, browser, "logout", bt.Click("form[action='/deconnexion'] button"), bt.WaitVisible("#login"))
	bt.Do(t, browser, "card login", bt.Click("#login-cps"), bt.WaitVisible("#me"))
	if who := bt.Text(t, browser, "#me"); who != "Jean Dupont" {
		t.Fatalf("logged in as %q", who)
	}

	// Identifiants de connexion B lists the card with a cross.
	bt.Do(t, browser, "identifiants", chromedp.Navigate(creds), bt.WaitVisible("#mode-cps .mode-subject"))
	if s := bt.Text(t, browser, "#mode-cps .mode-subject"); s != "810012345678" {
		t.Fatalf("listed subject %q", s)
	}
	if p := bt.Text(t, browser, "#mode-password"); !strings.Contains(p, "défini") {
		t.Fatalf("password line %q", p)
	}
	bt.Do(t, browser, "dissociate with the cross", bt.Click("#mode-cps button.remove"), bt.WaitVisible(".flash"))
	if f := bt.Text(t, browser, ".flash"); !strings.Contains(f, "dissocié") {
		t.Fatalf("flash %q", f)
	}
	bt.Do(t, browser, "reload", chromedp.Navigate(creds), bt.WaitVisible("#mode-cps"))
	if s := bt.Text(t, browser, "#mode-cps"); !strings.Contains(s, "non associé") {
		t.Fatalf("after dissociation: %q", s)
	}
	if _, err := n.Accounts.ByLoginMode(context.Background(), "cps", "810012345678"); err == nil {
		t.Fatal("still associated in the store")
	}

	// « Associer » from Identifiants B (the person is logged in: no password asked).
	bt.Do(t, browser, "associate from Identifiants B",
		bt.Click("#mode-cps a.associate"),
		bt.WaitVisible("#mode-cps .mode-subject"),
	)
	if f := bt.Text(t, browser, ".flash"); !strings.Contains(f, "associé") {
		t.Fatalf("flash %q", f)
	}
}

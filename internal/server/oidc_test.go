package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/auth/oidc/oidctest"
	"github.com/hygie-sante/hygie/internal/config"
	"github.com/hygie-sante/hygie/internal/server"
	"github.com/hygie-sante/hygie/internal/store/storetest"
	"github.com/hygie-sante/hygie/internal/trust"
)

// oidcNode starts a node whose « Carte CPS / e-CPS » mode is a test
// provider signing with cpsAlg, and « PASS » one signing with HS256.
func oidcNode(t *testing.T, cpsAlg string) (*testNode, *oidctest.Provider, *oidctest.Provider, string) {
	t.Helper()
	ca, err := trust.NewTestCA("Test IGC")
	if err != nil {
		t.Fatal(err)
	}
	cps, pass := oidctest.Start(t, cpsAlg), oidctest.Start(t, "HS256")
	n := startNode(t, nodeSpec{Hostname: "mx.oidc.test", Domains: []string{"oidc.test"}, Issuer: ca,
		DN: pkix.Name{CommonName: "mx.oidc.test"}, Database: storetest.SQLite(t),
		BeforeStart: func(n *server.Node) {
			n.Cfg.OIDC = config.OIDC{
				CPS:        config.OIDCProvider{Issuer: cps.URL, ClientID: cps.ClientID, ClientSecret: cps.ClientSecret},
				PASS:       config.OIDCProvider{Issuer: pass.URL, ClientID: pass.ClientID, ClientSecret: pass.ClientSecret},
				MSSPattern: "{first}.{last}@medecin.{domain}",
			}
		}})
	return n, cps, pass, "http://" + n.Addrs["web"]
}

// oidcBrowser is a cookie-keeping HTTP client that follows redirects
// (through the provider and back).
func oidcBrowser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second}
}

// fetch returns the final URL path, status and (unescaped) body.
func fetch(t *testing.T, c *http.Client, method, u string, form url.Values) (string, int, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = c.PostForm(u, form)
	} else {
		resp, err = c.Get(u)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.Request.URL.Path, resp.StatusCode, html.UnescapeString(string(b))
}

func TestOIDCLoginPageButtons(t *testing.T) {
	_, _, _, base := oidcNode(t, "ES256")
	_, status, body := fetch(t, oidcBrowser(t), "GET", base+"/connexion", nil)
	if status != 200 || !strings.Contains(body, `href="/connexion/cps"`) || !strings.Contains(body, "Carte CPS / e-CPS") ||
		!strings.Contains(body, `href="/connexion/pass"`) {
		t.Fatalf("login page %d:\n%s", status, body)
	}
	if _, status, _ := fetch(t, oidcBrowser(t), "GET", base+"/connexion/facebook", nil); status != 404 {
		t.Fatalf("unknown mode: %d", status)
	}
}

// TestOIDCAssociation: RPPS direct association; an unknown identity
// proves an account with its password once; then logs in directly.
func TestOIDCAssociation(t *testing.T) {
	for _, alg := range []string{"ES256", "HS256"} {
		t.Run(alg, func(t *testing.T) {
			n, cps, pass, base := oidcNode(t, alg)
			ctx := context.Background()
			jean := n.addPerson(t, account.PER, "jean@oidc.test", "jean.dupont@oidc.test", "Jean", "Dupont")
			if _, err := n.St.DB.ExecContext(ctx, `UPDATE accounts SET rpps = '10012345678' WHERE id = ?`, jean.ID); err != nil {
				t.Fatal(err)
			}
			anne := n.addPerson(t, account.MED, "anne@oidc.test", "", "Anne", "Martin")

			// Jean's card carries his RPPS: associated at once, logged in.
			cps.SetUser(oidctest.PSCUser("810012345678", "JEAN", "DUPONT", "", "310000000"))
			c := oidcBrowser(t)
			path, status, _ := fetch(t, c, "GET", base+"/connexion/cps", nil)
			if status != 200 || path != "/a/"+strconv.FormatInt(jean.ID, 10)+"/mail/" {
				t.Fatalf("RPPS login ended at %s (%d)", path, status)
			}
			if a, err := n.Accounts.ByLoginMode(ctx, "cps", "810012345678"); err != nil || a.ID != jean.ID {
				t.Fatalf("not associated: %v", err)
			}
			q := cps.AuthorizeRequests()[0]
			if q.Get("scope") != "openid scope_all" || q.Get("acr_values") != "eidas1" || q.Get("code_challenge") == "" {
				t.Fatalf("authorization request %v", q)
			}
			// The CPS access token now opens Jean's account for IMAP/SMTP.
			if id, err := n.Tokens.ValidateAccessToken(ctx, cps.AccessToken(time.Minute)); err != nil || id != jean.ID {
				t.Fatalf("access token: %d %v", id, err)
			}
			if _, err := n.Tokens.ValidateAccessToken(ctx, cps.AccessToken(-time.Hour)); err == nil {
				t.Fatal("expired access token accepted")
			}
			// A mail client logs in over IMAP with SASL XOAUTH2 and that token.
			ic, err := imapclient.DialStartTLS(n.Addrs["imap"], &imapclient.Options{TLSConfig: &tls.Config{RootCAs: n.issuer.Pool(), ServerName: "127.0.0.1"}})
			if err != nil {
				t.Fatal(err)
			}
			defer ic.Close()
			if err := ic.Authenticate(clientXOAuth2{"jean@oidc.test", cps.AccessToken(time.Minute)}); err != nil {
				t.Fatalf("IMAP XOAUTH2 with the CPS access token: %v", err)
			}
			if _, err := ic.Select("INBOX", nil).Wait(); err != nil {
				t.Fatalf("SELECT after XOAUTH2: %v", err)
			}

			// Anne logs in through PASS, unknown: she proves her account once.
			pass.SetUser(map[string]any{"sub": "pass-anne", "given_name": "Anne", "family_name": "Martin", "email": "anne@region.example"})
			c = oidcBrowser(t)
			path, _, body := fetch(t, c, "GET", base+"/connexion/pass", nil)
			if path != "/connexion/associer" || !strings.Contains(body, "Associer") || strings.Contains(body, "Créer mon compte") {
				t.Fatalf("association page at %s:\n%s", path, body)
			}
			_, status, body = fetch(t, c, "POST", base+"/connexion/associer", url.Values{"login": {"anne@oidc.test"}, "password": {"wrong-password"}})
			if status != 401 || !strings.Contains(body, "Adresse ou mot de passe incorrect") {
				t.Fatalf("wrong password: %d", status)
			}
			path, status, body = fetch(t, c, "POST", base+"/connexion/associer", url.Values{"login": {"anne@oidc.test"}, "password": {testPassword}})
			if status != 200 || path != "/a/"+strconv.FormatInt(anne.ID, 10)+"/mail/" || !strings.Contains(body, "associé à votre compte") {
				t.Fatalf("association ended at %s (%d)", path, status)
			}
			// The pending identity is single use.
			if _, status, _ := fetch(t, c, "POST", base+"/connexion/associer", url.Values{"login": {"jean@oidc.test"}, "password": {testPassword}}); status != 400 {
				t.Fatalf("pending identity reused: %d", status)
			}
			// Next time, PASS logs Anne in without a password.
			c = oidcBrowser(t)
			if path, _, _ := fetch(t, c, "GET", base+"/connexion/pass", nil); path != "/a/"+strconv.FormatInt(anne.ID, 10)+"/mail/" {
				t.Fatalf("PASS login ended at %s", path)
			}
		})
	}
}

// TestOIDCRefusals: wrong acr, wrong audience, expired token, bad nonce,
// missing or replayed state: each refused with a clear French message,
// and nobody logged in.
func TestOIDCRefusals(t *testing.T) {
	n, cps, _, base := oidcNode(t, "ES256")
	n.addPerson(t, account.PER, "jean@oidc.test", "", "Jean", "Dupont")
	cps.SetUser(oidctest.PSCUser("810012345678", "JEAN", "DUPONT", "", "310000000"))
	for _, tc := range []struct {
		name   string
		mutate func(map[string]any)
		want   string
	}{
		{"wrong acr", func(c map[string]any) { c["acr"] = "eidas2" }, "niveau d’authentification n’est pas suffisant"},
		{"wrong audience", func(c map[string]any) { c["aud"] = "un-autre-client" }, "n’est pas destiné à Hygie"},
		{"expired", func(c map[string]any) { c["exp"] = time.Now().Add(-time.Hour).Unix() }, "a expiré"},
		{"bad nonce", func(c map[string]any) { c["nonce"] = "rejoué" }, "ne correspond pas à cette demande de connexion (nonce)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cps.SetIDTokenMutator(tc.mutate)
			defer cps.SetIDTokenMutator(nil)
			path, status, body := fetch(t, oidcBrowser(t), "GET", base+"/connexion/cps", nil)
			if status != 401 || path != "/connexion/cps/retour" || !strings.Contains(body, tc.want) {
				t.Fatalf("ended at %s (%d), want %q in:\n%s", path, status, tc.want, body)
			}
		})
	}

	t.Run("missing state", func(t *testing.T) {
		_, status, body := fetch(t, oidcBrowser(t), "GET", base+"/connexion/cps/retour?code=abc", nil)
		if status != 400 || !strings.Contains(body, "paramètre state absent") {
			t.Fatalf("%d:\n%s", status, body)
		}
	})
	t.Run("replayed state", func(t *testing.T) {
		// Stop at the callback to replay it.
		c := oidcBrowser(t)
		var callback string
		c.CheckRedirect = func(r *http.Request, via []*http.Request) error {
			if r.URL.Path == "/connexion/cps/retour" && callback == "" {
				callback = r.URL.String()
			}
			return nil
		}
		if path, status, _ := fetch(t, c, "GET", base+"/connexion/cps", nil); status != 200 || path != "/connexion/associer" {
			t.Fatalf("first use ended at %s (%d)", path, status)
		}
		_, status, body := fetch(t, c, "GET", callback, nil)
		if status != 400 || !strings.Contains(body, "a déjà été utilisée") {
			t.Fatalf("replay: %d:\n%s", status, body)
		}
		// Another browser cannot use a state it did not start either.
		c2 := oidcBrowser(t)
		c2.CheckRedirect = func(r *http.Request, via []*http.Request) error {
			if r.URL.Path == "/connexion/cps/retour" {
				callback = r.URL.String()
				return http.ErrUseLastResponse
			}
			return nil
		}
		fetch(t, c2, "GET", base+"/connexion/cps", nil)
		_, status, _ = fetch(t, oidcBrowser(t), "GET", callback, nil)
		if status != 400 {
			t.Fatalf("state from another browser: %d", status)
		}
	})
}

// TestOIDCJoin: a health professional without an account creates one from
// the card: in the structure whose FINESS matches, or as a pending request.
func TestOIDCJoin(t *testing.T) {
	n, cps, _, base := oidcNode(t, "HS256")
	ctx := context.Background()
	if _, err := n.Accounts.CreateStructure(ctx, "Clinique Exemple", "310000000"); err != nil {
		t.Fatal(err)
	}
	cps.SetUser(oidctest.PSCUser("810087654321", "MARIE", "CURIE", "marie.curie@example.test", "310000000"))
	c := oidcBrowser(t)
	path, _, body := fetch(t, c, "GET", base+"/connexion/cps", nil)
	if path != "/connexion/associer" || !strings.Contains(body, "Créer mon compte") || !strings.Contains(body, "Marie Curie") {
		t.Fatalf("join offer at %s:\n%s", path, body)
	}
	path, status, body := fetch(t, c, "POST", base+"/connexion/creer-compte", nil)
	if status != 200 || !strings.HasSuffix(path, "/mail/") || !strings.Contains(body, "marie.curie@medecin.oidc.test") {
		t.Fatalf("join ended at %s (%d):\n%s", path, status, body)
	}
	a, err := n.Accounts.ByLoginMode(ctx, "cps", "810087654321")
	if err != nil || a.Kind != account.PER || a.RPPS != "10087654321" || a.Structure != "Clinique Exemple" || a.HasPassword() ||
		a.Login != "marie.curie@oidc.test" || a.MSS != "marie.curie@medecin.oidc.test" {
		t.Fatalf("joined account %+v %v", a, err)
	}

	// Another FINESS: « demande transmise » to the platform operators.
	cps.SetUser(oidctest.PSCUser("810011112222", "PAUL", "MARTIN", "", "990000000"))
	c = oidcBrowser(t)
	fetch(t, c, "GET", base+"/connexion/cps", nil)
	_, status, body = fetch(t, c, "POST", base+"/connexion/creer-compte", nil)
	if status != 200 || !strings.Contains(body, "Demande transmise") {
		t.Fatalf("request: %d:\n%s", status, body)
	}
	reqs, err := n.Accounts.JoinRequests(ctx, "pending")
	if err != nil || len(reqs) != 1 || reqs[0].LastName != "Martin" {
		t.Fatalf("requests %+v %v", reqs, err)
	}
}

// TestOIDCLastModeKept: an account created with the card has no password;
// its card, the last remaining login mode, cannot be removed from
// Identifiants B; another person's page answers 404; « Associer » needs
// the session's CSRF token.
func TestOIDCLastModeKept(t *testing.T) {
	n, cps, _, base := oidcNode(t, "ES256")
	ctx := context.Background()
	if _, err := n.Accounts.CreateStructure(ctx, "Clinique Exemple", "310000000"); err != nil {
		t.Fatal(err)
	}
	other := n.addPerson(t, account.PER, "autre@oidc.test", "", "Autre", "Personne")
	cps.SetUser(oidctest.PSCUser("810087654321", "MARIE", "CURIE", "", "310000000"))
	c := oidcBrowser(t)
	fetch(t, c, "GET", base+"/connexion/cps", nil)
	if _, status, _ := fetch(t, c, "POST", base+"/connexion/creer-compte", nil); status != 200 {
		t.Fatalf("join: %d", status)
	}
	marie, err := n.Accounts.ByLoginMode(ctx, "cps", "810087654321")
	if err != nil {
		t.Fatal(err)
	}
	page := base + "/a/" + strconv.FormatInt(marie.ID, 10) + "/compte/identifiants"
	_, _, body := fetch(t, c, "GET", page, nil)
	if !strings.Contains(body, "Mot de passe : aucun") || !strings.Contains(body, "810087654321") {
		t.Fatalf("Identifiants B:\n%s", body)
	}
	_, csrf, _ := strings.Cut(body, `name="csrf" value="`)
	csrf, _, _ = strings.Cut(csrf, `"`)
	_, status, body := fetch(t, c, "POST", page+"/modes/cps/supprimer", url.Values{"csrf": {csrf}})
	if status != 409 || !strings.Contains(body, "dernier mode de connexion") {
		t.Fatalf("last mode removal: %d", status)
	}
	if _, err := n.Accounts.ByLoginMode(ctx, "cps", "810087654321"); err != nil {
		t.Fatal("last mode removed")
	}
	otherPage := base + "/a/" + strconv.FormatInt(other.ID, 10) + "/compte/identifiants"
	if _, status, _ := fetch(t, c, "POST", otherPage+"/modes/cps/supprimer", url.Values{"csrf": {csrf}}); status != 404 {
		t.Fatalf("another person's mode: %d", status)
	}
	if _, status, _ := fetch(t, c, "GET", page+"/modes/pass/associer?csrf=wrong", nil); status != 403 {
		t.Fatalf("associate without the CSRF token: %d", status)
	}
}

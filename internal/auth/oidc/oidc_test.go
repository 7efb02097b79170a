package oidc_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/hygie-sante/hygie/internal/auth/oidc"
	"github.com/hygie-sante/hygie/internal/auth/oidc/oidctest"
)

func newProvider(t *testing.T, op *oidctest.Provider, mode string) *oidc.Provider {
	t.Helper()
	p, err := oidc.New(oidc.Config{Mode: mode, Issuer: op.URL, ClientID: op.ClientID, ClientSecret: op.ClientSecret,
		RedirectURL: "http://127.0.0.1:1/connexion/" + mode + "/retour"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// login runs the authorization request against the provider and returns
// the code it redirects back with, and the authorization query sent.
func login(t *testing.T, p *oidc.Provider, state, nonce, verifier string) (string, url.Values) {
	t.Helper()
	u, err := p.AuthURL(context.Background(), state, nonce, verifier)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize answered %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	if loc.Query().Get("state") != state {
		t.Fatalf("state came back as %q", loc.Query().Get("state"))
	}
	au, _ := url.Parse(u)
	return loc.Query().Get("code"), au.Query()
}

func TestCPSLoginES256AndHS256(t *testing.T) {
	for _, alg := range []string{"ES256", "HS256"} {
		t.Run(alg, func(t *testing.T) {
			op := oidctest.Start(t, alg)
			op.SetUser(oidctest.PSCUser("810012345678", "JEAN-PIERRE", "DUPONT", "jp.dupont@example.test", "310000000"))
			p := newProvider(t, op, oidc.ModeCPS)
			verifier := oauth2.GenerateVerifier()
			code, q := login(t, p, "st1", "n1", verifier)
			// Pro Santé Connect's rules in the authorization request.
			if q.Get("scope") != "openid scope_all" || q.Get("acr_values") != "eidas1" || q.Get("code_challenge_method") != "S256" || q.Get("nonce") != "n1" {
				t.Fatalf("authorization request %v", q)
			}
			id, err := p.Exchange(context.Background(), code, verifier, "n1")
			if err != nil {
				t.Fatal(err)
			}
			if id.Subject != "810012345678" || id.NationalID != "810012345678" || id.FirstName != "Jean-Pierre" || id.LastName != "Dupont" ||
				id.Profession != "Médecin" || len(id.FINESS) != 2 || id.FINESS[0] != "310000000" || id.RaisonSociale != "CLINIQUE EXEMPLE" {
				t.Fatalf("identity %+v", id)
			}
		})
	}
}

// TestCPSSubjectNameIDInIDToken: SubjectNameID may come in the ID token
// itself; the provider then needs no userinfo.
func TestCPSSubjectNameIDInIDToken(t *testing.T) {
	op := oidctest.Start(t, "ES256")
	op.SetUser(oidctest.PSCUser("810099999999", "ANNE", "MARTIN", "", "310000000"))
	op.SetUserInIDToken(true)
	p := newProvider(t, op, oidc.ModeCPS)
	v := oauth2.GenerateVerifier()
	code, _ := login(t, p, "s", "n", v)
	id, err := p.Exchange(context.Background(), code, v, "n")
	if err != nil || id.Subject != "810099999999" {
		t.Fatalf("identity %+v, %v", id, err)
	}
}

// TestRefusals: each twisted ID token is refused with its own reason.
func TestRefusals(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(map[string]any)
		nonce  string
		want   error
		msg    string
	}{
		{"wrong acr", func(c map[string]any) { c["acr"] = "eidas2" }, "n", oidc.ErrACR, `acr is not eidas1: acr "eidas2"`},
		{"missing acr", func(c map[string]any) { delete(c, "acr") }, "n", oidc.ErrACR, "acr is not eidas1"},
		{"wrong audience", func(c map[string]any) { c["aud"] = "another-client" }, "n", oidc.ErrAudience, "audience"},
		{"expired", func(c map[string]any) { c["exp"] = time.Now().Add(-10 * time.Minute).Unix() }, "n", oidc.ErrExpired, "token expired"},
		{"bad nonce", nil, "another-nonce", oidc.ErrNonce, "nonce"},
		{"wrong issuer", func(c map[string]any) { c["iss"] = "http://evil.example" }, "n", oidc.ErrIssuer, "issuer"},
	}
	for _, alg := range []string{"ES256", "HS256"} {
		for _, tc := range cases {
			t.Run(alg+"/"+tc.name, func(t *testing.T) {
				op := oidctest.Start(t, alg)
				op.SetUser(oidctest.PSCUser("810012345678", "JEAN", "DUPONT", "", "310000000"))
				op.SetIDTokenMutator(tc.mutate)
				p := newProvider(t, op, oidc.ModeCPS)
				v := oauth2.GenerateVerifier()
				code, _ := login(t, p, "s", "n", v)
				_, err := p.Exchange(context.Background(), code, v, tc.nonce)
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("err = %v, want %v (%q)", err, tc.want, tc.msg)
				}
			})
		}
	}
}

// TestForgedSignature: an HS256 token signed with another secret, and an
// ES256 token whose payload was changed, are refused.
func TestForgedSignature(t *testing.T) {
	op := oidctest.Start(t, "ES256")
	p := newProvider(t, op, oidc.ModeCPS)
	claims := map[string]any{"iss": op.URL, "sub": "x", "aud": op.ClientID, "exp": time.Now().Add(time.Minute).Unix(), "nonce": "n", "acr": "eidas1"}
	good := op.Sign(claims)
	if _, err := p.VerifyIDToken(context.Background(), good, "n"); err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	other := oidctest.Start(t, "ES256")
	forged := strings.Split(other.Sign(claims), ".")
	if _, err := p.VerifyIDToken(context.Background(), parts[0]+"."+forged[1]+"."+forged[2], "n"); !errors.Is(err, oidc.ErrSignature) {
		t.Fatalf("ES256 with another key: %v", err)
	}
	hs := oidctest.Start(t, "HS256")
	hs.ClientSecret = "not-the-secret-but-long-enough-for-hs256"
	if _, err := p.VerifyIDToken(context.Background(), hs.Sign(claims), "n"); !errors.Is(err, oidc.ErrSignature) {
		t.Fatalf("HS256 with another secret: %v", err)
	}
}

// TestPASSNeedsNoACR: the generic mode does not apply Pro Santé Connect's
// acr rule; its identity is sub, or the e-mail when configured so.
func TestPASSSubjectOrEmail(t *testing.T) {
	op := oidctest.Start(t, "ES256")
	op.SetUser(map[string]any{"sub": "pass-123", "email": "Marie@Region.example", "email_verified": true, "given_name": "Marie", "family_name": "Curie"})
	op.SetIDTokenMutator(func(c map[string]any) { delete(c, "acr") })
	p := newProvider(t, op, oidc.ModePASS)
	v := oauth2.GenerateVerifier()
	code, q := login(t, p, "s", "n", v)
	if q.Get("acr_values") != "" || !strings.Contains(q.Get("scope"), "openid") {
		t.Fatalf("PASS authorization request %v", q)
	}
	id, err := p.Exchange(context.Background(), code, v, "n")
	if err != nil || id.Subject != "pass-123" {
		t.Fatalf("%+v %v", id, err)
	}
	pe, err := oidc.New(oidc.Config{Mode: oidc.ModePASS, Issuer: op.URL, ClientID: op.ClientID, ClientSecret: op.ClientSecret, SubjectClaim: "email",
		RedirectURL: "http://127.0.0.1:1/connexion/pass/retour"})
	if err != nil {
		t.Fatal(err)
	}
	code, _ = login(t, pe, "s", "n", v)
	if id, err = pe.Exchange(context.Background(), code, v, "n"); err != nil || id.Subject != "marie@region.example" {
		t.Fatalf("%+v %v", id, err)
	}
}

// TestCodeIsSingleUseAndPKCE: the provider refuses a replayed code and a
// wrong verifier; the relying party reports it.
func TestCodeIsSingleUseAndPKCE(t *testing.T) {
	op := oidctest.Start(t, "ES256")
	op.SetUser(oidctest.PSCUser("810012345678", "JEAN", "DUPONT", "", ""))
	p := newProvider(t, op, oidc.ModeCPS)
	v := oauth2.GenerateVerifier()
	code, _ := login(t, p, "s", "n", v)
	if _, err := p.Exchange(context.Background(), code, oauth2.GenerateVerifier(), "n"); !errors.Is(err, oidc.ErrProvider) {
		t.Fatalf("wrong verifier: %v", err)
	}
	code, _ = login(t, p, "s", "n", v)
	if _, err := p.Exchange(context.Background(), code, v, "n"); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Exchange(context.Background(), code, v, "n"); !errors.Is(err, oidc.ErrProvider) {
		t.Fatalf("replayed code: %v", err)
	}
}

// TestAccessTokenSubject: a JWT access token (ES256 or HS256) maps to
// SubjectNameID; expired or foreign tokens are refused; an opaque token
// goes through introspection.
func TestAccessTokenSubject(t *testing.T) {
	for _, alg := range []string{"ES256", "HS256"} {
		t.Run(alg, func(t *testing.T) {
			op := oidctest.Start(t, alg)
			op.SetUser(oidctest.PSCUser("810012345678", "JEAN", "DUPONT", "", ""))
			p := newProvider(t, op, oidc.ModeCPS)
			ctx := context.Background()
			sub, err := p.AccessTokenSubject(ctx, op.AccessToken(time.Minute))
			if err != nil || sub != "810012345678" {
				t.Fatalf("%q %v", sub, err)
			}
			if _, err := p.AccessTokenSubject(ctx, op.AccessToken(-10*time.Minute)); !errors.Is(err, oidc.ErrExpired) {
				t.Fatalf("expired: %v", err)
			}
			foreign := op.Sign(map[string]any{"iss": op.URL, "sub": "x", "aud": "other", "azp": "other", "preferred_username": "810012345678",
				"exp": time.Now().Add(time.Minute).Unix()})
			if _, err := p.AccessTokenSubject(ctx, foreign); !errors.Is(err, oidc.ErrAudience) {
				t.Fatalf("foreign audience: %v", err)
			}
			if _, err := p.AccessTokenSubject(ctx, "opaque-unknown-token"); !errors.Is(err, oidc.ErrExpired) {
				t.Fatalf("inactive opaque token: %v", err)
			}
		})
	}
}

// Package oidctest is an OpenID Connect provider for tests, in the test
// process on 127.0.0.1: real HTTP, real signed tokens (ES256 with a JWKS,
// or HS256 with the client secret). Its authorization endpoint approves at
// once the identity set with SetUser (no login page), checks PKCE at the
// token endpoint, and serves discovery, JWKS, userinfo and introspection.
// Tests twist the ID token with SetIDTokenMutator to provoke refusals
// (wrong acr, audience, expiry, nonce).
package oidctest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Provider is a running test provider.
type Provider struct {
	// URL is the issuer (http://127.0.0.1:port).
	URL          string
	ClientID     string
	ClientSecret string
	// Alg is "ES256" or "HS256".
	Alg string

	key *ecdsa.PrivateKey
	srv *httptest.Server

	mu        sync.Mutex
	user      map[string]any
	userInID  bool
	mutate    func(map[string]any)
	codes     map[string]grant
	tokens    map[string]map[string]any
	authorize []url.Values
}

type grant struct {
	clientID, redirect, challenge, nonce, scope string
	user                                        map[string]any
}

// Start starts a provider signing with alg ("ES256" or "HS256") for the
// client "hygie-test"; it stops at the end of the test.
func Start(t testing.TB, alg string) *Provider {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p := &Provider{ClientID: "hygie-test", ClientSecret: "secret-du-client-hygie-0123456789abcdef", Alg: alg, key: key,
		codes: map[string]grant{}, tokens: map[string]map[string]any{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorizeEndpoint)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("GET /userinfo", p.userinfo)
	mux.HandleFunc("POST /introspect", p.introspect)
	p.srv = httptest.NewServer(mux)
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// SetUser sets the claims of the identity the authorization endpoint
// approves (nil: it answers access_denied). They are served by userinfo,
// and "sub" goes in the ID token.
func (p *Provider) SetUser(claims map[string]any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = claims
}

// SetUserInIDToken puts every user claim in the ID token too.
func (p *Provider) SetUserInIDToken(on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.userInID = on
}

// SetIDTokenMutator changes the claims of the next ID tokens before they
// are signed (nil: none).
func (p *Provider) SetIDTokenMutator(f func(claims map[string]any)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mutate = f
}

// AuthorizeRequests returns the query of every authorization request seen.
func (p *Provider) AuthorizeRequests() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]url.Values(nil), p.authorize...)
}

// Sign signs claims as a JWT with the provider's algorithm.
func (p *Provider) Sign(claims map[string]any) string {
	var key jose.SigningKey
	if p.Alg == "HS256" {
		key = jose.SigningKey{Algorithm: jose.HS256, Key: []byte(p.ClientSecret)}
	} else {
		key = jose.SigningKey{Algorithm: jose.ES256, Key: jose.JSONWebKey{Key: p.key, KeyID: "k1", Algorithm: "ES256"}}
	}
	signer, err := jose.NewSigner(key, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		panic(err)
	}
	b, _ := json.Marshal(claims)
	jws, err := signer.Sign(b)
	if err != nil {
		panic(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		panic(err)
	}
	return s
}

// AccessToken issues an access token for the current user, as the token
// endpoint would (a JWT with preferred_username = SubjectNameID), valid
// for ttl (negative: already expired).
func (p *Provider) AccessToken(ttl time.Duration) string {
	p.mu.Lock()
	user := p.user
	p.mu.Unlock()
	return p.accessToken(user, ttl)
}

func (p *Provider) accessToken(user map[string]any, ttl time.Duration) string {
	now := time.Now()
	c := map[string]any{"iss": p.URL, "sub": user["sub"], "aud": []string{"account"}, "azp": p.ClientID,
		"exp": now.Add(ttl).Unix(), "iat": now.Unix(), "scope": "openid scope_all", "typ": "Bearer"}
	if v, ok := user["preferred_username"]; ok {
		c["preferred_username"] = v
	}
	tok := p.Sign(c)
	p.mu.Lock()
	p.tokens[tok] = user
	p.mu.Unlock()
	return tok
}

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                p.URL,
		"authorization_endpoint":                p.URL + "/authorize",
		"token_endpoint":                        p.URL + "/token",
		"userinfo_endpoint":                     p.URL + "/userinfo",
		"introspection_endpoint":                p.URL + "/introspect",
		"jwks_uri":                              p.URL + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256", "HS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"acr_values_supported":                  []string{"eidas1"},
		"scopes_supported":                      []string{"openid", "scope_all"},
	})
}

func (p *Provider) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
}

// authorizeEndpoint approves the configured user at once and redirects
// back with a code (RFC 6749 §4.1.2), or with access_denied.
func (p *Provider) authorizeEndpoint(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p.mu.Lock()
	p.authorize = append(p.authorize, q)
	user := p.user
	p.mu.Unlock()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || q.Get("client_id") != p.ClientID || redirect.Scheme == "" {
		http.Error(w, "bad client_id or redirect_uri", http.StatusBadRequest)
		return
	}
	back := redirect.Query()
	back.Set("state", q.Get("state"))
	switch {
	case q.Get("response_type") != "code" || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		back.Set("error", "invalid_request")
	case user == nil:
		back.Set("error", "access_denied")
	default:
		code := random()
		p.mu.Lock()
		p.codes[code] = grant{clientID: q.Get("client_id"), redirect: q.Get("redirect_uri"), challenge: q.Get("code_challenge"),
			nonce: q.Get("nonce"), scope: q.Get("scope"), user: user}
		p.mu.Unlock()
		back.Set("code", code)
	}
	redirect.RawQuery = back.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

func (p *Provider) clientOK(r *http.Request) bool {
	id, secret, ok := r.BasicAuth()
	if ok {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
	} else {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	return id == p.ClientID && secret == p.ClientSecret
}

// token redeems a code once, checking the client, the redirect URI and
// the PKCE verifier (RFC 7636 §4.6).
func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if !p.clientOK(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	code := r.PostFormValue("code")
	p.mu.Lock()
	g, ok := p.codes[code]
	delete(p.codes, code)
	userInID, mutate := p.userInID, p.mutate
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	switch {
	case r.PostFormValue("grant_type") != "authorization_code" || !ok || g.redirect != r.PostFormValue("redirect_uri"):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	case base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "PKCE verification failed"})
		return
	}
	now := time.Now()
	id := map[string]any{}
	if userInID {
		for k, v := range g.user {
			id[k] = v
		}
	}
	for k, v := range map[string]any{"iss": p.URL, "sub": g.user["sub"], "aud": p.ClientID, "azp": p.ClientID,
		"exp": now.Add(5 * time.Minute).Unix(), "iat": now.Unix(), "auth_time": now.Unix(), "nonce": g.nonce, "acr": "eidas1"} {
		id[k] = v
	}
	if mutate != nil {
		mutate(id)
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": p.accessToken(g.user, 10*time.Minute), "token_type": "Bearer",
		"expires_in": 600, "id_token": p.Sign(id), "scope": g.scope})
}

func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	p.mu.Lock()
	user, known := p.tokens[tok]
	p.mu.Unlock()
	if !ok || !known {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, "invalid token", http.StatusUnauthorized)
		return
	}
	writeJSON(w, http.StatusOK, user)
}

func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	if !p.clientOK(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	p.mu.Lock()
	user, known := p.tokens[r.PostFormValue("token")]
	p.mu.Unlock()
	if !known {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"active": true, "client_id": p.ClientID, "sub": user["sub"],
		"preferred_username": user["preferred_username"], "exp": time.Now().Add(5 * time.Minute).Unix()})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func random() string {
	var b [24]byte
	rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// PSCUser returns Pro Santé Connect–shaped userinfo claims (as in
// samples/psc-userinfo-example.json) for a national identifier, names and
// an activity FINESS.
func PSCUser(nationalID, given, family, email, finessSite string) map[string]any {
	return map[string]any{
		"sub":                "f:550dc1c8-d97b-4b1e-ac8c-8eb4471cf9dd:" + nationalID,
		"preferred_username": nationalID,
		"given_name":         given,
		"family_name":        family,
		"email":              email,
		"email_verified":     true,
		"SubjectNameID":      nationalID,
		"SubjectRefPro": map[string]any{
			"codeCivilite": "M",
			"exercices": []any{map[string]any{
				"codeProfession": "10", "codeCategorieProfessionnelle": "C", "codeCiviliteDexercice": "DR",
				"nomDexercice": family, "prenomDexercice": given, "codeTypeSavoirFaire": "S", "codeSavoirFaire": "SM26",
				"activities": []any{map[string]any{
					"codeModeExercice": "S", "codeSecteurDactivite": "SA07", "numeroSiretSite": "",
					"numeroFinessSite": finessSite, "numeroFinessetablissementJuridique": "310000001",
					"raisonSocialeSite": "CLINIQUE EXEMPLE", "codePostal": "31000",
				}},
			}},
		},
		"SubjectOrganization": "CLINIQUE EXEMPLE",
		"UITVersion":          "1.0",
	}
}

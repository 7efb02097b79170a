// Package oidc is Hygie's OpenID Connect relying party for the two login
// modes of SPEC §2 (Identifiants de connexion B): « Carte CPS / e-CPS »
// through Pro Santé Connect, and « PASS », a regional SSO.
//
// Both use the authorization code flow with PKCE (RFC 7636), state and
// nonce (OpenID Connect Core 1.0 §3.1). The provider's endpoints come from
// discovery (OpenID Connect Discovery 1.0), never from configuration.
// Pro Santé Connect's rules (SPEC §5) apply to the CPS mode: scope
// "openid scope_all", acr_values=eidas1 requested and an ID token whose acr
// is not eidas1 refused, the national identifier taken from the
// SubjectNameID claim (ID token or userinfo). ID tokens signed with HS256
// (the client secret) or with an asymmetric key of the provider's JWKS
// (ES256, RS256 …) are both accepted.
package oidc

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
)

// Login modes.
const (
	ModeCPS  = "cps"
	ModePASS = "pass"
)

// ACR is the authentication level Pro Santé Connect must assert.
const ACR = "eidas1"

// Refusals of a token. Each is wrapped with the detail (values seen).
var (
	ErrACR       = errors.New("acr is not " + ACR)
	ErrAudience  = errors.New("token audience is not this client")
	ErrExpired   = errors.New("token expired")
	ErrNonce     = errors.New("nonce does not match")
	ErrIssuer    = errors.New("token issuer is not the provider")
	ErrSignature = errors.New("token signature invalid")
	ErrSubject   = errors.New("no identity in the claims")
	// ErrProvider covers the provider being unreachable or answering
	// something unexpected (discovery, token or userinfo endpoint).
	ErrProvider = errors.New("provider error")
)

// Config configures one login mode.
type Config struct {
	// Mode is ModeCPS (Pro Santé Connect rules) or ModePASS.
	Mode         string
	Issuer       string
	ClientID     string
	ClientSecret string
	// RedirectURL is this application's callback (…/connexion/<mode>/retour).
	RedirectURL string
	// SubjectClaim names the PASS identity claim: "sub" (default) or
	// "email" (then e-mail must not be marked unverified).
	SubjectClaim string
	// HTTPClient reaches the provider; nil means a client with a 15 s timeout.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Provider is one configured login mode. Discovery happens on first use
// and is retried after a failure, so that a provider down at start-up does
// not stop the node.
type Provider struct {
	cfg Config

	mu       sync.Mutex
	disc     *discovered
	redirect string
}

type discovered struct {
	issuer        string
	oauth         oauth2.Config
	keys          *gooidc.RemoteKeySet
	userinfo      string
	introspection string
}

// leeway tolerates clock skew with the provider.
const leeway = time.Minute

// New returns a Provider; it does not contact the provider yet.
func New(cfg Config) (*Provider, error) {
	if cfg.Mode != ModeCPS && cfg.Mode != ModePASS {
		return nil, fmt.Errorf("oidc: unknown mode %q", cfg.Mode)
	}
	if cfg.Issuer == "" || cfg.ClientID == "" {
		return nil, fmt.Errorf("oidc %s: issuer and client_id are required", cfg.Mode)
	}
	switch cfg.SubjectClaim {
	case "":
		cfg.SubjectClaim = "sub"
	case "sub", "email":
	default:
		return nil, fmt.Errorf("oidc %s: subject_claim %q: want sub or email", cfg.Mode, cfg.SubjectClaim)
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 15 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Provider{cfg: cfg, redirect: cfg.RedirectURL}, nil
}

// SetRedirectURL sets the callback URL once the public address is known
// (a node listening on port 0 learns it at start).
func (p *Provider) SetRedirectURL(u string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.redirect = u
}

// oauth returns the OAuth 2.0 client configuration with the current
// redirect URL.
func (p *Provider) oauth(d *discovered) *oauth2.Config {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := d.oauth
	c.RedirectURL = p.redirect
	return &c
}

// Mode returns "cps" or "pass".
func (p *Provider) Mode() string { return p.cfg.Mode }

// Label is the mode's name on the login page and in Identifiants B.
func (p *Provider) Label() string { return Label(p.cfg.Mode) }

// Label is the French name of a login mode.
func Label(mode string) string {
	switch mode {
	case ModeCPS:
		return "Carte CPS / e-CPS"
	case ModePASS:
		return "PASS"
	}
	return mode
}

func (p *Provider) ctx(ctx context.Context) context.Context {
	return gooidc.ClientContext(context.WithValue(ctx, oauth2.HTTPClient, p.cfg.HTTPClient), p.cfg.HTTPClient)
}

// discover loads the provider's metadata once (OpenID Connect Discovery
// 1.0 §4; the issuer it states must be the configured one).
func (p *Provider) discover(ctx context.Context) (*discovered, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.disc != nil {
		return p.disc, nil
	}
	op, err := gooidc.NewProvider(p.ctx(ctx), p.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: discovery of %s: %v", ErrProvider, p.cfg.Issuer, err)
	}
	var meta struct {
		Issuer        string `json:"issuer"`
		JWKS          string `json:"jwks_uri"`
		UserInfo      string `json:"userinfo_endpoint"`
		Introspection string `json:"introspection_endpoint"`
	}
	if err := op.Claims(&meta); err != nil {
		return nil, fmt.Errorf("%w: discovery of %s: %v", ErrProvider, p.cfg.Issuer, err)
	}
	scopes := []string{gooidc.ScopeOpenID, "profile", "email"}
	if p.cfg.Mode == ModeCPS {
		scopes = []string{gooidc.ScopeOpenID, "scope_all"}
	}
	d := &discovered{
		issuer: meta.Issuer,
		oauth: oauth2.Config{ClientID: p.cfg.ClientID, ClientSecret: p.cfg.ClientSecret, Endpoint: op.Endpoint(),
			Scopes: scopes},
		userinfo:      meta.UserInfo,
		introspection: meta.Introspection,
	}
	if meta.JWKS != "" {
		// The key set outlives this request: it refetches keys on rotation.
		d.keys = gooidc.NewRemoteKeySet(gooidc.ClientContext(context.Background(), p.cfg.HTTPClient), meta.JWKS)
	}
	p.disc = d
	return d, nil
}

// AuthURL returns the provider's authorization URL for a new login with
// state, nonce and the PKCE verifier (sent as its S256 challenge). For CPS it
// asks for acr_values=eidas1.
func (p *Provider) AuthURL(ctx context.Context, state, nonce, verifier string) (string, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return "", err
	}
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier), gooidc.Nonce(nonce)}
	if p.cfg.Mode == ModeCPS {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", ACR))
	}
	return p.oauth(d).AuthCodeURL(state, opts...), nil
}

// Claims is a decoded JSON claims set.
type Claims map[string]any

// String returns claim k when it is a string.
func (c Claims) String(k string) string {
	s, _ := c[k].(string)
	return s
}

// Exchange redeems an authorization code with the PKCE verifier, verifies
// the ID token (signature, issuer, audience, expiry, nonce, and acr for
// CPS), completes the claims from the userinfo endpoint and returns the
// identity.
func (p *Provider) Exchange(ctx context.Context, code, verifier, nonce string) (*Identity, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := p.oauth(d).Exchange(p.ctx(ctx), code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, fmt.Errorf("%w: token endpoint: %v", ErrProvider, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, fmt.Errorf("%w: no id_token in the token response", ErrProvider)
	}
	claims, err := p.VerifyIDToken(ctx, raw, nonce)
	if err != nil {
		return nil, err
	}
	if d.userinfo != "" {
		ui, err := p.userInfo(ctx, d, tok.AccessToken)
		if err != nil {
			return nil, err
		}
		// OpenID Connect Core §5.3.2: the userinfo sub must be the ID token's.
		if ui.String("sub") != claims.String("sub") {
			return nil, fmt.Errorf("%w: userinfo sub %q differs from the ID token's %q", ErrSubject, ui.String("sub"), claims.String("sub"))
		}
		for k, v := range ui {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}
	return p.identity(claims)
}

// VerifyIDToken verifies an ID token (OpenID Connect Core §3.1.3.7):
// signature (HS256 with the client secret, or the JWKS), issuer, audience
// (and azp when there are several), expiry, the nonce sent, and for CPS an
// acr of eidas1.
func (p *Provider) VerifyIDToken(ctx context.Context, raw, nonce string) (Claims, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	c, err := p.verifyJWT(ctx, d, raw)
	if err != nil {
		return nil, err
	}
	aud := audiences(c["aud"])
	if !contains(aud, p.cfg.ClientID) {
		return nil, fmt.Errorf("%w: aud %v, want %q", ErrAudience, aud, p.cfg.ClientID)
	}
	if azp := c.String("azp"); len(aud) > 1 && azp != p.cfg.ClientID {
		return nil, fmt.Errorf("%w: azp %q, want %q", ErrAudience, azp, p.cfg.ClientID)
	}
	if subtle.ConstantTimeCompare([]byte(c.String("nonce")), []byte(nonce)) != 1 || nonce == "" {
		return nil, fmt.Errorf("%w: the ID token's nonce is not the one sent", ErrNonce)
	}
	if p.cfg.Mode == ModeCPS && c.String("acr") != ACR {
		return nil, fmt.Errorf("%w: acr %q", ErrACR, c.String("acr"))
	}
	return c, nil
}

// verifyJWT checks a JWT's signature, issuer and expiry and returns its
// claims.
func (p *Provider) verifyJWT(ctx context.Context, d *discovered, raw string) (Claims, error) {
	payload, err := p.verifySignature(ctx, d, raw)
	if err != nil {
		return nil, err
	}
	var c Claims
	dec := json.NewDecoder(strings.NewReader(string(payload)))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: claims: %v", ErrSignature, err)
	}
	if iss := c.String("iss"); iss != d.issuer {
		return nil, fmt.Errorf("%w: iss %q, want %q", ErrIssuer, iss, d.issuer)
	}
	exp, ok := numericDate(c["exp"])
	if !ok {
		return nil, fmt.Errorf("%w: no exp claim", ErrExpired)
	}
	if now := p.cfg.Now(); now.After(exp.Add(leeway)) {
		return nil, fmt.Errorf("%w: at %s (now %s)", ErrExpired, exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	return c, nil
}

// signingAlgs are the accepted JWS algorithms: HS256 (client secret) and
// the provider's asymmetric keys. "none" is never accepted.
var signingAlgs = []jose.SignatureAlgorithm{jose.HS256, jose.ES256, jose.ES384, jose.ES512,
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512}

func (p *Provider) verifySignature(ctx context.Context, d *discovered, raw string) ([]byte, error) {
	jws, err := jose.ParseSignedCompact(raw, signingAlgs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	if len(jws.Signatures) != 1 {
		return nil, fmt.Errorf("%w: want one signature", ErrSignature)
	}
	if jose.SignatureAlgorithm(jws.Signatures[0].Header.Algorithm) == jose.HS256 {
		if p.cfg.ClientSecret == "" {
			return nil, fmt.Errorf("%w: HS256 token but no client secret configured", ErrSignature)
		}
		return verifyHS256(raw, p.cfg.ClientSecret)
	}
	if d.keys == nil {
		return nil, fmt.Errorf("%w: the provider publishes no jwks_uri", ErrSignature)
	}
	payload, err := d.keys.VerifySignature(p.ctx(ctx), raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return payload, nil
}

// verifyHS256 checks an HMAC-SHA256 JWS (RFC 7518 §3.2) keyed with the
// client secret, whatever the secret's length (go-jose wants 32 bytes at
// least; some providers issue shorter secrets).
func verifyHS256(raw, secret string) ([]byte, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: malformed JWS", ErrSignature)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("%w: malformed signature", ErrSignature)
	}
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(parts[0] + "." + parts[1]))
	if !hmac.Equal(m.Sum(nil), sig) {
		return nil, fmt.Errorf("%w: HS256 signature does not match the client secret", ErrSignature)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("%w: malformed payload", ErrSignature)
	}
	return payload, nil
}

// userInfo calls the userinfo endpoint (OpenID Connect Core §5.3), which
// answers JSON or a signed JWT (application/jwt).
func (p *Provider) userInfo(ctx context.Context, d *discovered, accessToken string) (Claims, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.userinfo, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json, application/jwt")
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: userinfo: %v", ErrProvider, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: userinfo: %v", ErrProvider, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: userinfo: %s", ErrProvider, resp.Status)
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); mt == "application/jwt" {
		if body, err = p.verifySignature(ctx, d, strings.TrimSpace(string(body))); err != nil {
			return nil, fmt.Errorf("userinfo: %w", err)
		}
	}
	var c Claims
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: userinfo: %v", ErrProvider, err)
	}
	return c, nil
}

// AccessTokenSubject validates an access token of this provider presented
// by client software (SASL XOAUTH2 / OAUTHBEARER, RFC 7628) and returns the
// login-mode subject it stands for. A JWT is verified locally (signature by
// HS256 or the JWKS, issuer, expiry, audience or azp = this client); an
// opaque token goes to the introspection endpoint (RFC 7662) when the
// provider has one. The subject is the SubjectNameID claim (or
// preferred_username) for CPS, sub or email for PASS, and is otherwise
// asked of the userinfo endpoint with the token.
func (p *Provider) AccessTokenSubject(ctx context.Context, token string) (string, error) {
	d, err := p.discover(ctx)
	if err != nil {
		return "", err
	}
	var c Claims
	switch {
	case strings.Count(token, ".") == 2:
		if c, err = p.verifyJWT(ctx, d, token); err != nil {
			return "", err
		}
		if aud := audiences(c["aud"]); !contains(aud, p.cfg.ClientID) && c.String("azp") != p.cfg.ClientID {
			return "", fmt.Errorf("%w: aud %v, azp %q, want %q", ErrAudience, aud, c.String("azp"), p.cfg.ClientID)
		}
	case d.introspection != "":
		if c, err = p.introspect(ctx, d, token); err != nil {
			return "", err
		}
	}
	if s := p.subjectOf(c, true); s != "" {
		return s, nil
	}
	if d.userinfo == "" {
		return "", fmt.Errorf("%w: token carries no identity and the provider has no userinfo endpoint", ErrSubject)
	}
	ui, err := p.userInfo(ctx, d, token)
	if err != nil {
		return "", err
	}
	if c != nil && c.String("sub") != "" && ui.String("sub") != c.String("sub") {
		return "", fmt.Errorf("%w: userinfo sub differs from the token's", ErrSubject)
	}
	if s := p.subjectOf(ui, false); s != "" {
		return s, nil
	}
	return "", fmt.Errorf("%w: no %s in the userinfo", ErrSubject, p.subjectClaimName())
}

// introspect asks the provider about an opaque token (RFC 7662 §2),
// authenticated as this client.
func (p *Provider) introspect(ctx context.Context, d *discovered, token string) (Claims, error) {
	form := url.Values{"token": {token}, "token_type_hint": {"access_token"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.introspection, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: introspection: %v", ErrProvider, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: introspection: %s", ErrProvider, resp.Status)
	}
	var c Claims
	dec := json.NewDecoder(io.LimitReader(resp.Body, 1<<20))
	dec.UseNumber()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("%w: introspection: %v", ErrProvider, err)
	}
	if active, _ := c["active"].(bool); !active {
		return nil, fmt.Errorf("%w: introspection says the token is not active", ErrExpired)
	}
	if exp, ok := numericDate(c["exp"]); ok && p.cfg.Now().After(exp.Add(leeway)) {
		return nil, fmt.Errorf("%w: at %s", ErrExpired, exp.UTC().Format(time.RFC3339))
	}
	if cid := c.String("client_id"); cid != "" && cid != p.cfg.ClientID && !contains(audiences(c["aud"]), p.cfg.ClientID) {
		return nil, fmt.Errorf("%w: token issued to %q", ErrAudience, cid)
	}
	return c, nil
}

func (p *Provider) subjectClaimName() string {
	if p.cfg.Mode == ModeCPS {
		return "SubjectNameID"
	}
	return p.cfg.SubjectClaim
}

// subjectOf returns the login-mode subject in c: SubjectNameID for CPS
// (preferred_username too in an access token, where Pro Santé Connect puts
// it), sub or a not-unverified email for PASS.
func (p *Provider) subjectOf(c Claims, accessToken bool) string {
	if c == nil {
		return ""
	}
	if p.cfg.Mode == ModeCPS {
		if s := c.String("SubjectNameID"); s != "" {
			return s
		}
		if accessToken {
			return c.String("preferred_username")
		}
		return ""
	}
	if p.cfg.SubjectClaim == "email" {
		if v, ok := c["email_verified"].(bool); ok && !v {
			return ""
		}
		return strings.ToLower(c.String("email"))
	}
	return c.String("sub")
}

func audiences(v any) []string {
	switch a := v.(type) {
	case string:
		return []string{a}
	case []any:
		out := make([]string, 0, len(a))
		for _, x := range a {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func numericDate(v any) (time.Time, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := n.Float64()
		if err != nil {
			return time.Time{}, false
		}
		return time.Unix(int64(f), 0), true
	case float64:
		return time.Unix(int64(n), 0), true
	}
	return time.Time{}, false
}

// NewVerifier returns a fresh PKCE code verifier (RFC 7636 §4.1).
func NewVerifier() string { return oauth2.GenerateVerifier() }

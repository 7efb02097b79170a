// Package web is Hygie's web application: login, webmail and « Gérer mon
// compte », server-rendered in French with the labels of the user guide.
// Handlers translate HTTP; the rules live in the account and mail packages.
// Every handler that names an account checks that the session may act on it
// (the person's own account, or a box it is a member of).
package web

import (
	"embed"
	"log/slog"
	"net/http"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/auth"
	"github.com/hygie-sante/hygie/internal/auth/oidc"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/trust"
)

//go:embed all:templates static
var assets embed.FS

// Config is what the web application needs.
type Config struct {
	St       *store.Store
	Accounts *account.Service
	Audit    *audit.Log
	Pipeline *mail.Pipeline
	Router   *mail.Router
	Log      *slog.Logger
	// PlatformName replaces « Medimail » in labels (SPEC: platform_name).
	PlatformName string
	SupportURL   string
	// PublicURL is the base of links in mails.
	PublicURL string
	// SecureCookies marks cookies Secure (HTTPS outside loopback).
	SecureCookies bool
	// SessionIdle ends a session unused for that long (default 12h).
	SessionIdle time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxMessageSize bounds a message sent from the webmail, attachments
	// included (the SMTP limit, smtp.max_message_size; default 20 MiB).
	MaxMessageSize int64
	// LoginModes are the OpenID Connect login modes offered on the login
	// page (« Carte CPS / e-CPS », « PASS »), in that order; none: password only.
	LoginModes []*oidc.Provider
	// FeedToken is the bearer token of the national publication feed
	// (/api/annuaire/v1/changes); empty turns the feed off.
	FeedToken string
	// JoinPolicy derives the addresses of an account created by joining
	// with a card.
	JoinPolicy account.JoinPolicy
	// Trust is the node's trust-space whitelist, whose status the
	// administration console shows to platform operators (nil: none).
	Trust *trust.Source
}

// Server serves the web application.
type Server struct {
	cfg   Config
	log   *slog.Logger
	mux   *http.ServeMux
	pages *pages
	// throttle counts failures per address (5 in 15 minutes) and
	// ipThrottle per client IP, which a whole hospital behind one NAT may
	// share (50 in 15 minutes); both in the database, shared by the nodes.
	throttle, ipThrottle *auth.Throttle
	// dev holds the mobile devices' service and the device API throttle.
	dev *deviceState
}

// New returns the web application.
func New(cfg Config) (*Server, error) {
	if cfg.SessionIdle == 0 {
		cfg.SessionIdle = 12 * time.Hour
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PlatformName == "" {
		cfg.PlatformName = "Hygie"
	}
	p, err := loadPages()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Log.With("service", "web"), mux: http.NewServeMux(), pages: p,
		throttle:   auth.NewSharedThrottle(cfg.St, "web", 5, 15*time.Minute, cfg.Log),
		ipThrottle: auth.NewSharedThrottle(cfg.St, "web-ip", 50, 15*time.Minute, cfg.Log)}
	s.dev = newDeviceState(cfg)
	s.routes()
	return s, nil
}

// Handle registers an extra handler on the application's mux (used by the
// node for /healthz and later APIs).
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// Handler returns the whole application behind its security layers:
// security headers, and cross-origin request refusal against CSRF (with a
// per-session token checked on every form as a second line).
func (s *Server) Handler() http.Handler {
	cop := http.NewCrossOriginProtection()
	// The device API authenticates by bearer token, never by cookie: a
	// cross-site page cannot ride on it, so there is no CSRF to refuse.
	cop.AddInsecureBypassPattern("/api/v1/")
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "Requête refusée : elle ne vient pas de ce site.", http.StatusForbidden)
	}))
	return securityHeaders(cop.Handler(s.mux))
}

// securityHeaders sets the Content-Security-Policy and friends on every
// response: no inline script, no remote load, no framing by others.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "+
			"img-src 'self' data:; frame-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "SAMEORIGIN")
		next.ServeHTTP(w, r)
	})
}

package trust

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultRefresh is the refresh period Run uses when given a non-positive one.
const DefaultRefresh = time.Hour

// Source loads the operators' whitelist from a file or an http(s) URL, keeps the last good
// copy and refreshes it. A failed load never replaces a good copy. Its methods are safe for
// concurrent use.
type Source struct {
	// Client fetches http(s) locations. NewSource sets a client with a one-minute timeout;
	// replace it before the first Load if needed.
	Client *http.Client

	location string
	extra    map[string]bool
	logger   *slog.Logger

	current atomic.Pointer[Whitelist]
	loadMu  sync.Mutex // serialises Load

	mu         sync.RWMutex // guards the fields below
	status     Status
	validators validators
}

// validators are the HTTP cache validators of the current copy.
type validators struct {
	etag, lastModified string
}

// Status describes the state of a Source.
type Status struct {
	// Location is the configured location, with any URL password redacted.
	Location string
	// LastLoad is the time of the last successful load (zero if none).
	LastLoad time.Time
	// LastAttempt is the time of the last load attempt (zero if none).
	LastAttempt time.Time
	// LastError is the error of the last attempt, nil if it succeeded.
	LastError error
	// Domains is the number of domains of the current whitelist, extra domains excluded.
	Domains int
	// Generated is the generation date of the current whitelist.
	Generated time.Time
}

// NewSource returns a Source reading the whitelist at location: a file path, a file:// URL or
// an http(s) URL. An empty location means no whitelist: only extraDomains are trusted.
// extraDomains are always trusted in addition to the whitelist (for instance the operator's
// own domains or test peers); invalid names are logged and ignored. A nil logger discards.
// Nothing is loaded until Load or Run is called.
func NewSource(location string, extraDomains []string, logger *slog.Logger) *Source {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Source{
		Client:   &http.Client{Timeout: time.Minute},
		location: strings.TrimSpace(location),
		extra:    make(map[string]bool, len(extraDomains)),
		logger:   logger,
	}
	s.status.Location = redactLocation(s.location)
	for _, d := range extraDomains {
		n := normalizeDomain(d)
		if err := ValidateDomainName(n); err != nil {
			logger.Warn("trust: ignoring invalid extra domain", "domain", d, "err", err)
			continue
		}
		s.extra[n] = true
	}
	s.current.Store(&Whitelist{Domains: map[string]Domain{}})
	return s
}

// Current returns the last good whitelist, or an empty one when nothing was loaded. It never
// returns nil. The result must not be modified.
func (s *Source) Current() *Whitelist {
	return s.current.Load()
}

// IsTrusted reports whether domain (case-insensitive) is in the current whitelist or among
// the extra domains.
func (s *Source) IsTrusted(domain string) bool {
	n := normalizeDomain(domain)
	return s.extra[n] || s.Current().Contains(n)
}

// Status returns the state of the last loads.
func (s *Source) Status() Status {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.status
}

// Load fetches and parses the whitelist once. On success the new copy replaces the current
// one; on failure the current copy is kept and the error returned. A whitelist without any
// Domaine is refused, as it is more likely a broken publication than an empty trust space.
// With an empty location Load does nothing and returns nil.
func (s *Source) Load(ctx context.Context) error {
	if s.location == "" {
		return nil
	}
	s.loadMu.Lock()
	defer s.loadMu.Unlock()

	wl, val, err := s.fetch(ctx)
	if err == nil && wl != nil && wl.Len() == 0 {
		err = errors.New("whitelist contains no Domaine")
	}
	if err != nil {
		err = fmt.Errorf("trust: loading whitelist from %s: %w", redactLocation(s.location), err)
	}
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status.LastAttempt = now
	s.status.LastError = err
	if err != nil {
		return err
	}
	s.status.LastLoad = now
	if wl != nil { // nil: not modified since the last load
		s.validators = val
		s.current.Store(wl)
		s.status.Domains = wl.Len()
		s.status.Generated = wl.Generated
	}
	return nil
}

// Run refreshes the whitelist every period (DefaultRefresh if every <= 0) until ctx is done.
// If nothing has been loaded yet it loads at once. Failures are logged and keep the old copy.
func (s *Source) Run(ctx context.Context, every time.Duration) {
	if s.location == "" {
		return
	}
	if every <= 0 {
		every = DefaultRefresh
	}
	if s.Status().LastLoad.IsZero() {
		s.refresh(ctx)
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.refresh(ctx)
		}
	}
}

// refresh runs Load and logs its outcome.
func (s *Source) refresh(ctx context.Context) {
	if err := s.Load(ctx); err != nil {
		if ctx.Err() != nil {
			return // shutting down
		}
		s.logger.Warn("trust: whitelist refresh failed, keeping previous copy",
			"err", err, "domains", s.Current().Len())
		return
	}
	st := s.Status()
	s.logger.Info("trust: whitelist loaded", "location", st.Location,
		"domains", st.Domains, "generated", st.Generated)
}

// fetch reads and parses the whitelist. It returns a nil whitelist and no error when an HTTP
// server answers 304 Not Modified.
func (s *Source) fetch(ctx context.Context) (*Whitelist, validators, error) {
	u, err := url.Parse(s.location)
	if err == nil {
		switch strings.ToLower(u.Scheme) {
		case "http", "https":
			return s.fetchHTTP(ctx, u)
		case "file":
			wl, err := parseFile(u.Path)
			return wl, validators{}, err
		}
	}
	wl, err := parseFile(s.location)
	return wl, validators{}, err
}

func parseFile(path string) (*Whitelist, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return ParseWhitelist(f)
}

// fetchHTTP GETs the whitelist, conditionally on the validators of the last good copy
// (RFC 9110 §13.1.1 If-None-Match, §13.1.3 If-Modified-Since).
func (s *Source) fetchHTTP(ctx context.Context, u *url.URL) (*Whitelist, validators, error) {
	var none validators
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, none, err
	}
	req.Header.Set("Accept", "application/xml, text/xml;q=0.9, */*;q=0.1")
	s.mu.RLock()
	old, loaded := s.validators, !s.status.LastLoad.IsZero()
	s.mu.RUnlock()
	if loaded {
		if old.etag != "" {
			req.Header.Set("If-None-Match", old.etag)
		}
		if old.lastModified != "" {
			req.Header.Set("If-Modified-Since", old.lastModified)
		}
	}
	resp, err := s.Client.Do(req)
	if err != nil {
		return nil, none, err
	}
	defer func() {
		// Drain a little so that the connection can be reused.
		_, _ = io.CopyN(io.Discard, resp.Body, 4096)
		resp.Body.Close()
	}()
	if resp.StatusCode == http.StatusNotModified && loaded {
		return nil, old, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, none, fmt.Errorf("HTTP status %s", resp.Status)
	}
	if resp.ContentLength > MaxWhitelistSize {
		return nil, none, fmt.Errorf("%w (Content-Length %d)", ErrWhitelistTooLarge, resp.ContentLength)
	}
	wl, err := ParseWhitelist(resp.Body)
	if err != nil {
		return nil, none, err
	}
	return wl, validators{etag: resp.Header.Get("ETag"), lastModified: resp.Header.Get("Last-Modified")}, nil
}

// redactLocation hides a password in a URL location, for logs and Status.
func redactLocation(loc string) string {
	if u, err := url.Parse(loc); err == nil && u.Scheme != "" && u.User != nil {
		return u.Redacted()
	}
	return loc
}

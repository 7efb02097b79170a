package web

import (
	"context"
	"net/http"

	"github.com/hygie-sante/hygie/internal/auth"
)

// passwordAttempt is a password attempt counted by both web throttles: per
// person and per client IP. A failed one is left to count.
type passwordAttempt struct{ person, ip *auth.Attempt }

// tryPassword counts a password attempt for login from the request's IP;
// false when either throttle refuses it (nothing is counted then).
func (s *Server) tryPassword(r *http.Request, login string) (passwordAttempt, bool) {
	ctx := r.Context()
	person, ok := s.throttle.Try(ctx, "web|"+s.cfg.Accounts.LoginKey(ctx, login))
	if !ok {
		return passwordAttempt{}, false
	}
	ip, ok := s.ipThrottle.Try(ctx, "web-ip|"+clientIP(r))
	if !ok {
		person.Drop(ctx)
		return passwordAttempt{}, false
	}
	return passwordAttempt{person, ip}, true
}

// succeed clears the person's failures; the IP keeps the others'.
func (a passwordAttempt) succeed(ctx context.Context) {
	a.person.Succeed(ctx)
	a.ip.Drop(ctx)
}

// drop forgets an attempt that could not be checked.
func (a passwordAttempt) drop(ctx context.Context) {
	a.person.Drop(ctx)
	a.ip.Drop(ctx)
}

// countRequest counts a request against the per-IP throttle under ipKey
// and, unless personKey is empty, the per-person one; false when either
// refuses it.
func (s *Server) countRequest(r *http.Request, ipKey, personKey string) bool {
	ip, ok := s.ipThrottle.Try(r.Context(), ipKey)
	if !ok {
		return false
	}
	if personKey != "" {
		if _, ok := s.throttle.Try(r.Context(), personKey); !ok {
			ip.Drop(r.Context())
			return false
		}
	}
	return true
}

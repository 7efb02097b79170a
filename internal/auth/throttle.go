package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// Throttle limits failed logins per key (an address, an IP, or both): after
// Max failures within Window, attempts are refused until the window passes.
// It counts failures in the database, so that every node of a cluster sees
// the same count (several nodes do not give an attacker several times the
// guesses).
type Throttle struct {
	Max    int
	Window time.Duration

	scope string
	st    *store.Store
	log   *slog.Logger

	mu sync.Mutex
	// seen holds the shared keys whose last Allow on this node found
	// failures: Succeed clears those only, so that a successful login costs
	// no write when there is nothing to clear.
	seen      map[string]bool
	lastPrune time.Time
	now       func() time.Time
}

// NewSharedThrottle returns a Throttle whose failures are kept in st under
// scope (the protocol: "web", "imap"…), shared by every node on st. A
// database error is logged and lets the attempt proceed: the login itself
// needs the database and fails on its own.
func NewSharedThrottle(st *store.Store, scope string, max int, window time.Duration, log *slog.Logger) *Throttle {
	if log == nil {
		log = slog.Default()
	}
	return &Throttle{Max: max, Window: window, scope: scope, st: st, log: log,
		seen: map[string]bool{}, now: time.Now}
}

// Allow reports whether an attempt for key may proceed.
func (t *Throttle) Allow(ctx context.Context, key string) bool {
	h := t.hash(key)
	var n int
	err := t.st.QueryRow(ctx, `SELECT count(*) FROM login_failures WHERE key_hash = ? AND at > ?`,
		h, t.now().Add(-t.Window).UnixMilli()).Scan(&n)
	if err != nil {
		t.log.Error("login throttle: count failures", "scope", t.scope, "err", err)
		return true
	}
	t.mu.Lock()
	if n > 0 {
		if len(t.seen) > 100000 {
			clear(t.seen) // bound memory; Succeed then leaves rows to expire
		}
		t.seen[h] = true
	} else {
		delete(t.seen, h)
	}
	t.mu.Unlock()
	return n < t.Max
}

// Fail counts a failed attempt for key.
func (t *Throttle) Fail(ctx context.Context, key string) {
	h := t.hash(key)
	now := t.now()
	t.mu.Lock()
	t.seen[h] = true
	prune := now.Sub(t.lastPrune) > time.Minute
	if prune {
		t.lastPrune = now
	}
	t.mu.Unlock()
	err := t.st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO login_failures (scope, key_hash, at) VALUES (?, ?, ?)`,
			t.scope, h, now.UnixMilli()); err != nil {
			return err
		}
		if prune {
			_, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE scope = ? AND at <= ?`,
				t.scope, now.Add(-t.Window).UnixMilli())
			return err
		}
		return nil
	})
	if err != nil {
		t.log.Error("login throttle: record failure", "scope", t.scope, "err", err)
	}
}

// Succeed clears the failures of key.
func (t *Throttle) Succeed(ctx context.Context, key string) {
	h := t.hash(key)
	t.mu.Lock()
	had := t.seen[h]
	delete(t.seen, h)
	t.mu.Unlock()
	if !had {
		return
	}
	err := t.st.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE key_hash = ?`, h)
		return err
	})
	if err != nil {
		t.log.Error("login throttle: clear failures", "scope", t.scope, "err", err)
	}
}

// hash names key in the database without keeping the address or IP.
func (t *Throttle) hash(key string) string {
	sum := sha256.Sum256([]byte(t.scope + "\x00" + key))
	return hex.EncodeToString(sum[:])
}

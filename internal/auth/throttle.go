package auth

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// Throttle limits failed logins per key (a person, an IP, or both): after
// Max failures within Window, attempts are refused until the window passes.
// It counts in the database, so that every node of a cluster sees the same
// count (several nodes do not give an attacker several times the guesses).
//
// An attempt counts from the moment it starts (Try), not once its password
// turned out wrong: attempts made in parallel cannot all pass before the
// first failure is recorded. A success removes it again.
type Throttle struct {
	Max    int
	Window time.Duration

	scope string
	st    *store.Store
	log   *slog.Logger

	mu        sync.Mutex
	lastPrune time.Time
	now       func() time.Time
}

// NewSharedThrottle returns a Throttle whose attempts are kept in st under
// scope (the protocol: "web", "imap"…), shared by every node on st. A
// database error is logged and lets the attempt proceed: the login itself
// needs the database and fails on its own.
func NewSharedThrottle(st *store.Store, scope string, max int, window time.Duration, log *slog.Logger) *Throttle {
	if log == nil {
		log = slog.Default()
	}
	return &Throttle{Max: max, Window: window, scope: scope, st: st, log: log, now: time.Now}
}

// Attempt is one login attempt counted by a Throttle. A failed attempt is
// left as it is: it counts until the window passes. Succeed clears every
// failure of its key, Drop removes it alone. A nil *Attempt (refused, or not
// counted) ignores them.
type Attempt struct {
	t    *Throttle
	hash string
	id   int64
}

// Try counts an attempt for key and reports whether it may proceed: false
// when Max attempts (failed or in flight) were counted within Window; a
// refused attempt is not counted and its *Attempt is nil.
// A nil Throttle allows everything.
func (t *Throttle) Try(ctx context.Context, key string) (*Attempt, bool) {
	if t == nil {
		return nil, true
	}
	a := &Attempt{t: t, hash: t.hash(key)}
	now := t.now()
	t.mu.Lock()
	prune := now.Sub(t.lastPrune) > time.Minute
	if prune {
		t.lastPrune = now
	}
	t.mu.Unlock()
	ok := true
	err := t.st.Tx(ctx, func(tx *store.Tx) error {
		if prune {
			if _, err := tx.Exec(ctx, `DELETE FROM login_attempts WHERE scope = ? AND at <= ?`,
				t.scope, now.Add(-t.Window).UnixMilli()); err != nil {
				return err
			}
		}
		if tx.Dialect() == store.Postgres {
			// Attempts for one key take turns (SQLite's single writer
			// does that already): parallel ones cannot all see a count
			// under the limit.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(?)`, a.lockID()); err != nil {
				return err
			}
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM login_attempts WHERE key_hash = ? AND at > ?`,
			a.hash, now.Add(-t.Window).UnixMilli()).Scan(&n); err != nil {
			return err
		}
		if n >= t.Max {
			ok = false
			return nil
		}
		var err error
		a.id, err = tx.InsertID(ctx, `INSERT INTO login_attempts (scope, key_hash, at) VALUES (?, ?, ?)`,
			t.scope, a.hash, now.UnixMilli())
		return err
	})
	if err != nil {
		t.log.Error("login throttle: count attempt", "scope", t.scope, "err", err)
		return nil, true
	}
	if !ok {
		return nil, false
	}
	return a, true
}

// Succeed ends a successful attempt: the failures of its key are cleared.
func (a *Attempt) Succeed(ctx context.Context) {
	if a != nil {
		a.t.exec(ctx, "clear failures", `DELETE FROM login_attempts WHERE key_hash = ?`, a.hash)
	}
}

// Drop ends an attempt that is not a failure without clearing the others:
// a success counted per IP (the other people behind it keep their
// failures), or an attempt that could not be checked (internal error).
func (a *Attempt) Drop(ctx context.Context) {
	if a != nil {
		a.t.exec(ctx, "drop attempt", `DELETE FROM login_attempts WHERE id = ?`, a.id)
	}
}

func (t *Throttle) exec(ctx context.Context, what, q string, args ...any) {
	err := t.st.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, q, args...)
		return err
	})
	if err != nil {
		t.log.Error("login throttle: "+what, "scope", t.scope, "err", err)
	}
}

// lockID is the PostgreSQL advisory lock of the attempt's key.
func (a *Attempt) lockID() int64 {
	b, _ := hex.DecodeString(a.hash[:16])
	return int64(binary.BigEndian.Uint64(b))
}

// hash names key in the database without keeping the address or IP.
func (t *Throttle) hash(key string) string {
	sum := sha256.Sum256([]byte(t.scope + "\x00" + key))
	return hex.EncodeToString(sum[:])
}

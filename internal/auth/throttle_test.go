package auth

import (
	"context"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// checkThrottle runs the rules of a Throttle on a (the first node) and b
// (another node), whose clocks both read *now.
func checkThrottle(t *testing.T, a, b *Throttle, now *time.Time) {
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		th := a
		if i%2 == 1 {
			th = b
		}
		if !th.Allow(ctx, "a") {
			t.Fatalf("attempt %d refused", i+1)
		}
		th.Fail(ctx, "a")
	}
	if a.Allow(ctx, "a") || b.Allow(ctx, "a") {
		t.Fatal("4th attempt allowed after 3 failures")
	}
	if !a.Allow(ctx, "b") {
		t.Fatal("other key throttled")
	}
	*now = now.Add(61 * time.Second)
	if !a.Allow(ctx, "a") || !b.Allow(ctx, "a") {
		t.Fatal("still throttled after the window")
	}
	a.Fail(ctx, "a")
	a.Fail(ctx, "a")
	if !b.Allow(ctx, "a") {
		t.Fatal("throttled after 2 failures")
	}
	b.Succeed(ctx, "a")
	a.Fail(ctx, "a")
	if !a.Allow(ctx, "a") {
		t.Fatal("a success did not clear the failures")
	}
}

// TestThrottleShared runs two nodes' throttles on one database: failures on
// either count for both, a success on either clears them, scopes are apart,
// old failures are pruned and no key is stored in clear.
func TestThrottleShared(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		open := func() *store.Store {
			st, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			return st
		}
		st1, st2 := open(), open()
		now := time.Unix(1_000_000, 0)
		clock := func() time.Time { return now }
		a := NewSharedThrottle(st1, "imap", 3, time.Minute, nil)
		b := NewSharedThrottle(st2, "imap", 3, time.Minute, nil)
		a.now, b.now = clock, clock
		checkThrottle(t, a, b, &now)

		other := NewSharedThrottle(st2, "smtp", 3, time.Minute, nil)
		other.now = clock
		for range 3 {
			a.Fail(ctx, "c")
		}
		if a.Allow(ctx, "c") || !other.Allow(ctx, "c") {
			t.Fatal("scopes share their counts")
		}

		var clear int
		if err := st1.QueryRow(ctx, `SELECT count(*) FROM login_failures WHERE key_hash IN ('a', 'b', 'c')`).Scan(&clear); err != nil {
			t.Fatal(err)
		}
		if clear != 0 {
			t.Fatal("keys stored in clear")
		}

		now = now.Add(2 * time.Minute)
		a.lastPrune = time.Time{}
		a.Fail(ctx, "d")
		var rows int
		if err := st1.QueryRow(ctx, `SELECT count(*) FROM login_failures`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != 1 {
			t.Fatalf("%d rows after pruning, want 1 (the new failure)", rows)
		}
	})
}

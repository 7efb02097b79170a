package auth

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// TestThrottle runs two nodes' throttles on one database: attempts on
// either count for both, a success on either clears the person's failures,
// a dropped attempt does not count, scopes are apart, old attempts are
// pruned, no key is stored in clear, and parallel attempts cannot all pass
// before the first one fails.
func TestThrottle(t *testing.T) {
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
		try := func(th *Throttle, key string) (*Attempt, bool) {
			t.Helper()
			return th.Try(ctx, key)
		}

		for i, th := range []*Throttle{a, b, a} {
			if _, ok := try(th, "k"); !ok {
				t.Fatalf("attempt %d refused", i+1)
			}
		}
		if _, ok := try(a, "k"); ok {
			t.Fatal("4th attempt allowed after 3 failures")
		}
		if _, ok := try(b, "k"); ok {
			t.Fatal("4th attempt allowed on the other node")
		}
		if _, ok := try(a, "other"); !ok {
			t.Fatal("other key throttled")
		}
		now = now.Add(61 * time.Second)
		att, ok := try(b, "k")
		if !ok {
			t.Fatal("still throttled after the window")
		}
		try(a, "k")
		att.Succeed(ctx)
		for i := range 3 {
			if _, ok := try(a, "k"); !ok {
				t.Fatalf("attempt %d after a success refused: the success did not clear the failures", i+1)
			}
		}
		att, _ = try(a, "d")
		try(a, "d")
		att.Drop(ctx)
		try(a, "d")
		if _, ok := try(b, "d"); !ok {
			t.Fatal("a dropped attempt counted")
		}

		other := NewSharedThrottle(st2, "smtp", 3, time.Minute, nil)
		other.now = clock
		if _, ok := try(other, "k"); !ok {
			t.Fatal("scopes share their counts")
		}
		var clear int
		if err := st1.QueryRow(ctx, `SELECT count(*) FROM login_attempts WHERE key_hash IN ('k', 'd', 'other')`).Scan(&clear); err != nil {
			t.Fatal(err)
		}
		if clear != 0 {
			t.Fatal("keys stored in clear")
		}

		// Parallel attempts on both nodes: exactly Max pass.
		var wg sync.WaitGroup
		var mu sync.Mutex
		passed := 0
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				th := a
				if i%2 == 1 {
					th = b
				}
				if _, ok := th.Try(ctx, "parallel"); ok {
					mu.Lock()
					passed++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if passed != 3 {
			t.Fatalf("%d of 20 parallel attempts passed, want 3", passed)
		}

		now = now.Add(2 * time.Minute)
		a.lastPrune = time.Time{}
		try(a, "e")
		var rows int
		if err := st1.QueryRow(ctx, `SELECT count(*) FROM login_attempts WHERE scope = 'imap'`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if rows != 1 {
			t.Fatalf("%d imap rows after pruning, want 1 (the new attempt)", rows)
		}
	})
}

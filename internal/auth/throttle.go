package auth

import (
	"sync"
	"time"
)

// Throttle limits failed logins per key (an address, an IP, or both): after
// Max failures within Window, attempts are refused until the window passes.
// It is per process; with several nodes each keeps its own count.
type Throttle struct {
	Max    int
	Window time.Duration

	mu   sync.Mutex
	fail map[string][]time.Time
	now  func() time.Time
}

// NewThrottle returns a Throttle allowing max failures per window.
func NewThrottle(max int, window time.Duration) *Throttle {
	return &Throttle{Max: max, Window: window, fail: map[string][]time.Time{}, now: time.Now}
}

// Allow reports whether an attempt for key may proceed.
func (t *Throttle) Allow(key string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.recent(key)) < t.Max
}

// Fail counts a failed attempt for key.
func (t *Throttle) Fail(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.fail[key] = append(t.recent(key), t.now())
	if len(t.fail) > 100000 {
		// Bound memory under a spray of keys: forget the oldest state.
		for k := range t.fail {
			delete(t.fail, k)
			if len(t.fail) <= 50000 {
				break
			}
		}
	}
}

// Succeed clears the failures of key.
func (t *Throttle) Succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.fail, key)
}

// recent drops failures older than the window; t.mu is held.
func (t *Throttle) recent(key string) []time.Time {
	cut := t.now().Add(-t.Window)
	fs := t.fail[key]
	i := 0
	for i < len(fs) && fs[i].Before(cut) {
		i++
	}
	fs = fs[i:]
	if len(fs) == 0 {
		delete(t.fail, key)
		return nil
	}
	t.fail[key] = fs
	return fs
}

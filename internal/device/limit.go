package device

import (
	"context"
	"sync"
	"time"
)

// Limiter throttles the device API per device: a token bucket of Burst
// requests refilled at Rate per second. It is per process, for one node (on
// SQLite); SharedLimiter keeps the buckets in the database for a cluster.
type Limiter struct {
	Rate  float64
	Burst float64
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	buckets map[int64]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// NewLimiter returns a Limiter allowing burst requests at once and rate per
// second over time.
func NewLimiter(rate float64, burst int) *Limiter {
	return &Limiter{Rate: rate, Burst: float64(burst), buckets: map[int64]*bucket{}}
}

// Allow takes a token for device id; false means the request is refused
// (HTTP 429) and wait is how long until a token is back. It never fails.
func (l *Limiter) Allow(_ context.Context, id int64) (ok bool, wait time.Duration, err error) {
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[id]
	if b == nil {
		if len(l.buckets) > 100000 {
			// Bound memory: forget full buckets' state.
			clear(l.buckets)
		}
		b = &bucket{tokens: l.Burst, at: now}
		l.buckets[id] = b
	}
	b.tokens = min(l.Burst, b.tokens+now.Sub(b.at).Seconds()*l.Rate)
	b.at = now
	if b.tokens >= 1 {
		b.tokens--
		return true, 0, nil
	}
	if l.Rate <= 0 {
		return false, time.Minute, nil
	}
	return false, time.Duration((1 - b.tokens) / l.Rate * float64(time.Second)), nil
}

package device

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// SharedLimiter is Limiter's token bucket kept in the database, so that the
// nodes of a cluster share each device's allowance (a device behind a load
// balancer does not get one bucket per node). It is the generic cell rate
// algorithm: one number per device, the theoretical arrival time (TAT) of
// the next request, moved by one emission interval per accepted request;
// a request is accepted when that leaves the TAT at most Burst intervals
// ahead of now. One statement decides and records, atomically.
type SharedLimiter struct {
	St    *store.Store
	Rate  float64
	Burst int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewSharedLimiter returns a SharedLimiter on st allowing burst requests at
// once and rate per second over time.
func NewSharedLimiter(st *store.Store, rate float64, burst int) *SharedLimiter {
	return &SharedLimiter{St: st, Rate: rate, Burst: burst}
}

// Allow takes a token for device id; false means the request is refused
// (HTTP 429) and wait is how long until a token is back.
func (l *SharedLimiter) Allow(ctx context.Context, id int64) (ok bool, wait time.Duration, err error) {
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	t := int64(math.MaxInt32) // emission interval, ms: no refill without a rate
	if l.Rate > 0 {
		t = int64(math.Ceil(1000 / l.Rate))
	}
	ms := now.UnixMilli()
	limit := int64(l.Burst) * t
	greatest := "max"
	if l.St.Dialect == store.Postgres {
		greatest = "GREATEST"
	}
	var tat int64
	err = l.St.Tx(ctx, func(tx *store.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO device_rate (device_id, tat) VALUES (?, ?)
			ON CONFLICT (device_id) DO UPDATE SET tat = `+greatest+`(device_rate.tat, ?) + ?
			WHERE `+greatest+`(device_rate.tat, ?) + ? - ? <= ?
			RETURNING tat`, id, ms+t, ms, t, ms, t, ms, limit).Scan(&tat)
		if errors.Is(err, sql.ErrNoRows) {
			// Refused: nothing changed; read the TAT to say when to retry.
			if err := tx.QueryRow(ctx, `SELECT tat FROM device_rate WHERE device_id = ?`, id).Scan(&tat); err != nil {
				return err
			}
			ok = false
			return nil
		}
		ok = err == nil
		return err
	})
	if err != nil {
		return true, 0, fmt.Errorf("device rate of %d: %w", id, err)
	}
	if ok {
		return true, 0, nil
	}
	return false, time.Duration(max(tat, ms)+t-limit-ms) * time.Millisecond, nil
}

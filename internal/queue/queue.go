// Package queue is the durable job queue behind the transactional outbox:
// jobs are written in the same transaction as the delivery that causes them,
// then claimed by workers with a lease, retried with exponential backoff, and
// deleted once done.
package queue

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// Job is one side effect to carry out.
type Job struct {
	ID        int64
	Kind      string
	Payload   json.RawMessage
	RunAt     time.Time
	Attempts  int
	LastError string
	Created   time.Time

	// leaseUntil is the lease end written by the Claim that returned the
	// job (Unix ms): it identifies that claim when the lease is renewed.
	leaseUntil int64
}

// Enqueue writes a job inside tx; it becomes visible to workers only when tx
// commits, together with the delivery that caused it.
func Enqueue(ctx context.Context, tx *store.Tx, kind string, payload any, runAt time.Time) (int64, error) {
	return EnqueueFor(ctx, tx, kind, 0, payload, runAt)
}

// EnqueueFor is Enqueue for a job that reads stored message messageID: the
// message is kept, even once no mailbox holds it, until the job is completed
// or dropped.
func EnqueueFor(ctx context.Context, tx *store.Tx, kind string, messageID int64, payload any, runAt time.Time) (int64, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return 0, fmt.Errorf("enqueue %s: %w", kind, err)
	}
	id, err := tx.InsertID(ctx, `INSERT INTO jobs (kind, payload, run_at, created_at, message_id) VALUES (?, ?, ?, ?, ?)`,
		kind, string(b), runAt.UnixMilli(), time.Now().Unix(), messageID)
	if err != nil {
		return 0, fmt.Errorf("enqueue %s: %w", kind, err)
	}
	return id, nil
}

// Claim leases up to n due jobs for lease; a job whose worker dies becomes
// due again when its lease ends. On PostgreSQL concurrent nodes skip each
// other's rows (FOR UPDATE SKIP LOCKED), so each job is claimed once.
func Claim(ctx context.Context, st *store.Store, n int, lease time.Duration) ([]Job, error) {
	now := time.Now().UnixMilli()
	until := now + lease.Milliseconds()
	var jobs []Job
	err := st.Tx(ctx, func(tx *store.Tx) error {
		jobs = jobs[:0]
		sel := `SELECT id FROM jobs WHERE run_at <= ? AND lease_until <= ? ORDER BY run_at LIMIT ?`
		if tx.Dialect() == store.Postgres {
			sel += ` FOR UPDATE SKIP LOCKED`
		}
		rows, err := tx.Query(ctx, `UPDATE jobs SET lease_until = ?, attempts = attempts + 1 WHERE id IN (`+sel+`)
			RETURNING id, kind, payload, run_at, attempts, last_error, created_at`, until, now, now, n)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var j Job
			var payload string
			var runAt, created int64
			if err := rows.Scan(&j.ID, &j.Kind, &payload, &runAt, &j.Attempts, &j.LastError, &created); err != nil {
				return err
			}
			j.Payload, j.RunAt, j.Created = json.RawMessage(payload), time.UnixMilli(runAt), time.Unix(created, 0)
			j.leaseUntil = until
			jobs = append(jobs, j)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("claim jobs: %w", err)
	}
	return jobs, nil
}

// renewLeases extends to until the leases of held (job id → lease end of
// the claim that holds it), in one statement. A job whose lease end is no
// longer the one held was settled (completed, rescheduled) or, its lease run
// out, claimed again elsewhere: it is left alone and dropped from held.
// held is updated to the new lease ends.
func renewLeases(ctx context.Context, st *store.Store, held map[int64]int64, until int64) error {
	ids := slices.Sorted(maps.Keys(held))
	n := store.PaddedLen(len(ids))
	var where strings.Builder
	args := []any{until}
	for i := range n {
		id := ids[min(i, len(ids)-1)]
		if i > 0 {
			where.WriteString(" OR ")
		}
		where.WriteString("(id = ? AND lease_until = ?)")
		args = append(args, id, held[id])
	}
	renewed := map[int64]bool{}
	err := st.Tx(ctx, func(tx *store.Tx) error {
		clear(renewed)
		rows, err := tx.Query(ctx, `UPDATE jobs SET lease_until = ? WHERE `+where.String()+` RETURNING id`, args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			renewed[id] = true
		}
		return rows.Err()
	})
	if err != nil {
		return fmt.Errorf("renew job leases: %w", err)
	}
	for _, id := range ids {
		if renewed[id] {
			held[id] = until
		} else {
			delete(held, id)
		}
	}
	return nil
}

// Complete deletes a finished job, together with whatever fn writes (fn may
// be nil): a job's consequences and its completion commit at once.
func Complete(ctx context.Context, st *store.Store, id int64, fn func(*store.Tx) error) error {
	return st.Tx(ctx, func(tx *store.Tx) error {
		if fn != nil {
			if err := fn(tx); err != nil {
				return err
			}
		}
		_, err := remove(ctx, tx, id)
		return err
	})
}

// remove deletes a job, then the message it named if nothing else holds it.
func remove(ctx context.Context, tx *store.Tx, id int64) (bool, error) {
	var msg int64
	err := tx.QueryRow(ctx, `DELETE FROM jobs WHERE id = ? RETURNING message_id`, id).Scan(&msg)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil || msg == 0 {
		return err == nil, err
	}
	_, err = tx.Exec(ctx, `DELETE FROM messages WHERE id = ? AND refs <= 0 AND NOT EXISTS (SELECT 1 FROM jobs WHERE message_id = ?)`, msg, msg)
	return true, err
}

// Reschedule releases a job to run again at runAt, recording why it failed
// and, when payload is not nil, its new payload.
func Reschedule(ctx context.Context, st *store.Store, id int64, runAt time.Time, reason string, payload any) error {
	return st.Tx(ctx, func(tx *store.Tx) error { return RescheduleTx(ctx, tx, id, runAt, reason, payload) })
}

// RescheduleTx is Reschedule inside tx, so that a partial outcome (some
// recipients done, the others to retry) commits together with its traces.
func RescheduleTx(ctx context.Context, tx *store.Tx, id int64, runAt time.Time, reason string, payload any) error {
	if payload != nil {
		b, err := json.Marshal(payload)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE jobs SET payload = ? WHERE id = ?`, string(b), id); err != nil {
			return err
		}
	}
	_, err := tx.Exec(ctx, `UPDATE jobs SET run_at = ?, lease_until = 0, last_error = ? WHERE id = ?`, runAt.UnixMilli(), truncate(reason, 2000), id)
	return err
}

// List returns jobs by due time, optionally of one kind.
func List(ctx context.Context, st *store.Store, kind string) ([]Job, error) {
	q := `SELECT id, kind, payload, run_at, attempts, last_error, created_at FROM jobs`
	var args []any
	if kind != "" {
		q += ` WHERE kind = ?`
		args = append(args, kind)
	}
	rows, err := st.Query(ctx, q+` ORDER BY run_at, id`, args...)
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	defer rows.Close()
	var out []Job
	for rows.Next() {
		var j Job
		var payload string
		var runAt, created int64
		if err := rows.Scan(&j.ID, &j.Kind, &payload, &runAt, &j.Attempts, &j.LastError, &created); err != nil {
			return nil, err
		}
		j.Payload, j.RunAt, j.Created = json.RawMessage(payload), time.UnixMilli(runAt), time.Unix(created, 0)
		out = append(out, j)
	}
	return out, rows.Err()
}

// RetryNow makes a job due immediately.
func RetryNow(ctx context.Context, st *store.Store, id int64) error {
	return st.Tx(ctx, func(tx *store.Tx) error { return RetryNowTx(ctx, tx, id) })
}

// RetryNowTx is RetryNow inside tx (so that a record of it commits with it).
func RetryNowTx(ctx context.Context, tx *store.Tx, id int64) error {
	res, err := tx.Exec(ctx, `UPDATE jobs SET run_at = ?, lease_until = 0 WHERE id = ?`, time.Now().UnixMilli(), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("job %d not found", id)
	}
	return nil
}

// Drop deletes a job without carrying it out.
func Drop(ctx context.Context, st *store.Store, id int64) error {
	return st.Tx(ctx, func(tx *store.Tx) error { return DropTx(ctx, tx, id) })
}

// DropTx is Drop inside tx (so that a record of it commits with it).
func DropTx(ctx context.Context, tx *store.Tx, id int64) error {
	found, err := remove(ctx, tx, id)
	if err != nil {
		return err
	}
	if !found {
		return fmt.Errorf("job %d not found", id)
	}
	return nil
}

// Backoff returns the delay before attempt number attempt (1-based):
// initial, doubled each attempt, capped at max.
func Backoff(attempt int, initial, max time.Duration) time.Duration {
	d := initial
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

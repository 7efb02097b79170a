package queue

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// Handler carries out one job and settles it: Complete when done (with the
// job's consequences in the same transaction), Reschedule to try again. A
// returned error is logged; a job left unsettled runs again when its lease
// ends.
type Handler func(ctx context.Context, j Job) error

// Runner claims due jobs and hands them to the handler of their kind.
type Runner struct {
	St       *store.Store
	Handlers map[string]Handler
	Workers  int
	Poll     time.Duration
	Lease    time.Duration
	Log      *slog.Logger

	wake chan struct{}
	once sync.Once
}

func (r *Runner) init() {
	r.once.Do(func() { r.wake = make(chan struct{}, 1) })
}

// Wake makes the runner look for due jobs now (after a commit that added
// jobs), instead of at its next poll.
func (r *Runner) Wake() {
	r.init()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Run works until ctx ends, then waits for jobs in flight.
func (r *Runner) Run(ctx context.Context) {
	r.init()
	if r.Lease == 0 {
		r.Lease = 5 * time.Minute
	}
	sem := make(chan struct{}, r.Workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-r.wake:
		}
		free := r.Workers - len(sem)
		if free > 0 {
			jobs, err := Claim(ctx, r.St, free, r.Lease)
			if err != nil && ctx.Err() == nil {
				r.Log.Error("queue: claim", "err", err)
			}
			for _, j := range jobs {
				sem <- struct{}{}
				wg.Add(1)
				go func(j Job) {
					defer func() { <-sem; wg.Done(); r.Wake() }()
					r.handle(ctx, j)
				}(j)
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(r.Poll)
	}
}

func (r *Runner) handle(ctx context.Context, j Job) {
	defer func() {
		if p := recover(); p != nil {
			r.Log.Error("queue: job panicked", "job", j.ID, "kind", j.Kind, "panic", p, "stack", string(debug.Stack()))
			Reschedule(context.Background(), r.St, j.ID, time.Now().Add(time.Minute), fmt.Sprint("panic: ", p), nil)
		}
	}()
	h, ok := r.Handlers[j.Kind]
	if !ok {
		r.Log.Error("queue: no handler", "job", j.ID, "kind", j.Kind)
		Reschedule(ctx, r.St, j.ID, time.Now().Add(time.Hour), "no handler for "+j.Kind, nil)
		return
	}
	if err := h(ctx, j); err != nil {
		r.Log.Warn("queue: job failed", "job", j.ID, "kind", j.Kind, "attempt", j.Attempts, "err", err)
	}
}

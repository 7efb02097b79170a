package queue

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
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
//
// While a handler runs, the runner renews its job's lease every third of
// Lease: a job that takes longer than Lease (a slow peer operator, a large
// message) is not claimed again by another node meanwhile. Only a runner
// that stops renewing (its node died or lost the database) lets the lease
// run out, and the job run elsewhere.
type Runner struct {
	St       *store.Store
	Handlers map[string]Handler
	Workers  int
	Poll     time.Duration
	Lease    time.Duration
	Log      *slog.Logger

	wake chan struct{}
	once sync.Once

	mu sync.Mutex
	// held maps the jobs in flight to the lease end this runner holds.
	held map[int64]int64
}

func (r *Runner) init() {
	r.once.Do(func() { r.wake = make(chan struct{}, 1); r.held = map[int64]int64{} })
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
	wg.Add(1)
	go func() { defer wg.Done(); r.keepLeases(ctx) }()
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
				r.mu.Lock()
				r.held[j.ID] = j.leaseUntil
				r.mu.Unlock()
				go func(j Job) {
					defer func() {
						r.mu.Lock()
						delete(r.held, j.ID)
						r.mu.Unlock()
						<-sem
						wg.Done()
						r.Wake()
					}()
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

// keepLeases renews the leases of the jobs in flight every third of the
// lease until ctx ends (jobs still finishing during a shutdown keep at least
// two thirds of their lease).
func (r *Runner) keepLeases(ctx context.Context) {
	t := time.NewTicker(r.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		r.mu.Lock()
		snapshot := maps.Clone(r.held)
		r.mu.Unlock()
		if len(snapshot) == 0 {
			continue
		}
		held := maps.Clone(snapshot)
		if err := renewLeases(ctx, r.St, held, time.Now().Add(r.Lease).UnixMilli()); err != nil {
			if ctx.Err() == nil {
				r.Log.Warn("queue: lease renewal", "jobs", len(held), "err", err)
			}
			continue
		}
		r.mu.Lock()
		for id, old := range snapshot {
			if cur, ok := r.held[id]; !ok || cur != old {
				continue // finished meanwhile
			}
			if until, ok := held[id]; ok {
				r.held[id] = until
			} else {
				delete(r.held, id) // settled, or lost to another node
			}
		}
		r.mu.Unlock()
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

package queue_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

func enqueue(t *testing.T, st *store.Store, n int, at time.Time) {
	t.Helper()
	err := st.Tx(context.Background(), func(tx *store.Tx) error {
		for i := 0; i < n; i++ {
			if _, err := queue.Enqueue(context.Background(), tx, "test", map[string]int{"n": i}, at); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestClaimLeaseAndRetry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		enqueue(t, st, 3, time.Now().Add(-time.Second))
		enqueue(t, st, 1, time.Now().Add(time.Hour)) // not due

		// Concurrent claimers never get the same job.
		var mu sync.Mutex
		got := map[int64]int{}
		var wg sync.WaitGroup
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				jobs, err := queue.Claim(ctx, st, 2, 200*time.Millisecond)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, j := range jobs {
					got[j.ID]++
				}
				mu.Unlock()
			}()
		}
		wg.Wait()
		if len(got) != 3 {
			t.Fatalf("claimed %d distinct due jobs, want 3", len(got))
		}
		for id, n := range got {
			if n != 1 {
				t.Fatalf("job %d claimed %d times", id, n)
			}
		}
		// A leased job is invisible until its lease ends (its worker died).
		if jobs, _ := queue.Claim(ctx, st, 10, time.Minute); len(jobs) != 0 {
			t.Fatalf("claimed %d leased jobs", len(jobs))
		}
		time.Sleep(250 * time.Millisecond)
		jobs, err := queue.Claim(ctx, st, 10, time.Minute)
		if err != nil || len(jobs) != 3 {
			t.Fatalf("after lease expiry claimed %d, %v", len(jobs), err)
		}
		if jobs[0].Attempts != 2 {
			t.Fatalf("attempts = %d, want 2", jobs[0].Attempts)
		}
		// Reschedule with a new payload, complete, drop.
		if err := queue.Reschedule(ctx, st, jobs[0].ID, time.Now().Add(-time.Millisecond), "451 try later", map[string]int{"n": 42}); err != nil {
			t.Fatal(err)
		}
		if err := queue.Complete(ctx, st, jobs[1].ID, nil); err != nil {
			t.Fatal(err)
		}
		if err := queue.Drop(ctx, st, jobs[2].ID); err != nil {
			t.Fatal(err)
		}
		if err := queue.Drop(ctx, st, jobs[2].ID); err == nil {
			t.Fatal("dropping a missing job succeeded")
		}
		all, err := queue.List(ctx, st, "")
		if err != nil || len(all) != 2 {
			t.Fatalf("list = %d jobs, %v", len(all), err)
		}
		if all[0].LastError != "451 try later" || string(all[0].Payload) != `{"n":42}` {
			t.Fatalf("rescheduled job = %+v", all[0])
		}
		if err := queue.RetryNow(ctx, st, all[1].ID); err != nil {
			t.Fatal(err)
		}
		if jobs, _ := queue.Claim(ctx, st, 10, time.Minute); len(jobs) != 2 {
			t.Fatalf("after retry-now claimed %d, want 2", len(jobs))
		}
	})
}

func TestBackoff(t *testing.T) {
	want := []time.Duration{time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	for i, w := range want {
		if got := queue.Backoff(i+1, time.Minute, 10*time.Minute); got != w {
			t.Errorf("attempt %d: %v, want %v", i+1, got, w)
		}
	}
}

func TestRunnerRunsEachJobOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		enqueue(t, st, 50, time.Now())
		var runs sync.Map
		var done atomic.Int32
		handler := func(ctx context.Context, j queue.Job) error {
			var p map[string]int
			json.Unmarshal(j.Payload, &p)
			if _, dup := runs.LoadOrStore(p["n"], true); dup {
				t.Errorf("job %d ran twice", p["n"])
			}
			if err := queue.Complete(ctx, st, j.ID, nil); err != nil {
				return err
			}
			done.Add(1)
			return nil
		}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		var wg sync.WaitGroup
		for i := 0; i < 2; i++ { // two runners, as two nodes would
			r := &queue.Runner{St: st, Workers: 4, Poll: 20 * time.Millisecond, Log: log, Handlers: map[string]queue.Handler{"test": handler}}
			wg.Add(1)
			go func() { defer wg.Done(); r.Run(ctx) }()
		}
		deadline := time.Now().Add(10 * time.Second)
		for done.Load() < 50 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		if done.Load() != 50 {
			t.Fatalf("%d jobs done, want 50", done.Load())
		}
		left, _ := queue.List(context.Background(), st, "")
		if len(left) != 0 {
			t.Fatalf("%d jobs left", len(left))
		}
	})
}

// TestRunnerRenewsLease: a job that takes several leases' time is not run
// again by another runner (node) while its runner is alive, since that
// runner renews the lease; once its runner stops renewing (as when a node
// dies) another runner takes the job over after the lease.
func TestRunnerRenewsLease(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		const lease = 300 * time.Millisecond
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var sts []*store.Store
		for range 2 {
			st, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			sts = append(sts, st)
		}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		var runs [2]atomic.Int32
		took := make(chan int, 8)
		release := make(chan struct{})
		// Runner 0 works 5 leases on a job then completes it, or gives it
		// up unsettled when released; runner 1 completes at once.
		handler := func(who int, hold time.Duration) queue.Handler {
			return func(ctx context.Context, j queue.Job) error {
				runs[who].Add(1)
				took <- who
				select {
				case <-time.After(hold):
				case <-release:
					return nil
				}
				return queue.Complete(ctx, sts[who], j.ID, nil)
			}
		}
		start := func(ctx context.Context, who int, hold time.Duration) *sync.WaitGroup {
			r := &queue.Runner{St: sts[who], Workers: 2, Poll: 20 * time.Millisecond, Lease: lease, Log: log,
				Handlers: map[string]queue.Handler{"test": handler(who, hold)}}
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); r.Run(ctx) }()
			return &wg
		}
		waitEmpty := func() {
			t.Helper()
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if left, _ := queue.List(ctx, sts[0], ""); len(left) == 0 {
					return
				}
			}
			t.Fatal("the queue did not empty")
		}

		enqueue(t, sts[0], 1, time.Now())
		ctx0, stop0 := context.WithCancel(ctx)
		wg0 := start(ctx0, 0, 5*lease)
		if who := <-took; who != 0 {
			t.Fatalf("runner %d took the job", who)
		}
		ctx1, stop1 := context.WithCancel(ctx)
		wg1 := start(ctx1, 1, 0)
		waitEmpty()
		if runs[0].Load() != 1 || runs[1].Load() != 0 {
			t.Fatalf("runs %d and %d while runner 0 renewed the lease; want 1 and 0", runs[0].Load(), runs[1].Load())
		}
		stop1()
		wg1.Wait()

		// Runner 0 holds a second job forever and stops renewing.
		enqueue(t, sts[0], 1, time.Now())
		if who := <-took; who != 0 {
			t.Fatalf("runner %d took the second job", who)
		}
		stop0() // renewals stop; the handler keeps the job
		wg1 = start(ctx, 1, 0)
		waitEmpty()
		if runs[1].Load() != 1 {
			t.Fatalf("runner 1 ran %d jobs, want the abandoned one", runs[1].Load())
		}
		close(release)
		wg0.Wait()
		cancel()
		wg1.Wait()
	})
}

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

// TestClusterRunsEachJobOnce runs three runners on three connection pools
// (three nodes) of one PostgreSQL database under load: jobs are enqueued
// while the runners claim them (FOR UPDATE SKIP LOCKED), with handlers of
// varied length; every job runs exactly once and the queue empties.
func TestClusterRunsEachJobOnce(t *testing.T) {
	dsn := storetest.Postgres(t)
	const nodes, batches, perBatch = 3, 30, 50
	total := batches * perBatch
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sts []*store.Store
	for range nodes {
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		sts = append(sts, st)
	}
	var runs sync.Map
	var done atomic.Int32
	perNode := make([]atomic.Int32, nodes)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var wg sync.WaitGroup
	for i, st := range sts {
		handler := func(ctx context.Context, j queue.Job) error {
			var p map[string]int
			json.Unmarshal(j.Payload, &p)
			if prev, dup := runs.LoadOrStore(p["n"], i); dup {
				t.Errorf("job %d ran twice (nodes %d and %d)", p["n"], prev, i)
			}
			if p["n"]%7 == 0 {
				time.Sleep(time.Duration(p["n"]%5) * time.Millisecond)
			}
			if err := queue.Complete(ctx, st, j.ID, nil); err != nil {
				return err
			}
			perNode[i].Add(1)
			done.Add(1)
			return nil
		}
		r := &queue.Runner{St: st, Workers: 8, Poll: 5 * time.Millisecond, Log: log, Handlers: map[string]queue.Handler{"test": handler}}
		wg.Add(1)
		go func() { defer wg.Done(); r.Run(ctx) }()
	}
	// Enqueue from every node while the runners work.
	var eg sync.WaitGroup
	for b := range batches {
		eg.Add(1)
		go func() {
			defer eg.Done()
			err := sts[b%nodes].Tx(ctx, func(tx *store.Tx) error {
				for k := range perBatch {
					if _, err := queue.Enqueue(ctx, tx, "test", map[string]int{"n": b*perBatch + k}, time.Now()); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		}()
	}
	eg.Wait()
	deadline := time.Now().Add(60 * time.Second)
	for int(done.Load()) < total && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // room for a duplicate
	cancel()
	wg.Wait()
	if int(done.Load()) != total {
		t.Fatalf("%d jobs done, want %d", done.Load(), total)
	}
	for i := range perNode {
		t.Logf("node %d ran %d jobs", i+1, perNode[i].Load())
		if perNode[i].Load() == 0 {
			t.Errorf("node %d ran no job: the load was not shared", i+1)
		}
	}
	left, err := queue.List(context.Background(), sts[0], "")
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Fatalf("%d jobs left", len(left))
	}
}

package store

import (
	"context"
	"fmt"
	"sync"
)

// maxBatch bounds how many transactions share one SQLite commit.
const maxBatch = 256

type writeReq struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

// groupWriter owns SQLite's single writer connection. Concurrent Tx calls
// queue here; each round runs every waiting function in one transaction,
// each inside its own SAVEPOINT so that one failure rolls back only its own
// work, then commits once: one fsync for the whole batch.
type groupWriter struct {
	s    *Store
	reqs chan writeReq
	quit chan struct{}
	wg   sync.WaitGroup
}

func newGroupWriter(s *Store) *groupWriter {
	g := &groupWriter{s: s, reqs: make(chan writeReq, 1024), quit: make(chan struct{})}
	g.wg.Add(1)
	go g.loop()
	return g
}

func (g *groupWriter) do(ctx context.Context, fn func(*Tx) error) error {
	r := writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case g.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-g.quit:
		return fmt.Errorf("store closed")
	}
	// Once queued, wait for the outcome even if ctx ends: the caller must
	// know whether its work was committed.
	return <-r.done
}

func (g *groupWriter) stop() {
	close(g.quit)
	g.wg.Wait()
}

func (g *groupWriter) loop() {
	defer g.wg.Done()
	for {
		var batch []writeReq
		select {
		case r := <-g.reqs:
			batch = append(batch, r)
		case <-g.quit:
			// Drain what is already queued so no caller waits forever.
			for {
				select {
				case r := <-g.reqs:
					r.done <- fmt.Errorf("store closed")
				default:
					return
				}
			}
		}
	fill:
		for len(batch) < maxBatch {
			select {
			case r := <-g.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		g.run(batch)
	}
}

func (g *groupWriter) run(batch []writeReq) {
	ctx := context.Background()
	// The writer connection is free: prepare the statements last batches used.
	g.s.wstmts.prepareCached(ctx, g.s.wdb)
	sqlTx, err := g.s.wdb.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range batch {
			r.done <- fmt.Errorf("begin: %w", err)
		}
		return
	}
	results := make([]error, len(batch))
	var hooks []func()
	for i, r := range batch {
		if err := r.ctx.Err(); err != nil {
			results[i] = err
			continue
		}
		if _, err := sqlTx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			results[i] = fmt.Errorf("savepoint: %w", err)
			continue
		}
		t := &Tx{s: g.s, tx: sqlTx}
		if err := r.fn(t); err != nil {
			results[i] = err
			if _, rbErr := sqlTx.ExecContext(ctx, "ROLLBACK TO w; RELEASE w"); rbErr != nil {
				// The transaction is unusable: fail the whole batch.
				sqlTx.Rollback()
				for j, r := range batch {
					if j != i {
						r.done <- fmt.Errorf("rollback to savepoint: %w", rbErr)
					}
				}
				batch[i].done <- err
				return
			}
			continue
		}
		if _, err := sqlTx.ExecContext(ctx, "RELEASE w"); err != nil {
			results[i] = fmt.Errorf("release savepoint: %w", err)
			continue
		}
		hooks = append(hooks, t.afterCommit...)
	}
	if err := sqlTx.Commit(); err != nil {
		for _, r := range batch {
			r.done <- fmt.Errorf("commit: %w", err)
		}
		return
	}
	for _, h := range hooks {
		h()
	}
	for i, r := range batch {
		r.done <- results[i]
	}
}

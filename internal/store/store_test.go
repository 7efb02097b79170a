package store_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// TestTxIsolation checks that concurrent transactions commit independently:
// on SQLite they share commits (group commit), yet a failing one leaves no
// trace and does not affect the others.
func TestTxIsolation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		const n = 200
		var wg sync.WaitGroup
		errs := make([]error, n)
		var hooks sync.Map
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				errs[i] = st.Tx(ctx, func(tx *store.Tx) error {
					if _, err := tx.Exec(ctx, `INSERT INTO structures (name, created_at) VALUES (?, ?)`, fmt.Sprintf("s%03d", i), i); err != nil {
						return err
					}
					tx.AfterCommit(func() { hooks.Store(i, true) })
					if i%10 == 0 {
						return errors.New("refused on purpose")
					}
					return nil
				})
			}(i)
		}
		wg.Wait()
		var count int
		if err := st.QueryRow(ctx, `SELECT COUNT(*) FROM structures`).Scan(&count); err != nil {
			t.Fatal(err)
		}
		if count != n-n/10 {
			t.Fatalf("%d rows committed, want %d", count, n-n/10)
		}
		for i, err := range errs {
			_, hooked := hooks.Load(i)
			if i%10 == 0 {
				if err == nil || hooked {
					t.Fatalf("tx %d: err %v, after-commit hook ran %v", i, err, hooked)
				}
				var c int
				st.QueryRow(ctx, `SELECT COUNT(*) FROM structures WHERE name = ?`, fmt.Sprintf("s%03d", i)).Scan(&c)
				if c != 0 {
					t.Fatalf("failed tx %d left its row", i)
				}
			} else if err != nil || !hooked {
				t.Fatalf("tx %d: err %v, hook %v", i, err, hooked)
			}
		}
		// A statement error inside a transaction is that transaction's alone.
		err = st.Tx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO structures (name, created_at) VALUES (?, ?)`, "s001", 0)
			return err
		})
		if err == nil {
			t.Fatal("duplicate name accepted")
		}
		if err := st.Tx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `INSERT INTO structures (name, created_at) VALUES (?, ?)`, "after", 0)
			return err
		}); err != nil {
			t.Fatalf("store unusable after a failed statement: %v", err)
		}
	})
}

func TestReopenKeepsSchema(t *testing.T) {
	dsn := storetest.SQLite(t)
	ctx := context.Background()
	for i := 0; i < 2; i++ {
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		var v int
		if err := st.QueryRow(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&v); err != nil || v < 1 {
			t.Fatalf("schema version %d, %v", v, err)
		}
		st.Close()
	}
}

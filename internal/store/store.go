// Package store is the only package that speaks SQL. It opens SQLite or
// PostgreSQL, runs the migrations of the matching dialect and funnels every
// write through Tx, which on SQLite batches concurrent transactions into one
// commit (group commit: one fsync for many deliveries).
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver "pgx"
	_ "modernc.org/sqlite"             // SQLite driver "sqlite"
)

// Dialect names the SQL flavour of a Store.
type Dialect string

// The two supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Store is an open database. Reads go through Q (or DB); writes go through Tx.
type Store struct {
	Dialect Dialect
	// DB serves reads (and, on PostgreSQL, writes).
	DB *sql.DB
	// wdb is SQLite's single writer connection; nil on PostgreSQL.
	wdb    *sql.DB
	writer *groupWriter
	// rstmts and wstmts cache prepared statements on SQLite (DB and wdb):
	// modernc's driver otherwise parses every statement at every call.
	rstmts, wstmts stmtCache
}

// stmtCache maps a query to its prepared statement on one *sql.DB.
type stmtCache struct {
	mu      sync.Mutex
	m       map[string]*sql.Stmt
	pending map[string]bool
}

// lookup returns the cached statement of q, or nil (then q is remembered
// for prepareCached).
func (c *stmtCache) lookup(q string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.m[q]; ok {
		return st
	}
	if len(c.m)+len(c.pending) < 512 {
		if c.pending == nil {
			c.pending = map[string]bool{}
		}
		c.pending[q] = true
	}
	return nil
}

// prepareCached prepares the queries seen since last time; db must have a
// free connection.
func (c *stmtCache) prepareCached(ctx context.Context, db *sql.DB) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q := range c.pending {
		if st, err := db.PrepareContext(ctx, q); err == nil {
			if c.m == nil {
				c.m = map[string]*sql.Stmt{}
			}
			c.m[q] = st
		}
	}
	c.pending = nil
}

// close closes every cached statement.
func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m, c.pending = nil, nil
}

// get returns q prepared on db (a pool: preparing never waits long).
func (c *stmtCache) get(ctx context.Context, db *sql.DB, q string) *sql.Stmt {
	if st := c.lookup(q); st != nil {
		return st
	}
	c.prepareCached(ctx, db)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[q]
}

// ErrNotFound is returned when a looked-up row does not exist.
var ErrNotFound = errors.New("not found")

// Open opens the database named by dsn ("sqlite:PATH" or "postgres://…") and
// brings its schema up to date.
func Open(ctx context.Context, dsn string) (*Store, error) {
	s := &Store{}
	switch {
	case strings.HasPrefix(dsn, "sqlite:"):
		path := strings.TrimPrefix(dsn, "sqlite:")
		if dir := filepath.Dir(path); dir != "" {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, fmt.Errorf("open store: %w", err)
			}
		}
		// WAL lets readers run beside the writer; synchronous=FULL fsyncs
		// the WAL at every commit, so a committed delivery survives a crash.
		pragmas := "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(20000)&_pragma=foreign_keys(1)"
		r, err := sql.Open("sqlite", "file:"+path+pragmas)
		if err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		r.SetMaxOpenConns(8)
		w, err := sql.Open("sqlite", "file:"+path+pragmas+"&_txlock=immediate")
		if err != nil {
			r.Close()
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
		w.SetMaxOpenConns(1)
		s.Dialect, s.DB, s.wdb = SQLite, r, w
	case strings.HasPrefix(dsn, "postgres://"), strings.HasPrefix(dsn, "postgresql://"):
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return nil, fmt.Errorf("open postgres: %w", err)
		}
		db.SetMaxOpenConns(40)
		db.SetMaxIdleConns(40)
		s.Dialect, s.DB = Postgres, db
	default:
		return nil, fmt.Errorf("open store: unknown database %q", dsn)
	}
	if err := s.DB.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, err
	}
	if s.wdb != nil {
		s.writer = newGroupWriter(s)
	}
	return s, nil
}

// Close stops the writer and closes the connections.
func (s *Store) Close() error {
	if s.writer != nil {
		s.writer.stop()
	}
	s.rstmts.close()
	s.wstmts.close()
	if s.wdb != nil {
		s.wdb.Close()
	}
	return s.DB.Close()
}

// Rebind turns the '?' placeholders of q into PostgreSQL's $n when needed.
func (s *Store) Rebind(q string) string {
	if s.Dialect != Postgres {
		return q
	}
	return rebind(q)
}

func rebind(q string) string {
	var b strings.Builder
	n := 0
	inStr := false
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c == '\'' {
			inStr = !inStr
		}
		if c == '?' && !inStr {
			n++
			fmt.Fprintf(&b, "$%d", n)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Query runs a read query.
func (s *Store) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if s.wdb != nil {
		if st := s.rstmts.get(ctx, s.DB, q); st != nil {
			return st.QueryContext(ctx, args...)
		}
	}
	return s.DB.QueryContext(ctx, s.Rebind(q), args...)
}

// QueryRow runs a read query returning at most one row.
func (s *Store) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if s.wdb != nil {
		if st := s.rstmts.get(ctx, s.DB, q); st != nil {
			return st.QueryRowContext(ctx, args...)
		}
	}
	return s.DB.QueryRowContext(ctx, s.Rebind(q), args...)
}

// Tx is one write transaction. Its queries use '?' placeholders in both
// dialects.
type Tx struct {
	s           *Store
	tx          *sql.Tx
	afterCommit []func()
}

// Exec runs a statement in the transaction.
func (t *Tx) Exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, t.s.Rebind(q), args...)
}

// Query runs a query in the transaction.
func (t *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, t.s.Rebind(q), args...)
}

// QueryRow runs a query returning at most one row in the transaction.
func (t *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := t.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, t.s.Rebind(q), args...)
}

// stmt returns q prepared on SQLite's writer connection, bound to t.
func (t *Tx) stmt(ctx context.Context, q string) *sql.Stmt {
	if t.s.wdb == nil {
		return nil
	}
	st := t.s.wstmts.lookup(q)
	if st == nil {
		return nil
	}
	return t.tx.StmtContext(ctx, st)
}

// InsertID runs an INSERT … RETURNING id and returns the id.
func (t *Tx) InsertID(ctx context.Context, q string, args ...any) (int64, error) {
	var id int64
	err := t.QueryRow(ctx, q+" RETURNING id", args...).Scan(&id)
	return id, err
}

// AfterCommit registers fn to run once the transaction is durably committed
// (for example to wake IMAP IDLE sessions). It never runs on rollback.
func (t *Tx) AfterCommit(fn func()) { t.afterCommit = append(t.afterCommit, fn) }

// Dialect returns the SQL dialect of the transaction's store.
func (t *Tx) Dialect() Dialect { return t.s.Dialect }

// Tx runs fn in a write transaction and returns once it is committed (and,
// on SQLite, fsynced). When fn returns an error nothing of it is kept.
// fn must not block on anything but the database: on SQLite it shares its
// commit with other writers.
func (s *Store) Tx(ctx context.Context, fn func(*Tx) error) error {
	if s.writer != nil {
		return s.writer.do(ctx, fn)
	}
	sqlTx, err := s.DB.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := &Tx{s: s, tx: sqlTx}
	if err := fn(t); err != nil {
		sqlTx.Rollback()
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	for _, f := range t.afterCommit {
		f()
	}
	return nil
}

// Querier is what reads need: a *Store outside a transaction or a *Tx inside one.
type Querier interface {
	Query(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRow(ctx context.Context, q string, args ...any) *sql.Row
}

// PaddedLen is the length to pad a list of n items to (the next power of
// two) when a statement is built for the list (IN (…), an OR of pairs):
// padded with its last item, the list gives few distinct statement texts,
// which keeps the statement caches (this package's on SQLite, pgx's on
// PostgreSQL) small.
func PaddedLen(n int) int {
	p := 1
	for p < n {
		p *= 2
	}
	return p
}

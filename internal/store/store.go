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
	return s.DB.QueryContext(ctx, s.Rebind(q), args...)
}

// QueryRow runs a read query returning at most one row.
func (s *Store) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
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
	return t.tx.ExecContext(ctx, t.s.Rebind(q), args...)
}

// Query runs a query in the transaction.
func (t *Tx) Query(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.tx.QueryContext(ctx, t.s.Rebind(q), args...)
}

// QueryRow runs a query returning at most one row in the transaction.
func (t *Tx) QueryRow(ctx context.Context, q string, args ...any) *sql.Row {
	return t.tx.QueryRowContext(ctx, t.s.Rebind(q), args...)
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

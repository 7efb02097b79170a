// Package migrate moves a Hygie installation from SQLite to PostgreSQL
// (issue 7, « Moving up »): every table of the SQLite file is copied, ids
// kept, into an empty PostgreSQL database brought to the same schema
// version, in foreign-key dependency order and in one transaction, so the
// target is either the whole installation or left empty. The PostgreSQL
// sequences are then moved past the copied ids, and the row count of every
// table is checked against the source.
package migrate

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/hygie-sante/hygie/internal/store"
)

// batchRows is how many rows one COPY batch holds.
const batchRows = 5000

// TableResult is what was copied of one table.
type TableResult struct {
	Name string
	// Source and Target are the row counts on each side after the copy.
	Source, Target int64
}

// Result summarises a migration.
type Result struct {
	Tables   []TableResult
	Rows     int64
	Duration time.Duration
	// Sequences are the PostgreSQL sequences reset, with their next value.
	Sequences map[string]int64
}

// ErrNotEmpty is returned when the target already holds data.
var ErrNotEmpty = errors.New("the target database is not empty")

// Copy copies the SQLite store src into the PostgreSQL store dst. Both must
// have been opened with store.Open (so both are at this binary's schema
// version). src should not be written meanwhile: the copy reads one
// consistent snapshot of it. progress, when not nil, gets one line per table.
func Copy(ctx context.Context, src, dst *store.Store, progress io.Writer) (*Result, error) {
	start := time.Now()
	if src.Dialect != store.SQLite {
		return nil, fmt.Errorf("migrate: the source must be SQLite, not %s", src.Dialect)
	}
	if dst.Dialect != store.Postgres {
		return nil, fmt.Errorf("migrate: the target must be PostgreSQL, not %s", dst.Dialect)
	}
	if progress == nil {
		progress = io.Discard
	}
	// One read transaction: a consistent snapshot of the source (WAL).
	rtx, err := src.DB.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("migrate: read source: %w", err)
	}
	defer rtx.Rollback()

	if err := sameVersion(ctx, rtx, dst.DB); err != nil {
		return nil, err
	}
	tables, err := sqliteTables(ctx, rtx)
	if err != nil {
		return nil, err
	}
	order, err := dependencyOrder(ctx, rtx, tables)
	if err != nil {
		return nil, err
	}
	// Trigger-maintained marks are copied last, over what the copy made.
	for i, t := range order {
		if t == markTable {
			order = append(append(order[:i:i], order[i+1:]...), t)
			break
		}
	}
	pgCols, err := postgresColumns(ctx, dst.DB)
	if err != nil {
		return nil, err
	}
	for _, t := range order {
		if _, ok := pgCols[t]; !ok {
			return nil, fmt.Errorf("migrate: table %s exists in SQLite but not in PostgreSQL", t)
		}
	}
	for t := range pgCols {
		var n int64
		if err := dst.DB.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+quote(t)).Scan(&n); err != nil {
			return nil, fmt.Errorf("migrate: count %s on the target: %w", t, err)
		}
		if n > 0 {
			return nil, fmt.Errorf("migrate: %w (table %s has %d rows): migrate into a new, empty database", ErrNotEmpty, t, n)
		}
	}

	res := &Result{Sequences: map[string]int64{}}
	conn, err := dst.DB.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: connect target: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		pc := dc.(*stdlib.Conn).Conn()
		tx, err := pc.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		for _, t := range order {
			cols := pgCols[t]
			if t == markTable {
				// The directory's triggers marked every copied account;
				// the source's own marks replace them.
				if _, err := tx.Exec(ctx, `DELETE FROM `+quote(t)); err != nil {
					return fmt.Errorf("clear %s: %w", t, err)
				}
			}
			n, err := copyTable(ctx, rtx, tx, t, cols)
			if err != nil {
				return fmt.Errorf("copy %s: %w", t, err)
			}
			fmt.Fprintf(progress, "  %-24s %d rows\n", t, n)
			res.Rows += n
		}
		seqs, err := resetSequences(ctx, tx, order, pgCols)
		if err != nil {
			return err
		}
		res.Sequences = seqs
		// Counts, inside the transaction: a mismatch leaves the target empty.
		for _, t := range order {
			var s, d int64
			if err := rtx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+quote(t)).Scan(&s); err != nil {
				return fmt.Errorf("count %s: %w", t, err)
			}
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM `+quote(t)).Scan(&d); err != nil {
				return fmt.Errorf("count %s: %w", t, err)
			}
			if s != d {
				return fmt.Errorf("table %s: %d rows in SQLite but %d in PostgreSQL", t, s, d)
			}
			res.Tables = append(res.Tables, TableResult{Name: t, Source: s, Target: d})
		}
		return tx.Commit(ctx)
	})
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	res.Duration = time.Since(start)
	return res, nil
}

// markTable is written by triggers on PostgreSQL while other tables are
// copied (the directory's "to re-index" marks, migration 0013).
const markTable = "directory_dirty"

// sameVersion checks that both schemas are at the same migration.
func sameVersion(ctx context.Context, src *sql.Tx, dst *sql.DB) error {
	var sv, dv sql.NullInt64
	if err := src.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&sv); err != nil {
		return fmt.Errorf("migrate: source schema version: %w", err)
	}
	if err := dst.QueryRowContext(ctx, `SELECT MAX(version) FROM schema_version`).Scan(&dv); err != nil {
		return fmt.Errorf("migrate: target schema version: %w", err)
	}
	if sv != dv {
		return fmt.Errorf("migrate: schema version %d in SQLite but %d in PostgreSQL", sv.Int64, dv.Int64)
	}
	return nil
}

// sqliteTables lists the application tables of the source.
func sqliteTables(ctx context.Context, q *sql.Tx) ([]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name <> 'schema_version' ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("migrate: list tables: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// dependencyOrder sorts tables so that every table comes after the tables
// its foreign keys reference (self-references are checked at the end of
// each COPY statement, so they need no order).
func dependencyOrder(ctx context.Context, q *sql.Tx, tables []string) ([]string, error) {
	deps := map[string][]string{}
	for _, t := range tables {
		rows, err := q.QueryContext(ctx, `SELECT DISTINCT "table" FROM pragma_foreign_key_list(?)`, t)
		if err != nil {
			return nil, fmt.Errorf("migrate: foreign keys of %s: %w", t, err)
		}
		for rows.Next() {
			var ref string
			if err := rows.Scan(&ref); err != nil {
				rows.Close()
				return nil, err
			}
			if ref != t {
				deps[t] = append(deps[t], ref)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	var order []string
	state := map[string]int{} // 1 visiting, 2 done
	var visit func(t string) error
	visit = func(t string) error {
		switch state[t] {
		case 1:
			return fmt.Errorf("migrate: foreign-key cycle through %s", t)
		case 2:
			return nil
		}
		state[t] = 1
		refs := deps[t]
		sort.Strings(refs)
		for _, r := range refs {
			if err := visit(r); err != nil {
				return err
			}
		}
		state[t] = 2
		order = append(order, t)
		return nil
	}
	for _, t := range tables {
		if err := visit(t); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// column is one PostgreSQL column and its type.
type column struct {
	name, typ string
}

// postgresColumns returns the columns of every table of the public schema
// but schema_version, in their order.
func postgresColumns(ctx context.Context, db *sql.DB) (map[string][]column, error) {
	rows, err := db.QueryContext(ctx, `SELECT table_name, column_name, data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name <> 'schema_version'
		ORDER BY table_name, ordinal_position`)
	if err != nil {
		return nil, fmt.Errorf("migrate: target columns: %w", err)
	}
	defer rows.Close()
	out := map[string][]column{}
	for rows.Next() {
		var t string
		var c column
		if err := rows.Scan(&t, &c.name, &c.typ); err != nil {
			return nil, err
		}
		out[t] = append(out[t], c)
	}
	return out, rows.Err()
}

// copyTable streams table t from the source into the target with COPY, in
// batches of batchRows rows ordered by rowid, and returns the row count.
func copyTable(ctx context.Context, src *sql.Tx, dst pgx.Tx, t string, cols []column) (int64, error) {
	names := make([]string, len(cols))
	quoted := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.name
		quoted[i] = quote(c.name)
	}
	rowid, err := hasRowid(ctx, src, t)
	if err != nil {
		return 0, err
	}
	var total int64
	if !rowid {
		// WITHOUT ROWID tables are small here: one batch.
		rows, err := src.QueryContext(ctx, `SELECT `+strings.Join(quoted, ", ")+` FROM `+quote(t))
		if err != nil {
			return 0, err
		}
		batch, _, err := readBatch(rows, cols, false)
		if err != nil {
			return 0, err
		}
		return dst.CopyFrom(ctx, pgx.Identifier{t}, names, pgx.CopyFromRows(batch))
	}
	last := int64(-1 << 62)
	for {
		rows, err := src.QueryContext(ctx, `SELECT rowid, `+strings.Join(quoted, ", ")+` FROM `+quote(t)+
			` WHERE rowid > ? ORDER BY rowid LIMIT ?`, last, batchRows)
		if err != nil {
			return total, err
		}
		batch, next, err := readBatch(rows, cols, true)
		if err != nil {
			return total, err
		}
		if len(batch) == 0 {
			return total, nil
		}
		n, err := dst.CopyFrom(ctx, pgx.Identifier{t}, names, pgx.CopyFromRows(batch))
		if err != nil {
			return total, err
		}
		total += n
		last = next
		if len(batch) < batchRows {
			return total, nil
		}
	}
}

// hasRowid reports whether t is an ordinary (rowid) table.
func hasRowid(ctx context.Context, q *sql.Tx, t string) (bool, error) {
	var sqlText string
	if err := q.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?`, t).Scan(&sqlText); err != nil {
		return false, err
	}
	return !strings.Contains(strings.ToUpper(sqlText), "WITHOUT ROWID"), nil
}

// readBatch reads every row of rows, converted to the target's types; with
// withRowid the first column is the rowid, returned as the last one seen.
func readBatch(rows *sql.Rows, cols []column, withRowid bool) ([][]any, int64, error) {
	defer rows.Close()
	var out [][]any
	var last int64
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, 0, len(cols)+1)
		if withRowid {
			ptrs = append(ptrs, &last)
		}
		for i := range vals {
			ptrs = append(ptrs, &vals[i])
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, 0, err
		}
		for i, c := range cols {
			v, err := convert(vals[i], c.typ)
			if err != nil {
				return nil, 0, fmt.Errorf("column %s: %w", c.name, err)
			}
			vals[i] = v
		}
		out = append(out, vals)
	}
	return out, last, rows.Err()
}

// convert turns a value read from SQLite into what the PostgreSQL column
// of type typ takes.
func convert(v any, typ string) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "bytea":
		switch x := v.(type) {
		case string:
			return []byte(x), nil
		case []byte:
			return x, nil
		}
	case "text", "character varying":
		switch x := v.(type) {
		case []byte:
			return string(x), nil
		case string:
			return x, nil
		case int64:
			return fmt.Sprint(x), nil
		case float64:
			return fmt.Sprint(x), nil
		}
	case "bigint", "integer", "smallint":
		switch x := v.(type) {
		case int64:
			return x, nil
		case float64:
			return int64(x), nil
		case bool:
			if x {
				return int64(1), nil
			}
			return int64(0), nil
		}
	case "boolean":
		switch x := v.(type) {
		case int64:
			return x != 0, nil
		case bool:
			return x, nil
		}
	case "double precision", "real":
		switch x := v.(type) {
		case int64:
			return float64(x), nil
		case float64:
			return x, nil
		}
	default:
		return v, nil
	}
	return nil, fmt.Errorf("cannot store %T %v in a %s column", v, v, typ)
}

// resetSequences moves every sequence owned by a copied column past the
// largest copied value, so that new rows get fresh ids.
func resetSequences(ctx context.Context, tx pgx.Tx, tables []string, cols map[string][]column) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range tables {
		for _, c := range cols[t] {
			var seq *string
			if err := tx.QueryRow(ctx, `SELECT pg_get_serial_sequence($1, $2)`, quote(t), c.name).Scan(&seq); err != nil {
				return nil, fmt.Errorf("sequence of %s.%s: %w", t, c.name, err)
			}
			if seq == nil {
				continue
			}
			var next int64
			err := tx.QueryRow(ctx, `SELECT setval($1::regclass, COALESCE((SELECT MAX(`+quote(c.name)+`) FROM `+quote(t)+`), 0) + 1, false)`, *seq).Scan(&next)
			if err != nil {
				return nil, fmt.Errorf("reset %s: %w", *seq, err)
			}
			out[*seq] = next
		}
	}
	return out, nil
}

// quote quotes an SQL identifier.
func quote(id string) string { return `"` + strings.ReplaceAll(id, `"`, `""`) + `"` }

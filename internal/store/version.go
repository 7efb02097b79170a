package store

import (
	"context"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
)

// LatestVersion is the highest migration this binary has for the store's
// dialect.
func (s *Store) LatestVersion() (int64, error) {
	files, err := fs.ReadDir(migrations, "migrations/"+string(s.Dialect))
	if err != nil {
		return 0, err
	}
	var max int64
	for _, f := range files {
		v, err := strconv.ParseInt(strings.SplitN(f.Name(), "_", 2)[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("migration %s: %w", f.Name(), err)
		}
		if v > max {
			max = v
		}
	}
	return max, nil
}

// SchemaCurrent reports whether every migration of this binary is applied
// (readiness: a node must not serve on a schema it does not know).
func (s *Store) SchemaCurrent(ctx context.Context) (bool, error) {
	want, err := s.LatestVersion()
	if err != nil {
		return false, err
	}
	var n int64
	if err := s.QueryRow(ctx, `SELECT COUNT(*) FROM schema_version WHERE version = ?`, want).Scan(&n); err != nil {
		return false, fmt.Errorf("schema version: %w", err)
	}
	return n == 1, nil
}

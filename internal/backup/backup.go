// Package backup takes consistent online backups of a Hygie installation
// (issue 7, Operations): the SQLite database copied with VACUUM INTO while
// the service runs, plus the data directory's files that are not in the
// database (the tls/ certificate and key). PostgreSQL installations are
// backed up with pg_dump.
package backup

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// DBFile is the name of the database copy inside a backup directory; a
// restore copies it to <data_dir>/hygie.db.
const DBFile = "hygie.db"

// PGDumpFile is the pg_dump archive of a PostgreSQL backup.
const PGDumpFile = "hygie.pgdump"

// Result describes a backup.
type Result struct {
	Dir string
	// Files are the paths written, relative to Dir.
	Files []string
	// Bytes is the size of the database copy.
	Bytes int64
	// Note is set when nothing of the database was copied (PostgreSQL
	// without pg_dump on PATH) and tells what to do instead.
	Note     string
	Duration time.Duration
}

// Take backs up the installation whose database is st (opened on dsn) and
// whose data directory is dataDir into dir, which must not exist or be
// empty.
func Take(ctx context.Context, st *store.Store, dsn, dataDir, dir string) (*Result, error) {
	start := time.Now()
	if err := emptyDir(dir); err != nil {
		return nil, err
	}
	res := &Result{Dir: dir}
	switch st.Dialect {
	case store.SQLite:
		out := filepath.Join(dir, DBFile)
		abs, err := filepath.Abs(out)
		if err != nil {
			return nil, err
		}
		// VACUUM INTO writes a transactionally consistent copy from one
		// read snapshot; writers go on meanwhile (WAL).
		if _, err := st.DB.ExecContext(ctx, `VACUUM INTO ?`, abs); err != nil {
			os.Remove(abs)
			return nil, fmt.Errorf("backup: vacuum into %s: %w", abs, err)
		}
		if fi, err := os.Stat(abs); err == nil {
			res.Bytes = fi.Size()
		}
		res.Files = append(res.Files, DBFile)
	case store.Postgres:
		pgDump, err := exec.LookPath("pg_dump")
		if err != nil {
			res.Note = "PostgreSQL: back up the database with pg_dump (not found on PATH), for example\n  pg_dump --format=custom --file=" +
				filepath.Join(dir, PGDumpFile) + " '" + dsn + "'\nand restore it with pg_restore into an empty database."
			break
		}
		out := filepath.Join(dir, PGDumpFile)
		cmd := exec.CommandContext(ctx, pgDump, "--format=custom", "--file="+out, "--dbname="+dsn)
		if b, err := cmd.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("backup: pg_dump: %v: %s", err, strings.TrimSpace(string(b)))
		}
		if fi, err := os.Stat(out); err == nil {
			res.Bytes = fi.Size()
		}
		res.Files = append(res.Files, PGDumpFile)
	}
	tls := filepath.Join(dataDir, "tls")
	if _, err := os.Stat(tls); err == nil {
		files, err := copyTree(tls, filepath.Join(dir, "tls"))
		if err != nil {
			return nil, fmt.Errorf("backup: %w", err)
		}
		for _, f := range files {
			res.Files = append(res.Files, filepath.Join("tls", f))
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

// emptyDir creates dir, or checks that it is empty.
func emptyDir(dir string) error {
	ents, err := os.ReadDir(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return os.MkdirAll(dir, 0o700)
	case err != nil:
		return fmt.Errorf("backup: %w", err)
	case len(ents) > 0:
		return fmt.Errorf("backup: %s is not empty", dir)
	}
	return nil
}

// copyTree copies the regular files under from into to, keeping modes, and
// returns their relative paths.
func copyTree(from, to string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, p)
		if err != nil {
			return err
		}
		target := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := copyFile(p, target, info.Mode().Perm()); err != nil {
			return err
		}
		out = append(out, rel)
		return nil
	})
	return out, err
}

func copyFile(from, to string, mode fs.FileMode) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

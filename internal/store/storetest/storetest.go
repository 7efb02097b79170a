// Package storetest gives tests a fresh database of each dialect: SQLite in a
// temporary directory, and PostgreSQL on the server named by
// HYGIE_TEST_POSTGRES (a postgres:// URL whose user may create databases).
// Under CI=true a missing PostgreSQL fails the test instead of skipping it.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib" // PostgreSQL driver
)

// DSNs returns, by dialect name, a fresh database URL for each available
// dialect: "sqlite" always, "postgres" when configured.
func DSNs(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{"sqlite": SQLite(t)}
	if pg := os.Getenv("HYGIE_TEST_POSTGRES"); pg != "" {
		out["postgres"] = Postgres(t)
	} else if os.Getenv("CI") == "true" {
		t.Fatal("CI=true but HYGIE_TEST_POSTGRES is not set: the PostgreSQL tests cannot run")
	}
	return out
}

// Each runs fn as a subtest for every available dialect.
func Each(t *testing.T, fn func(t *testing.T, dsn string)) {
	t.Helper()
	for name, dsn := range DSNs(t) {
		t.Run(name, func(t *testing.T) { fn(t, dsn) })
	}
}

// SQLite returns a DSN for a new SQLite file in a temporary directory.
func SQLite(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "hygie.db")
}

// Postgres creates a new database on HYGIE_TEST_POSTGRES, dropped at the end
// of the test, and returns its URL.
func Postgres(t testing.TB) string {
	t.Helper()
	base := os.Getenv("HYGIE_TEST_POSTGRES")
	if base == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but HYGIE_TEST_POSTGRES is not set")
		}
		t.Skip("HYGIE_TEST_POSTGRES not set")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("postgres: %v", err)
	}
	defer admin.Close()
	var b [6]byte
	rand.Read(b[:])
	name := "hygie_test_" + hex.EncodeToString(b[:])
	if _, err := admin.ExecContext(context.Background(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("postgres: create database: %v", err)
	}
	t.Cleanup(func() {
		db, err := sql.Open("pgx", base)
		if err == nil {
			db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			db.Close()
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("postgres url: %v", err)
	}
	u.Path = "/" + name
	return u.String()
}

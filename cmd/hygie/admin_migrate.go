package main

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hygie-sante/hygie/internal/migrate"
	"github.com/hygie-sante/hygie/internal/store"
)

func newAdminMigrate() *cobra.Command {
	var to string
	c := &cobra.Command{
		Use:   "migrate --to postgres://…",
		Short: "Copy this SQLite installation into an empty PostgreSQL database",
		Long: `Copy every table of the configured SQLite database (accounts, structures,
messages, folders, settings, queued jobs, audit trail, web sessions…) into an
empty PostgreSQL database, ids kept, in one transaction. The target is first
brought to this version's schema; a target that already holds data is
refused. Row counts are checked table by table and the PostgreSQL sequences
are moved past the copied ids. Stop the service first; then set
database = "postgres://…" and start it again.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			if !strings.HasPrefix(to, "postgres://") && !strings.HasPrefix(to, "postgresql://") {
				return fmt.Errorf("--to must be a postgres:// URL")
			}
			if !cfg.IsSQLite() {
				return fmt.Errorf("the configured database is not SQLite (%s): nothing to migrate", cfg.Database)
			}
			ctx, cancel := signalContext()
			defer cancel()
			src, err := store.Open(ctx, cfg.Database)
			if err != nil {
				return err
			}
			defer src.Close()
			dst, err := store.Open(ctx, to)
			if err != nil {
				return fmt.Errorf("target: %w", err)
			}
			defer dst.Close()
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "Copying %s into PostgreSQL…\n", cfg.Database)
			res, err := migrate.Copy(ctx, src, dst, out)
			if err != nil {
				return err
			}
			w := table(cmd)
			fmt.Fprintln(w, "TABLE\tSQLITE\tPOSTGRESQL")
			for _, t := range res.Tables {
				fmt.Fprintf(w, "%s\t%d\t%d\n", t.Name, t.Source, t.Target)
			}
			if err := w.Flush(); err != nil {
				return err
			}
			fmt.Fprintf(out, "Migrated %d rows in %d tables in %s; %d sequences reset. Counts verified.\n",
				res.Rows, len(res.Tables), res.Duration.Round(1e6), len(res.Sequences))
			fmt.Fprintf(out, "Now set database = %q (HYGIE_DATABASE) and start the service.\n", redact(to))
			return nil
		},
	}
	c.Flags().StringVar(&to, "to", "", "PostgreSQL URL of the new, empty database")
	c.MarkFlagRequired("to")
	return c
}

// redact hides the password of a database URL.
func redact(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return dsn
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

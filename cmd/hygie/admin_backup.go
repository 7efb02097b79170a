package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hygie-sante/hygie/internal/backup"
	"github.com/hygie-sante/hygie/internal/store"
)

func newAdminBackup() *cobra.Command {
	var to string
	c := &cobra.Command{
		Use:   "backup --to DIR",
		Short: "Take a consistent online backup (database and data directory)",
		Long: `Back up the installation into DIR (new or empty) while the service runs.
SQLite: a consistent copy of the database (VACUUM INTO) as DIR/hygie.db, and
the data directory's tls/ files. PostgreSQL: pg_dump into DIR/hygie.pgdump
when pg_dump is on PATH (otherwise the command to run is printed), and tls/.

Restore (SQLite): stop the service, copy DIR/hygie.db to <data_dir>/hygie.db
(removing any hygie.db-wal and hygie.db-shm there) and DIR/tls to
<data_dir>/tls, then start the service.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			st, err := store.Open(ctx, cfg.Database)
			if err != nil {
				return err
			}
			defer st.Close()
			res, err := backup.Take(ctx, st, cfg.Database, cfg.DataDir, to)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if res.Note != "" {
				fmt.Fprintln(out, res.Note)
			}
			for _, f := range res.Files {
				fmt.Fprintf(out, "  %s\n", f)
			}
			fmt.Fprintf(out, "Backup written to %s (%d bytes of database) in %s\n", res.Dir, res.Bytes, res.Duration.Round(1e6))
			return nil
		},
	}
	c.Flags().StringVar(&to, "to", "", "backup directory (created; must be empty)")
	c.MarkFlagRequired("to")
	return c
}

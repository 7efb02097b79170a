package main

import (
	"context"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store"
)

func newAdmin() *cobra.Command {
	c := &cobra.Command{
		Use:   "admin",
		Short: "Administer structures, accounts, boxes, the queue and the audit trail",
		Long: `Administration commands. They open the configured database directly and work
while the server runs. Each exits non-zero with a one-line reason on error.`,
	}
	c.AddCommand(newAdminStructure(), newAdminAccount(), newAdminBox(), newAdminQueue(), newAdminAudit())
	c.AddCommand(newAdminMigrate(), newAdminBackup())
	c.AddCommand(newAdminOperator())
	return c
}

// adminEnv is what an admin command works with.
type adminEnv struct {
	ctx context.Context
	st  *store.Store
	acc *account.Service
}

// withStore opens the configured database for one admin command.
func withStore(fn func(e adminEnv) error) error {
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
	return fn(adminEnv{ctx: ctx, st: st, acc: account.NewService(st)})
}

func table(cmd *cobra.Command) *tabwriter.Writer {
	return tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func newAdminStructure() *cobra.Command {
	c := &cobra.Command{Use: "structure", Short: "Create, list and disable structures"}
	var name, finess string
	create := &cobra.Command{
		Use: "create --name NAME [--finess N]", Short: "Create a structure", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(func(e adminEnv) error {
				s, err := e.acc.AdminCreateStructure(e.ctx, cliActor(), name, finess)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "structure %q created (id %d)\n", s.Name, s.ID)
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "structure name (unique)")
	create.Flags().StringVar(&finess, "finess", "", "FINESS number (9 digits)")
	create.MarkFlagRequired("name")
	list := &cobra.Command{
		Use: "list", Short: "List structures", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(func(e adminEnv) error {
				ss, err := e.acc.Structures(e.ctx)
				if err != nil {
					return err
				}
				w := table(cmd)
				fmt.Fprintln(w, "NAME\tFINESS\tDISABLED")
				for _, s := range ss {
					fmt.Fprintf(w, "%s\t%s\t%s\n", s.Name, s.FINESS, yesNo(s.Disabled))
				}
				return w.Flush()
			})
		},
	}
	disable := &cobra.Command{
		Use: "disable NAME", Short: "Disable a structure and all its accounts and boxes", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(func(e adminEnv) error {
				if err := e.acc.AdminDisableStructureNamed(e.ctx, cliActor(), args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "structure %q disabled\n", args[0])
				return nil
			})
		},
	}
	c.AddCommand(create, list, disable, newAdminStructureAdmin())
	return c
}

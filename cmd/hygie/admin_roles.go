package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hygie-sante/hygie/internal/account"
)

// newAdminOperator is `hygie admin operator add|remove|list`: the platform
// operators, who administer every structure in the web console.
func newAdminOperator() *cobra.Command {
	c := &cobra.Command{Use: "operator", Short: "Name or remove platform operators (administration console)"}
	set := func(use, short string, on bool, done string) *cobra.Command {
		return &cobra.Command{
			Use: use + " LOGIN", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withStore(func(e adminEnv) error {
					if err := e.acc.SetOperator(e.ctx, account.CLI, args[0], on); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", args[0], done)
					return nil
				})
			},
		}
	}
	list := &cobra.Command{
		Use: "list", Short: "List platform operators", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(func(e adminEnv) error {
				as, err := e.acc.Operators(e.ctx)
				if err != nil {
					return err
				}
				for _, a := range as {
					fmt.Fprintln(cmd.OutOrStdout(), a.Login)
				}
				return nil
			})
		},
	}
	c.AddCommand(set("add", "Make a person a platform operator", true, "is now a platform operator"),
		set("remove", "Remove a platform operator", false, "is no longer a platform operator"), list)
	return c
}

// newAdminStructureAdmin is `hygie admin structure admin add|remove
// STRUCTURE LOGIN`: the administrators of one structure.
func newAdminStructureAdmin() *cobra.Command {
	c := &cobra.Command{Use: "admin", Short: "Name or remove the administrators of a structure"}
	set := func(use, short string, on bool, done string) *cobra.Command {
		return &cobra.Command{
			Use: use + " STRUCTURE LOGIN", Short: short, Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				return withStore(func(e adminEnv) error {
					if err := e.acc.SetStructureAdmin(e.ctx, account.CLI, args[0], args[1], on); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%s %s %q\n", args[1], done, args[0])
					return nil
				})
			},
		}
	}
	c.AddCommand(set("add", "Make a person an administrator of a structure", true, "now administers"),
		set("remove", "Remove an administrator of a structure", false, "no longer administers"))
	return c
}

package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/hygie-sante/hygie/internal/account"
)

func newAdminBox() *cobra.Command {
	c := &cobra.Command{Use: "box", Short: "Create, list and disable organisational boxes, and manage their members"}
	n := account.NewAccount{Kind: account.ORG}
	create := &cobra.Command{
		Use:   "create --structure NAME --address ADDRESS --mss ADDRESS --name LABEL [--notify ADDRESS]",
		Short: "Create an organisational (shared) box",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(func(e adminEnv) error {
				b, err := e.acc.AdminCreate(e.ctx, cliActor(), n)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "box %s (%s) created; add members with 'hygie admin box member add %s LOGIN'\n", b.Login, b.Label, b.Login)
				return nil
			})
		},
	}
	f := create.Flags()
	f.StringVar(&n.Structure, "structure", "", "structure name")
	f.StringVar(&n.Login, "address", "", "platform address of the box")
	f.StringVar(&n.MSS, "mss", "", "MSSanté address of the box")
	f.StringVar(&n.Label, "name", "", "name of the box (raison sociale)")
	f.StringVar(&n.FINESS, "finess", "", "FINESS number (9 digits)")
	f.StringVar(&n.Notify, "notify", "", "associated address that receives notifications")
	for _, r := range []string{"structure", "address", "mss", "name"} {
		create.MarkFlagRequired(r)
	}
	list := &cobra.Command{
		Use: "list", Short: "List boxes with their members", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(func(e adminEnv) error {
				as, err := e.acc.List(e.ctx, "")
				if err != nil {
					return err
				}
				w := table(cmd)
				fmt.Fprintln(w, "BOX\tMSSANTE\tNAME\tMEMBERS\tDISABLED")
				for _, a := range as {
					if !a.IsBox() {
						continue
					}
					ms, err := e.acc.Members(e.ctx, a.ID)
					if err != nil {
						return err
					}
					names := ""
					for i, m := range ms {
						if i > 0 {
							names += ","
						}
						names += m.Login
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", a.Login, a.MSS, a.Label, names, yesNo(a.Disabled))
				}
				return w.Flush()
			})
		},
	}
	member := &cobra.Command{Use: "member", Short: "Add or remove a box member (login account)"}
	member.AddCommand(&cobra.Command{
		Use: "add BOX LOGIN", Short: "Make an individual account a member of a box", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(func(e adminEnv) error {
				if err := e.acc.AdminAddMemberByAddress(e.ctx, cliActor(), args[0], args[1]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s is now a member of %s\n", args[1], args[0])
				return nil
			})
		},
	}, &cobra.Command{
		Use: "remove BOX LOGIN", Short: "Remove a member from a box", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(func(e adminEnv) error {
				if err := e.acc.AdminRemoveMemberByAddress(e.ctx, cliActor(), args[0], args[1]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s is no longer a member of %s\n", args[1], args[0])
				return nil
			})
		},
	})
	c.AddCommand(create, list, member, setDisabledCmd("disable", true), setDisabledCmd("enable", false))
	return c
}

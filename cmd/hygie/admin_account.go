package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/hygie-sante/hygie/internal/account"
)

func newAdminAccount() *cobra.Command {
	c := &cobra.Command{Use: "account", Short: "Create, list, disable accounts and set passwords"}
	var n account.NewAccount
	var kind string
	create := &cobra.Command{
		Use:   "create --structure NAME --type MED|PER|INT --address LOGIN [--mss ADDRESS] --first F --last L [--rpps N] [--notify ADDRESS]",
		Short: "Create an individual account (MED, PER or INT)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			k, err := account.ParseKind(kind)
			if err != nil {
				return err
			}
			if k == account.ORG {
				return fmt.Errorf("use 'hygie admin box create' for an organisational box")
			}
			n.Kind = k
			return withStore(func(e adminEnv) error {
				a, err := e.acc.AdminCreate(e.ctx, cliActor(), n)
				if err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "account %s (%s) created; set its password with 'hygie admin account password %s'\n", a.Login, a.Kind, a.Login)
				return nil
			})
		},
	}
	f := create.Flags()
	f.StringVar(&n.Structure, "structure", "", "structure name")
	f.StringVar(&kind, "type", "", "account type: MED, PER or INT")
	f.StringVar(&n.Login, "address", "", "platform address, the login")
	f.StringVar(&n.MSS, "mss", "", "MSSanté address (PER, INT)")
	f.StringVar(&n.FirstName, "first", "", "first name")
	f.StringVar(&n.LastName, "last", "", "last name")
	f.StringVar(&n.RPPS, "rpps", "", "RPPS number (11 digits)")
	f.StringVar(&n.Notify, "notify", "", "notification address outside the platform")
	for _, r := range []string{"structure", "type", "address", "first", "last"} {
		create.MarkFlagRequired(r)
	}
	var structure string
	list := &cobra.Command{
		Use: "list [--structure NAME]", Short: "List accounts and boxes", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(func(e adminEnv) error {
				as, err := e.acc.List(e.ctx, structure)
				if err != nil {
					return err
				}
				w := table(cmd)
				fmt.Fprintln(w, "LOGIN\tTYPE\tMSSANTE\tNAME\tSTRUCTURE\tDISABLED")
				for _, a := range as {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", a.Login, a.Kind, a.MSS, a.DisplayName(), a.Structure, yesNo(a.Disabled))
				}
				return w.Flush()
			})
		},
	}
	list.Flags().StringVar(&structure, "structure", "", "only this structure")
	password := &cobra.Command{
		Use:   "password LOGIN",
		Short: "Set an account's password, read from standard input",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			pw, err := readPassword(cmd.InOrStdin())
			if err != nil {
				return err
			}
			return withStore(func(e adminEnv) error {
				if err := e.acc.AdminSetPassword(e.ctx, cliActor(), args[0], pw); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "password of %s set\n", args[0])
				return nil
			})
		},
	}
	c.AddCommand(create, list, password, setDisabledCmd("disable", true), setDisabledCmd("enable", false))
	return c
}

// setDisabledCmd disables or enables an account or a box by address.
func setDisabledCmd(verb string, disabled bool) *cobra.Command {
	return &cobra.Command{
		Use: verb + " ADDRESS", Short: strings.ToUpper(verb[:1]) + verb[1:] + " an account or box", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(func(e adminEnv) error {
				if err := e.acc.AdminSetDisabledByAddress(e.ctx, cliActor(), args[0], disabled); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %sd\n", args[0], verb)
				return nil
			})
		},
	}
}

// readPassword reads the first line of r.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password: %w", err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("no password on standard input")
	}
	return line, nil
}

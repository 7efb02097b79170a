package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/server"
)

// Demo data, created once.
const (
	demoStructure = "Clinique de démonstration"
	demoPassword  = "hygie-demo-2026"
)

func newDemo() *cobra.Command {
	return &cobra.Command{
		Use:   "demo",
		Short: "Create demo accounts (once), print their logins, and serve",
		Long: `Create, on first run, a demo structure with a PER doctor, a MED secretary and
an organisational box whose member is the doctor; print their logins and the
URLs, then serve exactly as 'hygie serve'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			out := cmd.OutOrStdout()
			return serve(ctx, cfg, out, func(n *server.Node) error { return seedDemo(ctx, n, out) })
		},
	}
}

func seedDemo(ctx context.Context, n *server.Node, out io.Writer) error {
	acc := n.Accounts
	domain := n.Cfg.Domains[0]
	doctor := "jean.dupont@" + domain
	secretary := "marie.martin@" + domain
	box := "cardiologie@" + domain
	if _, err := acc.CreateStructure(ctx, demoStructure, "310000000"); err != nil && !errors.Is(err, account.ErrDuplicate) {
		return err
	}
	people := []account.NewAccount{
		{Structure: demoStructure, Kind: account.PER, Login: doctor, MSS: "jean.dupont@medecin." + domain,
			FirstName: "Jean", LastName: "Dupont", RPPS: "10001234567"},
		{Structure: demoStructure, Kind: account.MED, Login: secretary, FirstName: "Marie", LastName: "Martin"},
		{Structure: demoStructure, Kind: account.ORG, Login: box, MSS: "cardiologie@service." + domain, Label: "Service de cardiologie"},
	}
	for _, p := range people {
		if _, err := acc.Create(ctx, p); err != nil {
			if errors.Is(err, account.ErrDuplicate) {
				continue
			}
			return err
		}
		if p.Kind != account.ORG {
			if err := acc.SetPassword(ctx, p.Login, demoPassword); err != nil {
				return err
			}
		}
	}
	if err := acc.AddMember(ctx, box, doctor); err != nil && !errors.Is(err, account.ErrDuplicate) {
		return err
	}
	fmt.Fprintf(out, "Demo accounts (password %q):\n", demoPassword)
	fmt.Fprintf(out, "  %-36s PER doctor (MSSanté jean.dupont@medecin.%s)\n", doctor, domain)
	fmt.Fprintf(out, "  %-36s MED secretary\n", secretary)
	fmt.Fprintf(out, "  %-36s ORG box « Service de cardiologie », member: %s\n", box, doctor)
	return nil
}

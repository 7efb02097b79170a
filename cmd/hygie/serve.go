package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/hygie-sante/hygie/internal/config"
	"github.com/hygie-sante/hygie/internal/server"
)

func newServe() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Run the service (every listener, the job queue, the whitelist refresh)",
		Long: `Run the service. With no configuration it listens on loopback only and keeps
its data under ./hygie-data (SQLite). A first start with no certificate
configured generates a self-signed one in the data directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			ctx, cancel := signalContext()
			defer cancel()
			return serve(ctx, cfg, cmd.OutOrStdout(), nil)
		},
	}
}

// serve runs a node and prints where it listens; before runs once the node
// is open and before it listens (the demo seeds data there).
func serve(ctx context.Context, cfg config.Config, out io.Writer, before func(*server.Node) error) error {
	log := newLogger(cfg.LogFormat)
	n, err := server.Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer n.Close()
	if before != nil {
		if err := before(n); err != nil {
			return err
		}
	}
	if err := n.Start(ctx); err != nil {
		return err
	}
	if cfg.LogFormat == "json" {
		// Every line JSON: the banner is a log record too.
		attrs := []any{"database", redact(cfg.Database), "data_dir", cfg.DataDir}
		for name, a := range n.Addrs {
			attrs = append(attrs, name, a)
		}
		log.Info("Hygie is running", attrs...)
		n.Wait()
		return nil
	}
	fmt.Fprintf(out, "Hygie is running (%s, data in %s)\n", cfg.Database, cfg.DataDir)
	for _, name := range []string{"web", "submission", "submissions", "imap", "imaps", "ldap", "ldaps", "smtp"} {
		if a, ok := n.Addrs[name]; ok {
			fmt.Fprintf(out, "  %-12s %s\n", name, describe(name, a))
		}
	}
	n.Wait()
	return nil
}

func describe(name, addr string) string {
	switch name {
	case "web":
		return "http://" + addr + "/  (health: /healthz)"
	case "submission":
		return addr + "  (SMTP submission, STARTTLS)"
	case "submissions":
		return addr + "  (SMTP submission, implicit TLS)"
	case "imap":
		return addr + "  (IMAP, STARTTLS)"
	case "imaps":
		return addr + "  (IMAP, implicit TLS)"
	case "ldap":
		return addr + "  (LDAP address book, StartTLS)"
	case "ldaps":
		return addr + "  (LDAP address book, implicit TLS)"
	case "smtp":
		return addr + "  (operator MX, STARTTLS + client certificate)"
	}
	return addr
}

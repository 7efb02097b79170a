// Command hygie is the Hygie secure health-messaging server: one binary for
// the operator MX, SMTP submission, IMAP, the web application, background
// jobs and the administration command line.
package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/hygie-sante/hygie/internal/config"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "hygie:", oneLine(err))
		os.Exit(1)
	}
}

func oneLine(err error) string {
	s := err.Error()
	for i, c := range s {
		if c == '\n' {
			return s[:i]
		}
	}
	return s
}

var configPath string

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "hygie",
		Short: "Hygie, secure health messaging (MSSanté operator)",
		Long: `Hygie is a secure health-messaging platform: operator MX, SMTP submission,
IMAP, webmail and account self-service, on SQLite (default) or PostgreSQL.

Settings come from a TOML file (--config FILE) and are overridden by
environment variables. Each setting, its variable and its meaning:

` + config.Help(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&configPath, "config", "", "TOML configuration file")
	root.AddCommand(newServe(), newDemo(), newAdmin(), newBench(), newDevice(), &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Run:   func(cmd *cobra.Command, _ []string) { fmt.Fprintln(cmd.OutOrStdout(), "hygie", version) },
	})
	return root
}

// loadConfig reads --config and the environment.
func loadConfig() (config.Config, error) {
	return config.Load(configPath, os.Environ())
}

func newLogger() *slog.Logger {
	if os.Getenv("HYGIE_LOG_FORMAT") == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}

// signalContext ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

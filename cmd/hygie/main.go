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

// newLogger returns the logger of the setting log_format (HYGIE_LOG_FORMAT):
// "json" writes one JSON object per line. It also becomes the default
// logger, so that lines written through the standard log package (by
// libraries) take the same format.
func newLogger(format string) *slog.Logger {
	var log *slog.Logger
	if format == "json" || (format == "" && os.Getenv("HYGIE_LOG_FORMAT") == "json") {
		log = slog.New(slog.NewJSONHandler(os.Stderr, nil))
	} else {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	slog.SetDefault(log)
	return log
}

// signalContext ends on SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

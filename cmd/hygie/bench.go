package main

import (
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// newBench groups the benchmark commands: load against a running server's
// submission port, and pre-filling a mailbox to measure a large one.
func newBench() *cobra.Command {
	c := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks against a running server",
		Long: `Benchmarks.

  hygie bench smtp   sends messages to a running server's submission port from
                     several sessions and reports msg/s, latency, and with --pid
                     the server's CPU time per message and peak memory.
  hygie bench fill   stores many messages directly in an account's folder (it
                     opens the configured database like the admin commands), so
                     that a benchmark can run against a large mailbox.

A typical measurement, with a PER account jean.dupont@hygie.localhost:

  hygie serve &
  hygie bench smtp --insecure --user jean.dupont@hygie.localhost --password PW --pid $!
  hygie bench fill --to jean.dupont@hygie.localhost --count 100000
  hygie bench smtp --insecure --user jean.dupont@hygie.localhost --password PW --pid $!`,
	}
	c.AddCommand(newBenchSMTP(), newBenchFill())
	return c
}

// newTab returns an aligned table writer on out.
func newTab(out io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
}

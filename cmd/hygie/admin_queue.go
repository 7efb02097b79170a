package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
)

func newAdminQueue() *cobra.Command {
	c := &cobra.Command{Use: "queue", Short: "List, retry and drop outbound queue entries"}
	var kind string
	list := &cobra.Command{
		Use: "list", Short: "List queued jobs (remote deliveries and other side effects)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withStore(func(e adminEnv) error {
				jobs, err := queue.List(e.ctx, e.st, kind)
				if err != nil {
					return err
				}
				w := table(cmd)
				fmt.Fprintln(w, "ID\tKIND\tNEXT TRY\tATTEMPTS\tAGE\tLAST ERROR\tPAYLOAD")
				for _, j := range jobs {
					fmt.Fprintf(w, "%d\t%s\t%s\t%d\t%s\t%s\t%s\n", j.ID, j.Kind, j.RunAt.Format(time.DateTime), j.Attempts,
						time.Since(j.Created).Round(time.Second), oneLineText(j.LastError, 60), oneLineText(string(j.Payload), 80))
				}
				return w.Flush()
			})
		},
	}
	list.Flags().StringVar(&kind, "kind", "", "only jobs of this kind (remote, …)")
	idCmd := func(use, short, done string, fn func(e adminEnv, id int64) error) *cobra.Command {
		return &cobra.Command{
			Use: use + " ID", Short: short, Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				id, err := strconv.ParseInt(args[0], 10, 64)
				if err != nil {
					return fmt.Errorf("job id %q is not a number", args[0])
				}
				return withStore(func(e adminEnv) error {
					if err := fn(e, id); err != nil {
						return err
					}
					fmt.Fprintf(cmd.OutOrStdout(), "job %d %s\n", id, done)
					return nil
				})
			},
		}
	}
	c.AddCommand(list,
		idCmd("retry", "Make a job due now", "will be retried now", func(e adminEnv, id int64) error { return queueAct(e, id, "queue_retry", queue.RetryNowTx) }),
		idCmd("drop", "Delete a job without carrying it out", "dropped", func(e adminEnv, id int64) error { return queueAct(e, id, "queue_drop", queue.DropTx) }))
	return c
}

// queueAct carries out fn on job id and records it in the journal of
// administrative changes, in one transaction (as the web console does).
func queueAct(e adminEnv, id int64, action string, fn func(context.Context, *store.Tx, int64) error) error {
	return e.st.Tx(e.ctx, func(tx *store.Tx) error {
		if err := fn(e.ctx, tx, id); err != nil {
			return err
		}
		return account.RecordChangeTx(e.ctx, tx, cliActor(), 0, fmt.Sprintf("envoi %d", id), action, "", "")
	})
}

func oneLineText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		s = s[:n-1] + "…"
	}
	return s
}

func newAdminAudit() *cobra.Command {
	var f audit.Filter
	var since time.Duration
	c := &cobra.Command{
		Use:   "audit [--kind login|message] [--address A] [--result R] [--since 24h] [--limit N]",
		Short: "List traceability records: login attempts and message movements",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if since > 0 {
				f.Since = time.Now().Add(-since)
			}
			return withStore(func(e adminEnv) error {
				rs, err := audit.List(e.ctx, e.st, f)
				if err != nil {
					return err
				}
				w := table(cmd)
				fmt.Fprintln(w, "TIME\tKIND\tPROTO\tADDRESS\tIP\tRESULT\tMESSAGE-ID\tFROM\tTO\tROUTE\tDETAIL")
				for _, r := range rs {
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.At.Format(time.DateTime), r.Kind, r.Protocol, r.Address,
						r.RemoteIP, r.Result, r.MessageID, r.Sender, strings.Join(r.Recipients, ","), r.Route, oneLineText(r.Detail, 80))
				}
				return w.Flush()
			})
		},
	}
	c.Flags().StringVar(&f.Kind, "kind", "", "login or message")
	c.Flags().StringVar(&f.Address, "address", "", "records about this address")
	c.Flags().StringVar(&f.Result, "result", "", "ok, failed, accepted, refused, delivered, bounced…")
	c.Flags().DurationVar(&since, "since", 0, "only records newer than this (e.g. 24h)")
	c.Flags().IntVar(&f.Limit, "limit", 100, "at most this many records, newest first")
	return c
}

package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/hygie-sante/hygie/internal/address"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
)

// fillOptions are the flags of 'hygie bench fill'.
type fillOptions struct {
	to, from, folder   string
	count, size, batch int
}

func newBenchFill() *cobra.Command {
	o := &fillOptions{}
	c := &cobra.Command{
		Use:   "fill --to ADDRESS [--count 100000] [--size 4096] [--folder INBOX]",
		Short: "Pre-fill an account's folder with many messages, directly in the database",
		Long: `Store --count messages of --size bytes in a folder of the account or box
--to, directly in the configured database (like the admin commands, it works
while the server runs). Messages are inserted in transactions of --batch
messages, each taking the folder's next UID, exactly as deliveries do, but
without the SMTP session, the trace or a copy in the sender's Sent folder.
It serves to measure the server with a large mailbox.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.count < 1 || o.size < 1 || o.batch < 1 {
				return fmt.Errorf("--count, --size and --batch must be positive")
			}
			return withStore(func(e adminEnv) error {
				a, err := e.acc.ByAddress(e.ctx, o.to)
				if err != nil {
					return fmt.Errorf("--to %s: %w", o.to, err)
				}
				mb, err := mailbox.ID(e.ctx, e.st, a.ID, o.folder)
				if err != nil {
					return fmt.Errorf("folder %s of %s: %w", o.folder, a.Login, err)
				}
				from := o.from
				if from == "" {
					from = "bench-fill@" + address.Domain(a.Login)
				}
				return fill(e, cmd, o, mb, a.Login, from)
			})
		},
	}
	f := c.Flags()
	f.StringVar(&o.to, "to", "", "address of the account or box to fill")
	f.StringVar(&o.from, "from", "", "sender of the messages (default bench-fill@<domain of --to>)")
	f.StringVar(&o.folder, "folder", mailbox.Inbox, "folder to fill")
	f.IntVar(&o.count, "count", 100000, "number of messages")
	f.IntVar(&o.size, "size", 4096, "bytes per message")
	f.IntVar(&o.batch, "batch", 1000, "messages per transaction")
	c.MarkFlagRequired("to")
	return c
}

// fill inserts the messages batch by batch, reporting progress.
func fill(e adminEnv, cmd *cobra.Command, o *fillOptions, mb int64, to, from string) error {
	out := cmd.OutOrStdout()
	maker := newMessageMaker(from, to, o.size)
	start := time.Now()
	tag := start.Format("20060102150405")
	next := max(o.count/10, o.batch)
	for done := 0; done < o.count; {
		if err := e.ctx.Err(); err != nil {
			return fmt.Errorf("interrupted after %d messages: %w", done, err)
		}
		n := min(o.batch, o.count-done)
		err := e.st.Tx(e.ctx, func(tx *store.Tx) error {
			now := time.Now()
			for i := done; i < done+n; i++ {
				msgID := fmt.Sprintf("<fill-%s-%d@bench.hygie.localhost>", tag, i)
				subject := fmt.Sprintf("hygie bench fill %s message %d", tag, i)
				body := maker.make(msgID, subject, now)
				id, err := mailbox.InsertMessage(e.ctx, tx, mailbox.Message{MessageID: msgID, Sender: from, Subject: subject, Body: body}, now)
				if err != nil {
					return err
				}
				if _, err := mailbox.Append(e.ctx, tx, mb, id, nil, now); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("after %d messages: %w", done, err)
		}
		done += n
		if done >= next || done == o.count {
			fmt.Fprintf(out, "%d/%d messages (%.0f msg/s)\n", done, o.count, float64(done)/time.Since(start).Seconds())
			next += max(o.count/10, o.batch)
		}
	}
	fmt.Fprintf(out, "filled %s of %s with %d messages of %d bytes in %s\n", o.folder, to, o.count, o.size,
		time.Since(start).Round(time.Millisecond))
	return nil
}

package relay

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
)

// settle records the outcome of an attempt. When every recipient has a
// final outcome the job completes, and in the same transaction the trace is
// written and the DSN for the failed recipients is delivered. Otherwise the
// final outcomes are recorded (and bounced) and, in the same transaction,
// the job is rescheduled after the backoff for the recipients still to try; once the
// job is older than RetryFor those fail for good (RFC 5321 §4.5.4.1: give
// up after a few days, then report).
func (r *Relay) settle(ctx context.Context, j queue.Job, p mail.RemoteJob, body []byte, res attempt) error {
	now := r.cfg.Now()
	deadline := j.Created.Add(r.cfg.RetryFor)
	var done, failed, retry []outcome
	for _, o := range res.Outcomes {
		switch {
		case o.delivered():
			done = append(done, o)
		case o.Permanent:
			failed = append(failed, o)
		default:
			retry = append(retry, o)
		}
	}
	if len(retry) > 0 && !now.Before(deadline) {
		for _, o := range retry {
			failed = append(failed, expired(o, r.cfg.RetryFor))
		}
		retry = nil
	}

	route := "remote"
	if res.Hop != "" {
		route = "remote via " + res.Hop
	}
	record := func(result string, os []outcome, detail string) audit.Record {
		return audit.Record{Kind: audit.KindMessage, At: now, Protocol: "smtp", RemoteIP: res.RemoteIP, Result: result,
			MessageID: p.MsgID, Sender: p.From, Recipients: rcptsOf(os), Route: route, Detail: detail}
	}
	var records []audit.Record
	if len(done) > 0 {
		records = append(records, record("delivered", done, done[0].Text))
	}
	if len(failed) > 0 {
		records = append(records, record("bounced", failed, summary(failed)))
	}
	b, err := r.prepareDSN(ctx, p, body, failed, now)
	if err != nil {
		return err
	}
	write := func(tx *store.Tx) error {
		for _, rec := range records {
			if err := audit.Write(ctx, tx, rec); err != nil {
				return err
			}
		}
		if b != nil {
			if _, err := r.cfg.Pipeline.DeliverSystemTx(ctx, tx, b.env, b.data, now); err != nil {
				return fmt.Errorf("deliver DSN to %s: %w", p.From, err)
			}
		}
		return nil
	}
	log := r.log.With("job", j.ID, "msgid", p.MsgID, "from", p.From, "domain", p.Domain, "route", route, "attempt", j.Attempts)
	if len(done) > 0 {
		log.Info("relay: delivered", "rcpts", rcptsOf(done), "reply", done[0].Text)
	}
	if len(failed) > 0 {
		log.Warn("relay: bounced", "rcpts", rcptsOf(failed), "reason", summary(failed), "dsn", b != nil)
	}

	if len(retry) == 0 {
		if err := queue.Complete(ctx, r.cfg.St, j.ID, write); err != nil {
			return fmt.Errorf("relay: complete job %d: %w", j.ID, err)
		}
		return nil
	}
	// Some recipients are done and others wait: their traces, their DSN and
	// the rescheduled job commit together, so a crash repeats nothing.
	next := now.Add(queue.Backoff(j.Attempts, r.cfg.InitialBackoff, r.cfg.MaxBackoff))
	if next.After(deadline) {
		// One last try when the retry period ends, rather than after it.
		next = deadline
	}
	reason := summary(retry)
	log.Warn("relay: deferred", "rcpts", rcptsOf(retry), "reason", reason, "next", next)
	rec := record("deferred", retry, reason)
	rec.Detail += " (next attempt " + next.Format(time.RFC3339) + ")"
	records = append(records, rec)
	p.Rcpts = rcptsOf(retry)
	err = r.cfg.St.Tx(ctx, func(tx *store.Tx) error {
		if err := write(tx); err != nil {
			return err
		}
		return queue.RescheduleTx(ctx, tx, j.ID, next, reason, p)
	})
	if err != nil {
		return fmt.Errorf("relay: reschedule job %d: %w", j.ID, err)
	}
	return nil
}

// expired turns the last transient failure of a recipient into its final
// one: 5.4.7, delivery time expired (RFC 3463 §3.5).
func expired(o outcome, after time.Duration) outcome {
	o.Status, o.Permanent = "5.4.7", true
	if o.Code == 0 {
		o.Text = fmt.Sprintf("gave up after %s of retries; last error: %s", after, o.describe())
		o.Stage = ""
	}
	return o
}

func rcptsOf(os []outcome) []string {
	out := make([]string, len(os))
	for i, o := range os {
		out[i] = o.Rcpt
	}
	return out
}

// summary describes failures for traces and last_error, grouping the
// recipients that share a reason.
func summary(os []outcome) string {
	var order []string
	by := map[string][]string{}
	for _, o := range os {
		d := o.describe()
		if _, ok := by[d]; !ok {
			order = append(order, d)
		}
		by[d] = append(by[d], o.Rcpt)
	}
	parts := make([]string, len(order))
	for i, d := range order {
		parts[i] = strings.Join(by[d], ",") + ": " + d
	}
	return strings.Join(parts, "; ")
}

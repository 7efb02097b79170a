package notify

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/outmail"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
)

// digestLock is the PostgreSQL advisory lock key that serialises the
// seeding of the digest job between nodes.
const digestLock = 72784

// digestJob is the payload of the JobDigest job: the day (in the
// Notifier's zone) whose digest it sends next.
type digestJob struct {
	Day string `json:"day"` // YYYY-MM-DD
}

const dayLayout = "2006-01-02"

// dayStart returns midnight of day in the Notifier's zone.
func (n *Notifier) dayStart(day string) (time.Time, error) {
	t, err := time.ParseInLocation(dayLayout, day, n.cfg.Location)
	if err != nil {
		return time.Time{}, fmt.Errorf("digest day %q: %w", day, err)
	}
	return t, nil
}

// digestAt returns when the digest of day goes out.
func (n *Notifier) digestAt(day string) (time.Time, error) {
	t, err := n.dayStart(day)
	if err != nil {
		return t, err
	}
	return time.Date(t.Year(), t.Month(), t.Day(), n.hour, n.minute, 0, 0, n.cfg.Location), nil
}

// nextDigestDay returns the first day whose digest time is after now.
func (n *Notifier) nextDigestDay(now time.Time) string {
	l := now.In(n.cfg.Location)
	at := time.Date(l.Year(), l.Month(), l.Day(), n.hour, n.minute, 0, 0, n.cfg.Location)
	if !now.Before(at) {
		l = time.Date(l.Year(), l.Month(), l.Day()+1, 12, 0, 0, 0, n.cfg.Location)
	}
	return l.Format(dayLayout)
}

// NextDigest returns when the next daily digest goes out after now.
func (n *Notifier) NextDigest(now time.Time) time.Time {
	at, _ := n.digestAt(n.nextDigestDay(now))
	return at
}

// SeedDigest makes sure exactly one digest job exists, at node start: it
// creates it for the next digest time when there is none, and otherwise
// moves the existing one to the configured time of its day (digest_time may
// have changed). On PostgreSQL an advisory lock serialises concurrent nodes;
// SQLite has a single writer.
func (n *Notifier) SeedDigest(ctx context.Context) error {
	now := n.now()
	err := n.cfg.St.Tx(ctx, func(tx *store.Tx) error {
		if tx.Dialect() == store.Postgres {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(?)`, digestLock); err != nil {
				return err
			}
		}
		rows, err := tx.Query(ctx, `SELECT id, payload FROM jobs WHERE kind = ? ORDER BY id`, JobDigest)
		if err != nil {
			return err
		}
		var ids []int64
		var first digestJob
		for rows.Next() {
			var id int64
			var payload string
			if err := rows.Scan(&id, &payload); err != nil {
				rows.Close()
				return err
			}
			if len(ids) == 0 {
				json.Unmarshal([]byte(payload), &first)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if len(ids) == 0 {
			day := n.nextDigestDay(now)
			at, _ := n.digestAt(day)
			_, err := queue.Enqueue(ctx, tx, JobDigest, digestJob{Day: day}, n.queueTime(at))
			n.log.Info("notify: daily digest scheduled", "day", day, "at", at)
			return err
		}
		// More than one (never expected): keep the oldest.
		for _, id := range ids[1:] {
			if _, err := tx.Exec(ctx, `DELETE FROM jobs WHERE id = ?`, id); err != nil {
				return err
			}
		}
		at, err := n.digestAt(first.Day)
		if err != nil {
			first.Day = n.nextDigestDay(now)
			at, _ = n.digestAt(first.Day)
			if _, err := tx.Exec(ctx, `UPDATE jobs SET payload = ? WHERE id = ?`, mustJSON(first), ids[0]); err != nil {
				return err
			}
		}
		// Leave a job being worked on alone.
		_, err = tx.Exec(ctx, `UPDATE jobs SET run_at = ? WHERE id = ? AND lease_until <= ?`,
			n.queueTime(at).UnixMilli(), ids[0], time.Now().UnixMilli())
		return err
	})
	if err != nil {
		return fmt.Errorf("seed daily digest: %w", err)
	}
	return nil
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// errDigestDone means another runner already sent the digest of that day.
var errDigestDone = errors.New("digest already sent")

// digestRow is one account or box that asked for the daily digest.
type digestRow struct {
	id                  int64
	kind, login, notify string
	first, last, label  string
	count               int
}

// HandleDigest is the queue handler of JobDigest. It sends the digest of
// the job's day to every account with notify_daily, then moves the job to
// the next day, in one transaction: a crash sends all or nothing, and a
// second runner holding the same job (lease lost) finds it already moved
// and sends nothing.
func (n *Notifier) HandleDigest(ctx context.Context, j queue.Job) error {
	var p digestJob
	if err := json.Unmarshal(j.Payload, &p); err != nil || p.Day == "" {
		day := n.nextDigestDay(n.now())
		at, _ := n.digestAt(day)
		return queue.Reschedule(ctx, n.cfg.St, j.ID, n.queueTime(at), "bad payload", digestJob{Day: day})
	}
	at, err := n.digestAt(p.Day)
	if err != nil {
		return queue.Reschedule(ctx, n.cfg.St, j.ID, n.queueTime(n.NextDigest(n.now())), err.Error(), digestJob{Day: n.nextDigestDay(n.now())})
	}
	now := n.now()
	if now.Before(at) {
		// Claimed early (clocks differ between nodes): wait for its time.
		return queue.Reschedule(ctx, n.cfg.St, j.ID, n.queueTime(at), "", nil)
	}
	start, _ := n.dayStart(p.Day)
	end := time.Date(start.Year(), start.Month(), start.Day()+1, 0, 0, 0, 0, n.cfg.Location)
	if now.Before(end) {
		end = now
	}
	// Count outside the write transaction (a read may take a while on a big
	// store; SQLite's writer stays free meanwhile).
	rows, err := n.digestRows(ctx, start, end)
	if err != nil {
		return queue.Reschedule(ctx, n.cfg.St, j.ID, time.Now().Add(time.Minute), err.Error(), nil)
	}
	next := n.nextDigestDay(now)
	nextAt, _ := n.digestAt(next)
	sent := 0
	err = n.cfg.St.Tx(ctx, func(tx *store.Tx) error {
		sent = 0
		q := `SELECT payload FROM jobs WHERE id = ? AND kind = ?`
		if tx.Dialect() == store.Postgres {
			q += ` FOR UPDATE`
		}
		var payload string
		err := tx.QueryRow(ctx, q, j.ID, JobDigest).Scan(&payload)
		if errors.Is(err, sql.ErrNoRows) {
			return errDigestDone
		}
		if err != nil {
			return err
		}
		var cur digestJob
		if json.Unmarshal([]byte(payload), &cur); cur.Day != p.Day {
			return errDigestDone
		}
		for _, r := range rows {
			ts, err := targets(ctx, tx, r.id, r.kind == string(account.ORG), r.notify, true)
			if err != nil {
				return err
			}
			for _, t := range ts {
				m := outmail.Mail{To: t.To, Subject: n.cfg.PlatformName + " : notification quotidienne",
					Text: n.digestText(r, start, t.Member), Kind: KindDigest}
				if err := outmail.Enqueue(ctx, tx, m); err != nil {
					n.log.Warn("notify: digest not queued", "account", r.login, "to", t.To, "err", err)
					continue
				}
				sent++
			}
		}
		if err := queue.RescheduleTx(ctx, tx, j.ID, n.queueTime(nextAt), "", digestJob{Day: next}); err != nil {
			return err
		}
		n.wake(tx)
		return nil
	})
	if errors.Is(err, errDigestDone) {
		n.log.Info("notify: daily digest already sent by another runner", "day", p.Day)
		return nil
	}
	if err != nil {
		return queue.Reschedule(ctx, n.cfg.St, j.ID, time.Now().Add(time.Minute), err.Error(), nil)
	}
	n.log.Info("notify: daily digest sent", "day", p.Day, "mails", sent, "next", nextAt)
	return nil
}

// digestRows lists the accounts and boxes that asked for the daily digest,
// with the number of messages their INBOX received in [start, end).
func (n *Notifier) digestRows(ctx context.Context, start, end time.Time) ([]digestRow, error) {
	rs, err := n.cfg.St.Query(ctx, `SELECT a.id, a.kind, a.login, a.notify, a.first_name, a.last_name, a.label,
		(SELECT COUNT(*) FROM mailboxes b JOIN entries e ON e.mailbox_id = b.id
		 WHERE b.account_id = a.id AND b.name = 'INBOX' AND e.internal_date >= ? AND e.internal_date < ?)
		FROM accounts a WHERE a.notify_daily = 1 AND a.disabled = 0 ORDER BY a.id`, start.Unix(), end.Unix())
	if err != nil {
		return nil, fmt.Errorf("daily digest: %w", err)
	}
	defer rs.Close()
	var out []digestRow
	for rs.Next() {
		var r digestRow
		if err := rs.Scan(&r.id, &r.kind, &r.login, &r.notify, &r.first, &r.last, &r.label, &r.count); err != nil {
			return nil, fmt.Errorf("daily digest: %w", err)
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

// digestText says whether messages arrived on day, and how many; nothing
// about them.
func (n *Notifier) digestText(r digestRow, day time.Time, member bool) string {
	display := strings.TrimSpace(r.first + " " + r.last)
	if r.kind == string(account.ORG) {
		display = r.label
	}
	var b strings.Builder
	b.WriteString("Bonjour,\n\n")
	date := day.Format("02/01/2006")
	who := name(display, r.login)
	switch {
	case r.count == 0:
		fmt.Fprintf(&b, "Aujourd'hui, %s, vous n'avez reçu aucun message sur votre messagerie %s (%s).\n\n", date, n.cfg.PlatformName, who)
	case r.count == 1:
		fmt.Fprintf(&b, "Aujourd'hui, %s, vous avez reçu 1 message sur votre messagerie %s (%s).\n\n", date, n.cfg.PlatformName, who)
	default:
		fmt.Fprintf(&b, "Aujourd'hui, %s, vous avez reçu %d messages sur votre messagerie %s (%s).\n\n", date, r.count, n.cfg.PlatformName, who)
	}
	fmt.Fprintf(&b, "Pour les consulter, connectez-vous à %s :\n%s\n\n", n.cfg.PlatformName, n.mailLink(r.id))
	if member {
		b.WriteString("Vous recevez cette notification parce que la case « recevoir les notifications sur mon adresse individuelle » " +
			"est cochée pour cette boîte (Gérer mon compte > Identifiants de connexion).\n")
	} else {
		b.WriteString("Vous recevez cette notification parce que l'option « recevoir chaque jour une notification indiquant si des messages ont été reçus » " +
			"est cochée (Gérer mon compte > Notifications).\n")
	}
	return b.String()
}

package mailbox

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// Message is the stored copy of a message, shared by all its entries.
type Message struct {
	MessageID string
	Sender    string
	Subject   string
	Body      []byte
}

// InsertMessage stores a message body once and returns its id; entries
// reference it.
func InsertMessage(ctx context.Context, tx *store.Tx, m Message, now time.Time) (int64, error) {
	id, err := tx.InsertID(ctx, `INSERT INTO messages (message_id, sender, subject, size, header_size, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		truncate(m.MessageID, 998), truncate(m.Sender, 320), truncate(m.Subject, 998), len(m.Body), HeaderSize(m.Body), m.Body, now.Unix())
	if err != nil {
		return 0, fmt.Errorf("insert message: %w", err)
	}
	return id, nil
}

// Append places message msgID in folder mailboxID with the next UID and the
// given flags, and wakes the folder's watchers once committed. The zone of
// date is kept as the zone of the IMAP INTERNALDATE (RFC 9051 §2.3.3).
func Append(ctx context.Context, tx *store.Tx, mailboxID, msgID int64, flags []string, date time.Time) (uint32, error) {
	uids, err := AppendAll(ctx, tx, []Filing{{Mailbox: mailboxID, Message: msgID, Flags: flags}}, date)
	if err != nil {
		return 0, err
	}
	return uids[0], nil
}

// Filing is a message to file into a folder.
type Filing struct {
	Mailbox, Message int64
	Flags            []string
}

// AppendAll files entries in the order given (each takes its folder's UID
// lock until the commit: callers order them so that concurrent
// transactions lock folders in one global order) and returns their UIDs.
// Each message's reference count grows once by its number of entries.
//
// On PostgreSQL each entry is one statement: the UIDNEXT increment and the
// insert in one data-modifying WITH, which for a message's last entry also
// adds its references; a round trip less per entry and per message.
func AppendAll(ctx context.Context, tx *store.Tx, entries []Filing, date time.Time) ([]uint32, error) {
	_, zone := date.Zone()
	uids := make([]uint32, len(entries))
	refs := map[int64]int{}
	last := map[int64]int{} // message → index of its last entry
	var order []int64
	for i, e := range entries {
		if refs[e.Message] == 0 {
			order = append(order, e.Message)
		}
		refs[e.Message]++
		last[e.Message] = i
	}
	pg := tx.Dialect() == store.Postgres
	for i, e := range entries {
		seen := 0
		for _, f := range e.Flags {
			if strings.EqualFold(f, `\Seen`) {
				seen = 1
			}
		}
		var uid int64
		if pg {
			// The UIDNEXT increment and the insert in one statement; the
			// message's last entry also adds its references.
			args := []any{e.Mailbox}
			refsCTE := ""
			if last[e.Message] == i {
				refsCTE = `, r AS (UPDATE messages SET refs = refs + ? WHERE id = ?)`
				args = append(args, refs[e.Message], e.Message)
			}
			err := tx.QueryRow(ctx, `WITH u AS (UPDATE mailboxes SET uidnext = uidnext + 1 WHERE id = ? RETURNING id, uidnext - 1 AS uid)`+refsCTE+`
				INSERT INTO entries (mailbox_id, uid, message_id, flags, seen, internal_date, internal_tz)
				SELECT id, uid, ?, ?, ?, ?, ? FROM u RETURNING uid`,
				append(args, e.Message, FormatFlags(e.Flags), seen, date.Unix(), zone)...).Scan(&uid)
			if err != nil {
				return nil, fmt.Errorf("append to folder %d: %w", e.Mailbox, err)
			}
		} else {
			if err := tx.QueryRow(ctx, `UPDATE mailboxes SET uidnext = uidnext + 1 WHERE id = ? RETURNING uidnext - 1`, e.Mailbox).Scan(&uid); err != nil {
				return nil, fmt.Errorf("append to folder %d: next uid: %w", e.Mailbox, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO entries (mailbox_id, uid, message_id, flags, seen, internal_date, internal_tz) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				e.Mailbox, uid, e.Message, FormatFlags(e.Flags), seen, date.Unix(), zone); err != nil {
				return nil, fmt.Errorf("append to folder %d: %w", e.Mailbox, err)
			}
		}
		uids[i] = uint32(uid)
		mb := e.Mailbox
		tx.AfterCommit(func() { Changed(mb) })
	}
	if !pg {
		for _, m := range order {
			if _, err := tx.Exec(ctx, `UPDATE messages SET refs = refs + ? WHERE id = ?`, refs[m], m); err != nil {
				return nil, fmt.Errorf("append: references of message %d: %w", m, err)
			}
		}
	}
	return uids, nil
}

// FormatFlags stores flags as one space-separated string, without duplicates
// and without the session-only \Recent (RFC 3501 §2.3.2). System flags are
// stored in their canonical case (\SEEN becomes \Seen).
func FormatFlags(flags []string) string {
	seen := map[string]bool{}
	var out []string
	for _, f := range flags {
		f = CanonicalFlag(f)
		if f == "" || strings.EqualFold(f, `\Recent`) || seen[strings.ToLower(f)] {
			continue
		}
		seen[strings.ToLower(f)] = true
		out = append(out, f)
	}
	return strings.Join(out, " ")
}

// ParseFlags splits a stored flag string.
func ParseFlags(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Fields(s)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

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
	var uid int64
	if err := tx.QueryRow(ctx, `UPDATE mailboxes SET uidnext = uidnext + 1 WHERE id = ? RETURNING uidnext - 1`, mailboxID).Scan(&uid); err != nil {
		return 0, fmt.Errorf("append: next uid: %w", err)
	}
	seen := 0
	for _, f := range flags {
		if strings.EqualFold(f, `\Seen`) {
			seen = 1
		}
	}
	_, zone := date.Zone()
	if _, err := tx.Exec(ctx, `INSERT INTO entries (mailbox_id, uid, message_id, flags, seen, internal_date, internal_tz) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		mailboxID, uid, msgID, FormatFlags(flags), seen, date.Unix(), zone); err != nil {
		return 0, fmt.Errorf("append: %w", err)
	}
	if _, err := tx.Exec(ctx, `UPDATE messages SET refs = refs + 1 WHERE id = ?`, msgID); err != nil {
		return 0, fmt.Errorf("append: %w", err)
	}
	tx.AfterCommit(func() { Changed(mailboxID) })
	return uint32(uid), nil
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

package mailbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// IndexEntry is the light view of a message in a folder: what an IMAP
// session keeps in memory to number messages and report flags.
type IndexEntry struct {
	UID   uint32
	Flags string
}

// Index lists the UIDs and flags of a folder's messages, by UID.
func Index(ctx context.Context, q store.Querier, folderID int64) ([]IndexEntry, error) {
	rows, err := q.Query(ctx, `SELECT uid, flags FROM entries WHERE mailbox_id = ? ORDER BY uid`, folderID)
	if err != nil {
		return nil, fmt.Errorf("folder index: %w", err)
	}
	defer rows.Close()
	var out []IndexEntry
	for rows.Next() {
		var uid int64
		var e IndexEntry
		if err := rows.Scan(&uid, &e.Flags); err != nil {
			return nil, fmt.Errorf("folder index: %w", err)
		}
		e.UID = uint32(uid)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("folder index: %w", err)
	}
	return out, nil
}

// Entry is a message in a folder, without its content.
type Entry struct {
	UID       uint32
	MessageID int64
	Flags     string
	// InternalDate is the IMAP INTERNALDATE, in the zone it was given.
	InternalDate time.Time
	// Size is the size of the whole message (RFC822.SIZE).
	Size int64
	// HeaderSize is the size of the header section, blank line included;
	// zero when unknown.
	HeaderSize int64
}

// Entries returns the messages of a folder whose UIDs are within [from, to],
// by UID, without loading their content.
func Entries(ctx context.Context, q store.Querier, folderID int64, from, to uint32) ([]Entry, error) {
	rows, err := q.Query(ctx, `SELECT e.uid, e.message_id, e.flags, e.internal_date, e.internal_tz, m.size, m.header_size
		FROM entries e JOIN messages m ON m.id = e.message_id
		WHERE e.mailbox_id = ? AND e.uid BETWEEN ? AND ? ORDER BY e.uid`, folderID, from, to)
	if err != nil {
		return nil, fmt.Errorf("folder entries: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var uid, date, tz int64
		if err := rows.Scan(&uid, &e.MessageID, &e.Flags, &date, &tz, &e.Size, &e.HeaderSize); err != nil {
			return nil, fmt.Errorf("folder entries: %w", err)
		}
		e.UID = uint32(uid)
		e.InternalDate = time.Unix(date, 0).In(zone(tz))
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("folder entries: %w", err)
	}
	return out, nil
}

// zone returns a fixed zone for an offset in seconds east of UTC.
func zone(offset int64) *time.Location {
	if offset == 0 {
		return time.UTC
	}
	return time.FixedZone("", int(offset))
}

// ErrNoMessage is returned when a message is no longer stored.
var ErrNoMessage = errors.New("no such message")

// Body returns the full content of a stored message (RFC 5322).
func Body(ctx context.Context, q store.Querier, messageID int64) ([]byte, error) {
	var b []byte
	err := q.QueryRow(ctx, `SELECT body FROM messages WHERE id = ?`, messageID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("message %d: %w", messageID, ErrNoMessage)
	}
	if err != nil {
		return nil, fmt.Errorf("message %d: %w", messageID, err)
	}
	return b, nil
}

// Header returns the header section of a stored message, blank line
// included, without reading the body when its size is known.
func Header(ctx context.Context, q store.Querier, messageID int64) ([]byte, error) {
	var b []byte
	err := q.QueryRow(ctx, `SELECT CASE WHEN header_size > 0 THEN substr(body, 1, CAST(header_size AS INTEGER)) ELSE body END
		FROM messages WHERE id = ?`, messageID).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("message %d: %w", messageID, ErrNoMessage)
	}
	if err != nil {
		return nil, fmt.Errorf("message %d: %w", messageID, err)
	}
	return b[:HeaderSize(b)], nil
}

// Status is the summary of a folder reported by IMAP STATUS (RFC 9051
// §6.3.11).
type Status struct {
	Messages    uint32
	Unseen      uint32
	Deleted     uint32
	Size        int64
	UIDNext     uint32
	UIDValidity uint32
}

// FolderStatus counts the messages of folder id. Counting \Deleted messages
// reads their flags, so it is done only when withDeleted is set.
func FolderStatus(ctx context.Context, q store.Querier, id int64, withDeleted bool) (Status, error) {
	f, err := FolderByID(ctx, q, id)
	if err != nil {
		return Status{}, err
	}
	st := Status{UIDNext: f.UIDNext, UIDValidity: f.UIDValidity}
	var n, unseen int64
	err = q.QueryRow(ctx, `SELECT COUNT(*), CAST(COALESCE(SUM(1 - e.seen), 0) AS BIGINT), CAST(COALESCE(SUM(m.size), 0) AS BIGINT)
		FROM entries e JOIN messages m ON m.id = e.message_id WHERE e.mailbox_id = ?`, id).Scan(&n, &unseen, &st.Size)
	if err != nil {
		return Status{}, fmt.Errorf("status of %q: %w", f.Name, err)
	}
	st.Messages, st.Unseen = uint32(n), uint32(unseen)
	if withDeleted {
		rows, err := q.Query(ctx, `SELECT flags FROM entries WHERE mailbox_id = ? AND flags LIKE '%Deleted%'`, id)
		if err != nil {
			return Status{}, fmt.Errorf("status of %q: %w", f.Name, err)
		}
		defer rows.Close()
		for rows.Next() {
			var flags string
			if err := rows.Scan(&flags); err != nil {
				return Status{}, fmt.Errorf("status of %q: %w", f.Name, err)
			}
			if HasFlag(flags, FlagDeleted) {
				st.Deleted++
			}
		}
		if err := rows.Err(); err != nil {
			return Status{}, fmt.Errorf("status of %q: %w", f.Name, err)
		}
	}
	return st, nil
}

// ParseMessage fills the summary fields of a Message (Message-ID, sender,
// subject) from its header; a malformed header leaves them empty.
func ParseMessage(body []byte) Message {
	m := Message{Body: body}
	hdr := body[:HeaderSize(body)]
	var key string
	for _, line := range strings.Split(string(hdr), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			// Folded continuation (RFC 5322 §2.2.3).
			switch key {
			case "message-id":
				m.MessageID += strings.TrimSpace(line)
			case "from":
				m.Sender += " " + strings.TrimSpace(line)
			case "subject":
				m.Subject += " " + strings.TrimSpace(line)
			}
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			key = ""
			continue
		}
		key = strings.ToLower(strings.TrimSpace(k))
		v = strings.TrimSpace(v)
		switch key {
		case "message-id":
			if m.MessageID == "" {
				m.MessageID = v
			}
		case "from":
			if m.Sender == "" {
				m.Sender = v
			}
		case "subject":
			if m.Subject == "" {
				m.Subject = v
			}
		}
	}
	return m
}

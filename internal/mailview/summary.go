package mailview

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
)

// maxSearchText bounds the text kept per message for search.
const maxSearchText = 64 << 10

// Summary is what folder lists and search show of a message, decoded once
// and kept in mail_summaries (a cache: it can always be computed again
// from the stored message).
type Summary struct {
	FromName string
	FromAddr string
	// Recipients names the To (and Cc) recipients, for Sent and Drafts.
	Recipients  string
	Subject     string
	Attachments bool

	searchFrom, searchSubject, searchText string
}

// From is the name of the sender, or its address.
func (s Summary) From() string {
	if s.FromName != "" {
		return s.FromName
	}
	return s.FromAddr
}

// Summarize reads a stored message into its summary.
func Summarize(body []byte) Summary {
	m, err := Parse(body)
	if err != nil {
		return Summary{Subject: "", FromAddr: ""}
	}
	return SummaryOf(m)
}

// SummaryOf is the summary of a parsed message.
func SummaryOf(m *Message) Summary {
	var s Summary
	if len(m.From) > 0 {
		s.FromName, s.FromAddr = m.From[0].Name, m.From[0].Address
	} else {
		s.FromAddr = m.FromRaw
	}
	var names []string
	for _, a := range append(append([]*mail.Address{}, m.To...), m.Cc...) {
		if a.Name != "" {
			names = append(names, a.Name)
		} else {
			names = append(names, a.Address)
		}
	}
	s.Recipients = strings.Join(names, ", ")
	if s.Recipients == "" {
		s.Recipients = m.ToRaw
	}
	s.Recipients = clip(s.Recipients, 500)
	s.Subject = clip(m.Subject, 998)
	for _, p := range m.Attachments {
		if p.ContentID != "" && m.Inline[p.ContentID] == p {
			continue
		}
		s.Attachments = true
	}
	s.searchFrom = strings.ToLower(s.FromName + " " + s.FromAddr)
	s.searchSubject = strings.ToLower(s.Subject)
	s.searchText = clip(strings.ToLower(m.BodyText()), maxSearchText)
	return s
}

// clip cuts s to at most n bytes on a character boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// Save stores the summary of message id inside tx (when it has none).
func Save(ctx context.Context, tx *store.Tx, id int64, s Summary) error {
	att := 0
	if s.Attachments {
		att = 1
	}
	_, err := tx.Exec(ctx, `INSERT INTO mail_summaries (message_id, from_name, from_addr, recipients, subject, attachments, s_from, s_subject, s_text)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING`,
		id, s.FromName, s.FromAddr, s.Recipients, s.Subject, att, s.searchFrom, s.searchSubject, s.searchText)
	if err != nil {
		return fmt.Errorf("save summary of message %d: %w", id, err)
	}
	return nil
}

// Ensure computes and stores the summaries of the listed messages that
// have none yet (messages filed by IMAP APPEND, or delivered before the
// webmail looked at them), and returns them. Summaries are a cache: when
// they cannot be saved the page is still shown.
func Ensure(ctx context.Context, st *store.Store, ids []int64) (map[int64]Summary, error) {
	out, err := ensure(ctx, st, ids)
	if errors.Is(err, errNotSaved) {
		slog.Default().Warn("mailview: summaries not saved", "err", err)
		return out, nil
	}
	return out, err
}

var errNotSaved = errors.New("summaries not saved")

func ensure(ctx context.Context, st *store.Store, ids []int64) (map[int64]Summary, error) {
	out := map[int64]Summary{}
	for _, id := range ids {
		if _, ok := out[id]; ok {
			continue
		}
		body, err := mailbox.Body(ctx, st, id)
		if errors.Is(err, mailbox.ErrNoMessage) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out[id] = Summarize(body)
	}
	if len(out) == 0 {
		return out, nil
	}
	err := st.Tx(ctx, func(tx *store.Tx) error {
		for id, s := range out {
			// The message may have been expunged meanwhile.
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM messages WHERE id = ?`, id).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				continue
			}
			if err := Save(ctx, tx, id, s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return out, fmt.Errorf("%w: %w", errNotSaved, err)
	}
	return out, nil
}

// Row is a message in a list: an entry of a folder and its summary.
type Row struct {
	FolderID  int64
	UID       uint32
	MessageID int64
	Flags     string
	Seen      bool
	Date      time.Time
	Summary
}

// Answered reports whether the message was replied to.
func (r Row) Answered() bool { return mailbox.HasFlag(r.Flags, mailbox.FlagAnswered) }

const rowCols = `e.mailbox_id, e.uid, e.message_id, e.flags, e.seen, e.internal_date, e.internal_tz,
	CASE WHEN s.message_id IS NULL THEN 0 ELSE 1 END, COALESCE(s.from_name, ''), COALESCE(s.from_addr, ''),
	COALESCE(s.recipients, ''), COALESCE(s.subject, ''), COALESCE(s.attachments, 0)`

// scanRows reads rows selected with rowCols and fills missing summaries.
func scanRows(ctx context.Context, st *store.Store, q string, args ...any) ([]Row, error) {
	rows, err := st.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	var out []Row
	var missing []int64
	for rows.Next() {
		var r Row
		var uid, seen, date, tz, has, att int64
		if err := rows.Scan(&r.FolderID, &uid, &r.MessageID, &r.Flags, &seen, &date, &tz, &has, &r.FromName, &r.FromAddr,
			&r.Recipients, &r.Subject, &att); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list messages: %w", err)
		}
		r.UID, r.Seen, r.Attachments = uint32(uid), seen != 0, att != 0
		r.Date = time.Unix(date, 0).In(fixedZone(tz))
		if has == 0 {
			missing = append(missing, r.MessageID)
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list messages: %w", err)
	}
	if len(missing) > 0 {
		sums, err := Ensure(ctx, st, missing)
		if err != nil {
			return nil, err
		}
		for i := range out {
			if s, ok := sums[out[i].MessageID]; ok {
				out[i].Summary = s
			}
		}
	}
	return out, nil
}

func fixedZone(offset int64) *time.Location {
	if offset == 0 {
		return time.UTC
	}
	return time.FixedZone("", int(offset))
}

// FolderPage lists limit messages of a folder from offset, newest first
// (by internal date, then UID), through the entries_date index.
func FolderPage(ctx context.Context, st *store.Store, folderID int64, offset, limit int) ([]Row, error) {
	return scanRows(ctx, st, `SELECT `+rowCols+` FROM (SELECT mailbox_id, uid, message_id, flags, seen, internal_date, internal_tz
		FROM entries WHERE mailbox_id = ? ORDER BY internal_date DESC, uid DESC LIMIT ? OFFSET ?) e
		LEFT JOIN mail_summaries s ON s.message_id = e.message_id ORDER BY e.internal_date DESC, e.uid DESC`,
		folderID, limit, offset)
}

// Counts are the numbers of messages of a folder, kept by triggers on
// entries (migration 0005).
type Counts struct {
	Total, Unread int
}

// FolderCounts returns the message and unread counts of every folder of an
// account, by folder id. On SQLite they are read from mailboxes, where
// triggers keep them (one row per folder, however large); on PostgreSQL
// they are counted through the indexes.
func FolderCounts(ctx context.Context, st *store.Store, accountID int64) (map[int64]Counts, error) {
	q := `SELECT id, msg_count, unseen_count FROM mailboxes WHERE account_id = ?`
	if st.Dialect == store.Postgres {
		q = `SELECT b.id, (SELECT COUNT(*) FROM entries e WHERE e.mailbox_id = b.id),
			(SELECT COUNT(*) FROM entries e WHERE e.mailbox_id = b.id AND e.seen = 0) FROM mailboxes b WHERE b.account_id = ?`
	}
	rows, err := st.Query(ctx, q, accountID)
	if err != nil {
		return nil, fmt.Errorf("folder counts: %w", err)
	}
	defer rows.Close()
	out := map[int64]Counts{}
	for rows.Next() {
		var id int64
		var c Counts
		if err := rows.Scan(&id, &c.Total, &c.Unread); err != nil {
			return nil, fmt.Errorf("folder counts: %w", err)
		}
		out[id] = c
	}
	return out, rows.Err()
}

// Search fields.
const (
	InAll     = ""
	InFrom    = "expediteur"
	InSubject = "objet"
	InText    = "texte"
)

// Search finds the messages of an account's folders whose sender, subject
// or text (or only the one named by field) contains q, ignoring case,
// newest first. Messages never summarised are summarised first.
func Search(ctx context.Context, st *store.Store, accountID int64, q, field string, limit int) ([]Row, error) {
	q = strings.ToLower(strings.TrimSpace(q))
	if q == "" {
		return nil, nil
	}
	if err := ensureAccount(ctx, st, accountID); err != nil {
		return nil, err
	}
	pat := "%" + likeEscape(q) + "%"
	var cond string
	var args = []any{accountID}
	switch field {
	case InFrom:
		cond, args = `s.s_from LIKE ? ESCAPE '\'`, append(args, pat)
	case InSubject:
		cond, args = `s.s_subject LIKE ? ESCAPE '\'`, append(args, pat)
	case InText:
		cond, args = `s.s_text LIKE ? ESCAPE '\'`, append(args, pat)
	default:
		cond, args = `(s.s_from LIKE ? ESCAPE '\' OR s.s_subject LIKE ? ESCAPE '\' OR s.s_text LIKE ? ESCAPE '\')`, append(args, pat, pat, pat)
	}
	args = append(args, limit)
	return scanRows(ctx, st, `SELECT `+rowCols+` FROM entries e JOIN mailboxes b ON b.id = e.mailbox_id
		JOIN mail_summaries s ON s.message_id = e.message_id
		WHERE b.account_id = ? AND `+cond+` ORDER BY e.internal_date DESC, e.uid DESC LIMIT ?`, args...)
}

// ensureAccount summarises the messages of an account that have no summary.
func ensureAccount(ctx context.Context, st *store.Store, accountID int64) error {
	for {
		rows, err := st.Query(ctx, `SELECT DISTINCT e.message_id FROM mailboxes b JOIN entries e ON e.mailbox_id = b.id
			LEFT JOIN mail_summaries s ON s.message_id = e.message_id WHERE b.account_id = ? AND s.message_id IS NULL LIMIT 200`, accountID)
		if err != nil {
			return fmt.Errorf("search: %w", err)
		}
		var ids []int64
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("search: %w", err)
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("search: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		sums, err := ensure(ctx, st, ids)
		if err != nil {
			return fmt.Errorf("search: %w", err)
		}
		if len(sums) == 0 {
			return nil
		}
	}
}

// likeEscape escapes the LIKE wildcards of s (with \ as escape).
func likeEscape(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}

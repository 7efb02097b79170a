// Package mailbox owns the message store seen by users: folders with IMAP
// UIDs (RFC 9051 §2.3.1), their entries and flags, and the change events that
// wake IMAP IDLE sessions.
package mailbox

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// Standard folder names; their SPECIAL-USE attributes are of RFC 6154 §2.
const (
	Inbox  = "INBOX"
	Sent   = "Sent"
	Drafts = "Drafts"
	Trash  = "Trash"
)

// Defaults lists the folders every account and box starts with, and their
// special-use attribute.
var Defaults = []struct{ Name, SpecialUse string }{
	{Inbox, ""},
	{Sent, `\Sent`},
	{Drafts, `\Drafts`},
	{Trash, `\Trash`},
}

// CreateDefaults creates the standard folders of a new account.
func CreateDefaults(ctx context.Context, tx *store.Tx, accountID int64) error {
	for _, f := range Defaults {
		if _, err := Create(ctx, tx, accountID, f.Name, f.SpecialUse); err != nil {
			return err
		}
	}
	return nil
}

// Create creates one folder and returns its id. UIDVALIDITY is derived from
// the creation time so that a folder deleted and created again under the same
// name gets a new, greater one (RFC 9051 §2.3.1.1).
func Create(ctx context.Context, tx *store.Tx, accountID int64, name, specialUse string) (int64, error) {
	validity, err := nextUIDValidity(ctx, tx, accountID)
	if err != nil {
		return 0, fmt.Errorf("create folder %s: %w", name, err)
	}
	id, err := tx.InsertID(ctx, `INSERT INTO mailboxes (account_id, name, special_use, uidvalidity) VALUES (?, ?, ?, ?)`,
		accountID, name, specialUse, int64(validity))
	if err != nil {
		return 0, fmt.Errorf("create folder %s: %w", name, err)
	}
	return id, nil
}

// ID returns the id of an account's folder by name.
func ID(ctx context.Context, q store.Querier, accountID int64, name string) (int64, error) {
	var id int64
	err := q.QueryRow(ctx, `SELECT id FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, name).Scan(&id)
	return id, err
}

// FolderRef names an account's folder.
type FolderRef struct {
	Account int64
	Name    string
}

// IDs returns the ids of the named folders, in one query; a folder that
// does not exist is absent from the map.
func IDs(ctx context.Context, q store.Querier, refs []FolderRef) (map[FolderRef]int64, error) {
	out := make(map[FolderRef]int64, len(refs))
	if len(refs) == 0 {
		return out, nil
	}
	n := store.PaddedLen(len(refs))
	var where strings.Builder
	args := make([]any, 0, 2*n)
	for i := range n {
		r := refs[min(i, len(refs)-1)]
		if i > 0 {
			where.WriteString(" OR ")
		}
		where.WriteString("(account_id = ? AND name = ?)")
		args = append(args, r.Account, r.Name)
	}
	rows, err := q.Query(ctx, `SELECT id, account_id, name FROM mailboxes WHERE `+where.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("folder ids: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var r FolderRef
		if err := rows.Scan(&id, &r.Account, &r.Name); err != nil {
			return nil, fmt.Errorf("folder ids: %w", err)
		}
		out[r] = id
	}
	return out, rows.Err()
}

// nextUIDValidity returns the next UIDVALIDITY of a folder of the account:
// the current Unix time in seconds, or one more than the last one given to
// a folder of the account when that is not smaller (several folders within
// a second). The last one is kept on the account row, so that a folder
// deleted and re-created at once, even through two nodes, gets a strictly
// greater UIDVALIDITY (RFC 9051 §2.3.1.1); the value stays within 32 bits
// until 2106.
func nextUIDValidity(ctx context.Context, tx *store.Tx, accountID int64) (uint32, error) {
	now := time.Now().Unix()
	var v int64
	err := tx.QueryRow(ctx, `UPDATE accounts SET uidvalidity_last = CASE WHEN uidvalidity_last >= ? THEN uidvalidity_last + 1 ELSE ? END
		WHERE id = ? RETURNING uidvalidity_last`, now, now, accountID).Scan(&v)
	if err != nil {
		return 0, fmt.Errorf("uidvalidity of account %d: %w", accountID, err)
	}
	return uint32(v), nil
}

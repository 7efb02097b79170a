package mailbox

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hygie-sante/hygie/internal/store"
)

// exists reports whether account accountID has a folder named name.
func exists(ctx context.Context, tx *store.Tx, accountID int64, name string) (bool, error) {
	_, err := FolderByName(ctx, tx, accountID, name)
	if errors.Is(err, ErrNoFolder) {
		return false, nil
	}
	return err == nil, err
}

// createParents creates the missing superior levels of name, as RFC 9051
// §6.3.4 recommends for CREATE.
func createParents(ctx context.Context, tx *store.Tx, accountID int64, name string) error {
	levels := strings.Split(name, Delim)
	for i := 1; i < len(levels); i++ {
		p := strings.Join(levels[:i], Delim)
		ok, err := exists(ctx, tx, accountID, p)
		if err != nil {
			return err
		}
		if !ok {
			if _, err := Create(ctx, tx, accountID, p, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

// CreateFolder creates folder name (and its missing parents) for an account
// or box and returns its id (RFC 9051 §6.3.4).
func CreateFolder(ctx context.Context, tx *store.Tx, accountID int64, name string) (int64, error) {
	n, err := NormalizeName(name)
	if err != nil {
		return 0, err
	}
	ok, err := exists(ctx, tx, accountID, n)
	if err != nil {
		return 0, err
	}
	if ok {
		return 0, fmt.Errorf("folder %q: %w", n, ErrFolderExists)
	}
	if err := createParents(ctx, tx, accountID, n); err != nil {
		return 0, err
	}
	return Create(ctx, tx, accountID, n, "")
}

// DeleteFolder deletes a folder and its messages (RFC 9051 §6.3.5). Its
// subfolders stay: their parent becomes a non-existent level. Standard
// folders cannot be deleted.
func DeleteFolder(ctx context.Context, tx *store.Tx, accountID int64, name string) error {
	f, err := FolderByName(ctx, tx, accountID, name)
	if err != nil {
		return err
	}
	if IsProtected(f.Name) {
		return fmt.Errorf("delete %q: %w", f.Name, ErrProtected)
	}
	rows, err := tx.Query(ctx, `SELECT message_id FROM entries WHERE mailbox_id = ?`, f.ID)
	if err != nil {
		return fmt.Errorf("delete %q: %w", f.Name, err)
	}
	var msgs []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return fmt.Errorf("delete %q: %w", f.Name, err)
		}
		msgs = append(msgs, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("delete %q: %w", f.Name, err)
	}
	for _, q := range []string{
		`DELETE FROM entries WHERE mailbox_id = ?`,
		`DELETE FROM folder_unsubscriptions WHERE mailbox_id = ?`,
		`DELETE FROM mailboxes WHERE id = ?`,
	} {
		if _, err := tx.Exec(ctx, q, f.ID); err != nil {
			return fmt.Errorf("delete %q: %w", f.Name, err)
		}
	}
	if err := releaseMessages(ctx, tx, msgs); err != nil {
		return fmt.Errorf("delete %q: %w", f.Name, err)
	}
	tx.AfterCommit(func() { Changed(f.ID) })
	return nil
}

// RenameFolder renames a folder and its subfolders (RFC 9051 §6.3.6).
// Renaming INBOX moves its messages to a new folder and leaves INBOX empty;
// the other standard folders cannot be renamed.
func RenameFolder(ctx context.Context, tx *store.Tx, accountID int64, from, to string) error {
	to, err := NormalizeName(to)
	if err != nil {
		return err
	}
	src, err := FolderByName(ctx, tx, accountID, from)
	if err != nil {
		return err
	}
	if to == src.Name || strings.HasPrefix(to, src.Name+Delim) {
		return fmt.Errorf("%w: cannot rename %q to %q", ErrBadName, src.Name, to)
	}
	ok, err := exists(ctx, tx, accountID, to)
	if err != nil {
		return err
	}
	if ok {
		return fmt.Errorf("folder %q: %w", to, ErrFolderExists)
	}
	if src.Name == Inbox {
		if err := createParents(ctx, tx, accountID, to); err != nil {
			return err
		}
		id, err := Create(ctx, tx, accountID, to, "")
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE entries SET mailbox_id = ? WHERE mailbox_id = ?`, id, src.ID); err != nil {
			return fmt.Errorf("rename INBOX: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE mailboxes SET uidnext = ? WHERE id = ?`, int64(src.UIDNext), id); err != nil {
			return fmt.Errorf("rename INBOX: %w", err)
		}
		tx.AfterCommit(func() { Changed(src.ID) })
		return nil
	}
	if IsProtected(src.Name) {
		return fmt.Errorf("rename %q: %w", src.Name, ErrProtected)
	}
	all, err := Folders(ctx, tx, accountID)
	if err != nil {
		return err
	}
	renames := map[int64]string{src.ID: to}
	names := map[string]bool{}
	for _, f := range all {
		names[f.Name] = true
	}
	for _, f := range all {
		if strings.HasPrefix(f.Name, src.Name+Delim) {
			n := to + strings.TrimPrefix(f.Name, src.Name)
			if names[n] {
				return fmt.Errorf("folder %q: %w", n, ErrFolderExists)
			}
			renames[f.ID] = n
		}
	}
	if err := createParents(ctx, tx, accountID, to); err != nil {
		return err
	}
	ids := make([]int64, 0, len(renames))
	for id := range renames {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		if _, err := tx.Exec(ctx, `UPDATE mailboxes SET name = ? WHERE id = ?`, renames[id], id); err != nil {
			return fmt.Errorf("rename %q: %w", src.Name, err)
		}
	}
	return nil
}

// SetSubscribed subscribes person accountID to folder f or unsubscribes
// them (RFC 9051 §6.3.7, §6.3.8). A subscription to a box folder belongs to
// the member, not to the box.
func SetSubscribed(ctx context.Context, tx *store.Tx, accountID int64, f Folder, on bool) error {
	var err error
	switch {
	case f.AccountID == accountID:
		v := 0
		if on {
			v = 1
		}
		_, err = tx.Exec(ctx, `UPDATE mailboxes SET subscribed = ? WHERE id = ?`, v, f.ID)
	case on:
		_, err = tx.Exec(ctx, `DELETE FROM folder_unsubscriptions WHERE account_id = ? AND mailbox_id = ?`, accountID, f.ID)
	default:
		var n int
		if err = tx.QueryRow(ctx, `SELECT COUNT(*) FROM folder_unsubscriptions WHERE account_id = ? AND mailbox_id = ?`, accountID, f.ID).Scan(&n); err == nil && n == 0 {
			_, err = tx.Exec(ctx, `INSERT INTO folder_unsubscriptions (account_id, mailbox_id) VALUES (?, ?)`, accountID, f.ID)
		}
	}
	if err != nil {
		return fmt.Errorf("subscribe %q: %w", f.Name, err)
	}
	return nil
}

// releaseMessages drops one reference per listed message id (an id may
// repeat) and deletes the messages no entry references any more.
func releaseMessages(ctx context.Context, tx *store.Tx, ids []int64) error {
	counts := map[int64]int{}
	for _, id := range ids {
		counts[id]++
	}
	keys := make([]int64, 0, len(counts))
	for id := range counts {
		keys = append(keys, id)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, id := range keys {
		if _, err := tx.Exec(ctx, `UPDATE messages SET refs = refs - ? WHERE id = ?`, counts[id], id); err != nil {
			return fmt.Errorf("release message %d: %w", id, err)
		}
		// A queued remote delivery reads the message after its sender may
		// have expunged every copy: keep the row while a job names it (the
		// queue deletes it when that job ends).
		if _, err := tx.Exec(ctx, `DELETE FROM messages WHERE id = ? AND refs <= 0
			AND NOT EXISTS (SELECT 1 FROM jobs WHERE message_id = ?)`, id, id); err != nil {
			return fmt.Errorf("release message %d: %w", id, err)
		}
	}
	return nil
}

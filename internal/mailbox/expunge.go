package mailbox

import (
	"context"
	"fmt"

	"github.com/hygie-sante/hygie/internal/store"
)

// Expunge permanently removes the messages of folder folderID that carry
// \Deleted (RFC 9051 §6.4.3); when uids is not nil (sorted ascending) only
// those among them (UID EXPUNGE, RFC 4315 §2.1). It returns the removed
// UIDs, ascending. A message no longer in any folder is deleted.
func Expunge(ctx context.Context, tx *store.Tx, folderID int64, uids []uint32) ([]uint32, error) {
	q := `SELECT uid, flags FROM entries WHERE mailbox_id = ? AND flags LIKE '%Deleted%'`
	args := []any{folderID}
	if uids != nil {
		if len(uids) == 0 {
			return nil, nil
		}
		q += ` AND uid BETWEEN ? AND ?`
		args = append(args, uids[0], uids[len(uids)-1])
	}
	rows, err := tx.Query(ctx, q+` ORDER BY uid`, args...)
	if err != nil {
		return nil, fmt.Errorf("expunge: %w", err)
	}
	var del []uint32
	in := func(uint32) bool { return true }
	if uids != nil {
		in = uidLookup(uids)
	}
	for rows.Next() {
		var uid int64
		var flags string
		if err := rows.Scan(&uid, &flags); err != nil {
			rows.Close()
			return nil, fmt.Errorf("expunge: %w", err)
		}
		if HasFlag(flags, FlagDeleted) && in(uint32(uid)) {
			del = append(del, uint32(uid))
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("expunge: %w", err)
	}
	return Remove(ctx, tx, folderID, del)
}

// Remove takes the messages with the given UIDs (sorted ascending) out of
// folder folderID whatever their flags (the second half of MOVE, RFC 6851
// §3.3) and returns the UIDs that were there. A message no longer in any
// folder is deleted.
func Remove(ctx context.Context, tx *store.Tx, folderID int64, uids []uint32) ([]uint32, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	var removed []uint32
	var msgs []int64
	for _, uid := range uids {
		var msg int64
		err := tx.QueryRow(ctx, `DELETE FROM entries WHERE mailbox_id = ? AND uid = ? RETURNING message_id`, folderID, uid).Scan(&msg)
		if err != nil {
			if isNoRows(err) {
				continue
			}
			return nil, fmt.Errorf("remove message %d: %w", uid, err)
		}
		removed = append(removed, uid)
		msgs = append(msgs, msg)
	}
	if err := releaseMessages(ctx, tx, msgs); err != nil {
		return nil, err
	}
	if len(removed) > 0 {
		tx.AfterCommit(func() { Changed(folderID) })
	}
	return removed, nil
}

package mailbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/hygie-sante/hygie/internal/store"
)

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// copyRow is an entry being copied or moved.
type copyRow struct {
	uid        uint32
	msg        int64
	flags      string
	seen       int64
	date, zone int64
}

// Copy places the messages of folder src whose UIDs are listed (sorted
// ascending) into folder dst with new UIDs, keeping their flags and internal
// dates (RFC 9051 §6.4.7). It returns the source UIDs copied and their new
// UIDs, in the same order, for COPYUID (RFC 4315 §3).
func Copy(ctx context.Context, tx *store.Tx, src int64, uids []uint32, dst int64) (from, to []uint32, err error) {
	if len(uids) == 0 {
		return nil, nil, nil
	}
	in := uidLookup(uids)
	rows, err := tx.Query(ctx, `SELECT uid, message_id, flags, seen, internal_date, internal_tz FROM entries
		WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid`, src, uids[0], uids[len(uids)-1])
	if err != nil {
		return nil, nil, fmt.Errorf("copy: %w", err)
	}
	var list []copyRow
	for rows.Next() {
		var r copyRow
		var uid int64
		if err := rows.Scan(&uid, &r.msg, &r.flags, &r.seen, &r.date, &r.zone); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("copy: %w", err)
		}
		r.uid = uint32(uid)
		if in(r.uid) {
			list = append(list, r)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("copy: %w", err)
	}
	// Take the references first, in message id order (one lock order for
	// every writer); a message another transaction just deleted is skipped.
	counts := map[int64]int{}
	for _, r := range list {
		counts[r.msg]++
	}
	ids := make([]int64, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	gone := map[int64]bool{}
	for _, id := range ids {
		res, err := tx.Exec(ctx, `UPDATE messages SET refs = refs + ? WHERE id = ?`, counts[id], id)
		if err != nil {
			return nil, nil, fmt.Errorf("copy: %w", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			gone[id] = true
		}
	}
	if len(gone) > 0 {
		kept := list[:0]
		for _, r := range list {
			if !gone[r.msg] {
				kept = append(kept, r)
			}
		}
		list = kept
	}
	to, err = insertEntries(ctx, tx, dst, list)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range list {
		from = append(from, r.uid)
	}
	return from, to, nil
}

// insertEntries files rows into folder dst under new UIDs, reserved at once
// (RFC 9051 §2.3.1.1: ascending), and wakes dst's watchers once committed.
func insertEntries(ctx context.Context, tx *store.Tx, dst int64, list []copyRow) ([]uint32, error) {
	if len(list) == 0 {
		return nil, nil
	}
	var next int64
	err := tx.QueryRow(ctx, `UPDATE mailboxes SET uidnext = uidnext + ? WHERE id = ? RETURNING uidnext`, len(list), dst).Scan(&next)
	if isNoRows(err) {
		return nil, fmt.Errorf("folder %d: %w", dst, ErrNoFolder)
	}
	if err != nil {
		return nil, fmt.Errorf("reserve UIDs: %w", err)
	}
	first := next - int64(len(list))
	to := make([]uint32, len(list))
	for i, r := range list {
		uid := first + int64(i)
		if _, err := tx.Exec(ctx, `INSERT INTO entries (mailbox_id, uid, message_id, flags, seen, internal_date, internal_tz) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			dst, uid, r.msg, r.flags, r.seen, r.date, r.zone); err != nil {
			return nil, fmt.Errorf("file message: %w", err)
		}
		to[i] = uint32(uid)
	}
	tx.AfterCommit(func() { Changed(dst) })
	return to, nil
}

// Move moves messages from folder src to folder dst (RFC 6851): their
// entries leave src and enter dst with new UIDs, in one transaction; the
// messages themselves are not touched. It returns the moved source UIDs and
// their new UIDs.
func Move(ctx context.Context, tx *store.Tx, src int64, uids []uint32, dst int64) (from, to []uint32, err error) {
	var list []copyRow
	for _, uid := range uids {
		r := copyRow{uid: uid}
		err := tx.QueryRow(ctx, `DELETE FROM entries WHERE mailbox_id = ? AND uid = ?
			RETURNING message_id, flags, seen, internal_date, internal_tz`, src, uid).Scan(&r.msg, &r.flags, &r.seen, &r.date, &r.zone)
		if isNoRows(err) {
			continue
		}
		if err != nil {
			return nil, nil, fmt.Errorf("move: %w", err)
		}
		list = append(list, r)
	}
	if len(list) == 0 {
		return nil, nil, nil
	}
	tx.AfterCommit(func() { Changed(src) })
	if to, err = insertEntries(ctx, tx, dst, list); err != nil {
		return nil, nil, fmt.Errorf("move: %w", err)
	}
	for _, r := range list {
		from = append(from, r.uid)
	}
	return from, to, nil
}

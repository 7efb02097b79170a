package imapd

import (
	"fmt"

	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
)

// unseenBefore returns, by UID, the stored message ids of the listed
// messages that are not \Seen yet, when the operation may set \Seen and
// Config.Opened wants to know; nil otherwise.
func (s *session) unseenBefore(tx *store.Tx, sel *selection, uids []uint32, op mailbox.FlagOp, flags []string) (map[uint32]int64, error) {
	if s.srv.cfg.Opened == nil || op == mailbox.FlagsRemove || len(uids) == 0 {
		return nil, nil
	}
	setsSeen := false
	for _, f := range flags {
		setsSeen = setsSeen || mailbox.CanonicalFlag(f) == mailbox.FlagSeen
	}
	if !setsSeen {
		return nil, nil
	}
	want := make(map[uint32]bool, len(uids))
	for _, u := range uids {
		want[u] = true
	}
	rows, err := tx.Query(s.ctx, `SELECT uid, message_id FROM entries WHERE mailbox_id = ? AND seen = 0 AND uid BETWEEN ? AND ?`,
		sel.f.id, uids[0], uids[len(uids)-1])
	if err != nil {
		return nil, fmt.Errorf("unseen messages: %w", err)
	}
	defer rows.Close()
	out := map[uint32]int64{}
	for rows.Next() {
		var uid, msg int64
		if err := rows.Scan(&uid, &msg); err != nil {
			return nil, fmt.Errorf("unseen messages: %w", err)
		}
		if want[uint32(uid)] {
			out[uint32(uid)] = msg
		}
	}
	return out, rows.Err()
}

// reportOpened tells Config.Opened about the messages that were unseen and
// now carry \Seen. The reader is the box for a box folder, else the person.
func (s *session) reportOpened(sel *selection, unseen map[uint32]int64, upd []mailbox.FlagUpdate) {
	if len(unseen) == 0 {
		return
	}
	reader := s.user
	if sel.t.box != nil {
		reader = sel.t.box
	}
	for _, u := range upd {
		if msg, ok := unseen[u.UID]; ok && mailbox.HasFlag(u.Flags, mailbox.FlagSeen) {
			s.srv.cfg.Opened(s.ctx, reader, msg)
		}
	}
}

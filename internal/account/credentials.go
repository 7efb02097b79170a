package account

import (
	"context"
	"fmt"

	"github.com/hygie-sante/hygie/internal/store"
)

// BoxAccess is an organisational box a person may act for, with the
// person's own choice about it (SPEC §2, Identifiants de connexion C.2).
type BoxAccess struct {
	Box *Account
	// Notify: « recevoir les notifications sur mon adresse individuelle »
	// (box_members.notify, on by default). A message received by the box
	// then notifies the member's own notification address as well as the
	// box's associated address.
	Notify bool
}

// BoxAccesses lists the enabled boxes person id is a member of, with its
// notification choice for each, by login.
func (s *Service) BoxAccesses(ctx context.Context, personID int64) ([]BoxAccess, error) {
	boxes, err := s.Boxes(ctx, personID)
	if err != nil {
		return nil, err
	}
	rows, err := s.st.Query(ctx, `SELECT box_id, notify FROM box_members WHERE account_id = ?`, personID)
	if err != nil {
		return nil, fmt.Errorf("box notifications of %d: %w", personID, err)
	}
	defer rows.Close()
	notify := map[int64]bool{}
	for rows.Next() {
		var box int64
		var n int
		if err := rows.Scan(&box, &n); err != nil {
			return nil, fmt.Errorf("box notifications of %d: %w", personID, err)
		}
		notify[box] = n != 0
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("box notifications of %d: %w", personID, err)
	}
	out := make([]BoxAccess, 0, len(boxes))
	for _, b := range boxes {
		out = append(out, BoxAccess{Box: b, Notify: notify[b.ID]})
	}
	return out, nil
}

// SaveAccess saves « Comptes accessibles » for person id in one
// transaction: the account that opens after login (its own, or a box it is
// a member of; anything else is ErrInvalid) and, per box in notify, whether
// the box's notifications also go to the person's own address. Boxes absent
// from notify are left as they are; boxes the person is not a member of are
// ignored.
func (s *Service) SaveAccess(ctx context.Context, personID, defaultID int64, notify map[int64]bool) error {
	if defaultID != personID {
		ok, err := s.IsMember(ctx, defaultID, personID)
		if err != nil {
			return fmt.Errorf("default account: %w", err)
		}
		if !ok {
			return fmt.Errorf("%w: account %d is not accessible to %d", ErrInvalid, defaultID, personID)
		}
	}
	def := defaultID
	if def == personID {
		def = 0 // the individual account, the default
	}
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE accounts SET default_account_id = ? WHERE id = ?`, def, personID); err != nil {
			return fmt.Errorf("save default account of %d: %w", personID, err)
		}
		for box, on := range notify {
			if _, err := tx.Exec(ctx, `UPDATE box_members SET notify = ? WHERE box_id = ? AND account_id = ?`,
				boolInt(on), box, personID); err != nil {
				return fmt.Errorf("save box notification of %d: %w", personID, err)
			}
		}
		return nil
	})
}

package account

import (
	"context"
	"fmt"

	"github.com/hygie-sante/hygie/internal/store"
)

// AddMember makes the individual account member a login account of box.
func (s *Service) AddMember(ctx context.Context, box, member string) error {
	b, m, err := s.boxAndMember(ctx, box, member)
	if err != nil {
		return err
	}
	return s.addMember(ctx, nil, b, m)
}

// RemoveMember removes a login account from a box; the last one is
// refused (ErrLastMember).
func (s *Service) RemoveMember(ctx context.Context, box, member string) error {
	b, m, err := s.boxAndMember(ctx, box, member)
	if err != nil {
		return err
	}
	return s.removeMember(ctx, nil, b, m)
}

// addMember adds m to box b in one transaction, recorded in the journal of
// administrative changes when by is not nil.
func (s *Service) addMember(ctx context.Context, by *Actor, b, m *Account) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		if err := lockBox(ctx, tx, b.ID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM box_members WHERE box_id = ? AND account_id = ?`, b.ID, m.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%s is %w a member of %s", m.Login, ErrDuplicate, b.Login)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO box_members (box_id, account_id) VALUES (?, ?)`, b.ID, m.ID); err != nil {
			return err
		}
		if by == nil {
			return nil
		}
		return RecordChangeTx(ctx, tx, *by, b.StructureID, b.Login, "member_add", "", m.Login)
	})
}

// removeMember removes m from box b in one transaction (refusing the last
// member), recorded in the journal of administrative changes when by is
// not nil.
func (s *Service) removeMember(ctx context.Context, by *Actor, b, m *Account) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		if err := removeMemberTx(ctx, tx, b.ID, m); err != nil {
			return err
		}
		if by == nil {
			return nil
		}
		return RecordChangeTx(ctx, tx, *by, b.StructureID, b.Login, "member_remove", m.Login, "")
	})
}

// removeMemberTx is the one rule for removing login account m from box
// boxID, wherever it is done (self-service, console, command line): m
// must be a member (ErrNotFound) and not the last one (ErrLastMember).
// The box row is locked first so that two concurrent removals cannot both
// pass the check.
func removeMemberTx(ctx context.Context, tx *store.Tx, boxID int64, m *Account) error {
	if err := lockBox(ctx, tx, boxID); err != nil {
		return err
	}
	var is, n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN account_id = ? THEN 1 ELSE 0 END), 0)
		FROM box_members WHERE box_id = ?`, m.ID, boxID).Scan(&n, &is); err != nil {
		return err
	}
	if is == 0 {
		return fmt.Errorf("%s is not a member: %w", m.Login, ErrNotFound)
	}
	if n <= 1 {
		return fmt.Errorf("%s: %w", m.Login, ErrLastMember)
	}
	_, err := tx.Exec(ctx, `DELETE FROM box_members WHERE box_id = ? AND account_id = ?`, boxID, m.ID)
	return err
}

func (s *Service) boxAndMember(ctx context.Context, box, member string) (*Account, *Account, error) {
	b, err := s.ByAddress(ctx, box)
	if err != nil {
		return nil, nil, fmt.Errorf("box %s: %w", box, err)
	}
	if !b.IsBox() {
		return nil, nil, fmt.Errorf("%w: %s is not an organisational box", ErrInvalid, box)
	}
	m, err := s.ByAddress(ctx, member)
	if err != nil {
		return nil, nil, fmt.Errorf("member %s: %w", member, err)
	}
	if m.IsBox() {
		return nil, nil, fmt.Errorf("%w: a box cannot be a member of a box", ErrInvalid)
	}
	return b, m, nil
}

// Boxes lists the enabled boxes that account id is a member of.
func (s *Service) Boxes(ctx context.Context, accountID int64) ([]*Account, error) {
	return s.list(ctx, "list boxes", `SELECT `+accountCols+` FROM accounts a JOIN structures s ON s.id = a.structure_id
		JOIN box_members m ON m.box_id = a.id WHERE m.account_id = ? AND a.disabled = 0 ORDER BY a.login`, accountID)
}

// Members lists the login accounts of a box.
func (s *Service) Members(ctx context.Context, boxID int64) ([]*Account, error) {
	return s.list(ctx, "list members", `SELECT `+accountCols+` FROM accounts a JOIN structures s ON s.id = a.structure_id
		JOIN box_members m ON m.account_id = a.id WHERE m.box_id = ? ORDER BY a.login`, boxID)
}

// IsMember reports whether account id may act for box id.
func (s *Service) IsMember(ctx context.Context, boxID, accountID int64) (bool, error) {
	var n int
	err := s.st.QueryRow(ctx, `SELECT COUNT(*) FROM box_members m JOIN accounts b ON b.id = m.box_id
		WHERE m.box_id = ? AND m.account_id = ? AND b.disabled = 0`, boxID, accountID).Scan(&n)
	return n > 0, err
}

// SenderIdentity returns the account or box whose address from is, when the
// authenticated account user may send as it: its own addresses, or those of
// a box it is a member of (SPEC §1).
func (s *Service) SenderIdentity(ctx context.Context, user *Account, from string) (*Account, error) {
	if user.HasAddress(from) {
		return user, nil
	}
	owner, err := s.ByAddress(ctx, from)
	if err != nil || !owner.IsBox() || owner.Disabled {
		return nil, fmt.Errorf("%w: %s is not an address of %s", ErrInvalid, from, user.Login)
	}
	ok, err := s.IsMember(ctx, owner.ID, user.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a member of %s", ErrInvalid, user.Login, from)
	}
	return owner, nil
}

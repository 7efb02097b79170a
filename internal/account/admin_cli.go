package account

import (
	"context"
	"fmt"

	"github.com/hygie-sante/hygie/internal/auth"
	"github.com/hygie-sante/hygie/internal/store"
)

// The variants of the administrative changes by address that the command
// line (`hygie admin`) uses: each records the change in the journal of
// administrative changes (who, what, before, after) in the same
// transaction as the change, like the web console.

// AdminAddMemberByAddress makes the person member a login account of box,
// and records it.
func (s *Service) AdminAddMemberByAddress(ctx context.Context, by Actor, box, member string) error {
	b, m, err := s.boxAndMember(ctx, box, member)
	if err != nil {
		return err
	}
	return s.addMember(ctx, &by, b, m)
}

// AdminRemoveMemberByAddress removes member from box (not the last one:
// ErrLastMember), and records it.
func (s *Service) AdminRemoveMemberByAddress(ctx context.Context, by Actor, box, member string) error {
	b, m, err := s.boxAndMember(ctx, box, member)
	if err != nil {
		return err
	}
	return s.removeMember(ctx, &by, b, m)
}

// AdminDisableStructureNamed disables structure name with all its accounts
// and boxes, and records it.
func (s *Service) AdminDisableStructureNamed(ctx context.Context, by Actor, name string) error {
	return s.disableStructure(ctx, &by, name)
}

// AdminSetDisabledByAddress disables or re-enables the account or box
// login, and records it.
func (s *Service) AdminSetDisabledByAddress(ctx context.Context, by Actor, login string, disabled bool) error {
	a, err := s.ByAddress(ctx, login)
	if err != nil {
		return err
	}
	return s.AdminSetDisabled(ctx, by, a.ID, disabled)
}

// AdminSetPassword replaces the password of the individual account login,
// and records that it changed (never the password itself).
func (s *Service) AdminSetPassword(ctx context.Context, by Actor, login, password string) error {
	return s.setPassword(ctx, &by, login, password)
}

// setPassword replaces the password of login, recorded in the journal of
// administrative changes in the same transaction when by is not nil.
func (s *Service) setPassword(ctx context.Context, by *Actor, login, password string) error {
	a, err := s.ByAddress(ctx, login)
	if err != nil {
		return err
	}
	if a.IsBox() {
		return fmt.Errorf("%w: an organisational box has no password; its members log in", ErrInvalid)
	}
	hash, err := auth.HashPassword(password)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE accounts SET password_hash = ? WHERE id = ?`, hash, a.ID); err != nil || by == nil {
			return err
		}
		return RecordChangeTx(ctx, tx, *by, a.StructureID, a.Login, "password", "", "modifié")
	})
}

package account

import (
	"context"
	"fmt"

	"github.com/hygie-sante/hygie/internal/store"
)

// DefaultAccount returns the account or box that opens after login for
// person id (Identifiants de connexion C.1): its own account unless it chose
// a box it is still a member of.
func (s *Service) DefaultAccount(ctx context.Context, id int64) (int64, error) {
	var def int64
	if err := s.st.QueryRow(ctx, `SELECT default_account_id FROM accounts WHERE id = ?`, id).Scan(&def); err != nil {
		return 0, fmt.Errorf("default account: %w", err)
	}
	if def == 0 || def == id {
		return id, nil
	}
	if ok, err := s.IsMember(ctx, def, id); err != nil || !ok {
		return id, err
	}
	return def, nil
}

// SetPasswordHashTx stores an already computed password hash inside tx (for
// flows that commit other changes with it, like a reset token's use).
func SetPasswordHashTx(ctx context.Context, tx *store.Tx, id int64, hash string) error {
	_, err := tx.Exec(ctx, `UPDATE accounts SET password_hash = ? WHERE id = ?`, hash, id)
	return err
}

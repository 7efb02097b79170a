package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/hygie-sante/hygie/internal/store"
)

// AcceptJoinRequest creates the PER account of pending card-join request id
// in structure structureID, as JoinWithCard would have done had the
// structure's FINESS matched: addresses derived by p and made unique, no
// password, the card associated as its login mode. The request is marked
// accepted and the change recorded.
func (s *Service) AcceptJoinRequest(ctx context.Context, by Actor, id, structureID int64, p JoinPolicy) (*Account, error) {
	st, err := s.StructureByID(ctx, structureID)
	if err != nil {
		return nil, err
	}
	var accountID int64
	err = s.st.Tx(ctx, func(tx *store.Tx) error {
		var r JoinRequest
		err := tx.QueryRow(ctx, `SELECT provider, subject, rpps, first_name, last_name, profession, email, raison_sociale
			FROM join_requests WHERE id = ? AND status = 'pending'`, id).
			Scan(&r.Provider, &r.Subject, &r.RPPS, &r.FirstName, &r.LastName, &r.Profession, &r.Email, &r.RaisonSociale)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("join request %w", ErrNotFound)
		}
		if err != nil {
			return err
		}
		na := NewAccount{Structure: st.Name, Kind: PER, FirstName: r.FirstName, LastName: r.LastName, RPPS: r.RPPS, Notify: r.Email}
		for i := 1; ; i++ {
			if i > 99 {
				return fmt.Errorf("%w: no free address for %s %s", ErrDuplicate, r.FirstName, r.LastName)
			}
			if na.Login, na.MSS, err = p.addresses(r.FirstName, r.LastName, i); err != nil {
				return err
			}
			var c int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM accounts WHERE login IN (?, ?) OR mss IN (?, ?)`,
				na.Login, na.MSS, na.Login, na.MSS).Scan(&c); err != nil {
				return err
			}
			if c == 0 {
				break
			}
		}
		if err := na.validate(); err != nil {
			return err
		}
		if accountID, err = createTx(ctx, tx, na); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET profession = ?, raison_sociale = ? WHERE id = ?`,
			r.Profession, r.RaisonSociale, accountID); err != nil {
			return err
		}
		if err := associateTx(ctx, tx, accountID, r.Provider, r.Subject); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE join_requests SET status = 'accepted' WHERE id = ?`, id); err != nil {
			return err
		}
		return RecordChangeTx(ctx, tx, by, st.ID, na.Login, "join_accept", fmt.Sprintf("demande d'adhésion %d (RPPS %s)", id, r.RPPS),
			"type=PER adresse="+na.Login+" mss="+na.MSS)
	})
	if err != nil {
		return nil, fmt.Errorf("accept join request: %w", err)
	}
	return s.ByID(ctx, accountID)
}

// RefuseJoinRequest marks pending card-join request id refused and records it.
func (s *Service) RefuseJoinRequest(ctx context.Context, by Actor, id int64) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE join_requests SET status = 'refused' WHERE id = ? AND status = 'pending'`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("join request %w", ErrNotFound)
		}
		return RecordChangeTx(ctx, tx, by, 0, fmt.Sprintf("adhésion %d", id), "join_refuse", "en attente", "refusée")
	})
}

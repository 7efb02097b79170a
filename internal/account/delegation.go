package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// Delegation errors (SPEC §2.6), besides ErrInvalid (malformed address),
// ErrDuplicate (already a delegate) and ErrDisabled (disabled delegate).
var (
	// ErrNotPlatformUser: the address belongs to no account of this
	// platform; only platform users can be delegates.
	ErrNotPlatformUser = errors.New("not an account of this platform")
	// ErrSelfDelegation: an account cannot delegate to itself.
	ErrSelfDelegation = errors.New("an account cannot delegate to itself")
	// ErrTooManyDelegations: MaxDelegations reached.
	ErrTooManyDelegations = errors.New("too many delegations")
)

// MaxDelegations bounds the delegates of one account: each received
// message is copied once per delegate.
const MaxDelegations = 20

// Delegation is a delegate of an account: it receives a copy of every
// message the account receives afterwards (guide: « Délégations »).
type Delegation struct {
	Delegate *Account
	Since    time.Time
}

// Delegations lists the delegates of account id, by login.
func (s *Service) Delegations(ctx context.Context, id int64) ([]Delegation, error) {
	rows, err := s.st.Query(ctx, `SELECT `+accountCols+`, d.created_at FROM delegations d
		JOIN accounts a ON a.id = d.delegate_id JOIN structures s ON s.id = a.structure_id
		WHERE d.account_id = ? ORDER BY a.login`, id)
	if err != nil {
		return nil, fmt.Errorf("delegations of %d: %w", id, err)
	}
	defer rows.Close()
	var out []Delegation
	for rows.Next() {
		var since int64
		a, err := scanAccount(rowWithExtra{rows, &since})
		if err != nil {
			return nil, fmt.Errorf("delegations of %d: %w", id, err)
		}
		out = append(out, Delegation{Delegate: a, Since: time.Unix(since, 0)})
	}
	return out, rows.Err()
}

// rowWithExtra scans the account columns followed by extra destinations.
type rowWithExtra struct {
	row   interface{ Scan(...any) error }
	extra any
}

func (r rowWithExtra) Scan(dst ...any) error { return r.row.Scan(append(dst, r.extra)...) }

// AddDelegation makes the platform account owning addr (its login or
// MSSanté address) a delegate of account id, and returns it. Refused:
// a malformed address (ErrInvalid), an address of no platform account
// (ErrNotPlatformUser: outside addresses never receive message copies),
// the account itself (ErrSelfDelegation), a disabled account (ErrDisabled),
// an existing delegate (ErrDuplicate), more than MaxDelegations
// (ErrTooManyDelegations). An organisational box may be a delegate: the
// guide advises a MED account to delegate to a PER or ORG account.
func (s *Service) AddDelegation(ctx context.Context, id int64, addr string) (*Account, error) {
	d, err := s.ByAddress(ctx, addr)
	switch {
	case errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("delegate %s: %w", addr, ErrNotPlatformUser)
	case err != nil:
		return nil, fmt.Errorf("delegate %s: %w", addr, err)
	case d.ID == id:
		return nil, fmt.Errorf("delegate %s: %w", addr, ErrSelfDelegation)
	case d.Disabled:
		return nil, fmt.Errorf("delegate %s is %w", addr, ErrDisabled)
	}
	err = s.st.Tx(ctx, func(tx *store.Tx) error {
		var dup, n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM delegations WHERE account_id = ? AND delegate_id = ?`, id, d.ID).Scan(&dup); err != nil {
			return err
		}
		if dup > 0 {
			return fmt.Errorf("delegate %s %w", d.Login, ErrDuplicate)
		}
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM delegations WHERE account_id = ?`, id).Scan(&n); err != nil {
			return err
		}
		if n >= MaxDelegations {
			return fmt.Errorf("%w: at most %d", ErrTooManyDelegations, MaxDelegations)
		}
		_, err := tx.Exec(ctx, `INSERT INTO delegations (account_id, delegate_id, created_at) VALUES (?, ?, ?)`, id, d.ID, time.Now().Unix())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("add delegation: %w", err)
	}
	return d, nil
}

// RemoveDelegation ends the delegation of account id to delegateID; it is
// ErrNotFound when there is none (the delegation is looked up with the
// delegating account, so nobody removes another account's delegations).
func (s *Service) RemoveDelegation(ctx context.Context, id, delegateID int64) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM delegations WHERE account_id = ? AND delegate_id = ?`, id, delegateID)
		if err != nil {
			return fmt.Errorf("remove delegation: %w", err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return fmt.Errorf("delegation of %d to %d: %w", id, delegateID, ErrNotFound)
		}
		return nil
	})
}

// DelegatesTx returns the enabled delegates of account id, read through q
// (the delivery transaction, for the copy effect).
func DelegatesTx(ctx context.Context, q store.Querier, id int64) ([]*Account, error) {
	rows, err := q.Query(ctx, `SELECT `+accountCols+` FROM delegations d
		JOIN accounts a ON a.id = d.delegate_id JOIN structures s ON s.id = a.structure_id
		WHERE d.account_id = ? AND a.disabled = 0 ORDER BY a.id`, id)
	if err != nil {
		return nil, fmt.Errorf("delegates of %d: %w", id, err)
	}
	defer rows.Close()
	var out []*Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("delegates of %d: %w", id, err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

package account

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/address"
	"github.com/hygie-sante/hygie/internal/store"
)

// SignupConfirmValidity is how long the link confirming a sign-up
// request's personal address works.
const SignupConfirmValidity = 48 * time.Hour

// Sign-up request states.
const (
	SignupUnconfirmed = "unconfirmed"
	SignupPending     = "pending"
	SignupAccepted    = "accepted"
	SignupRefused     = "refused"
)

// SignupForm is a public request for a MED account (the guide: « Si vous
// n'avez pas de compte Medimail, il faut en créer un »).
//
// The person gives two addresses: Login, the platform address asked for
// (it does not exist yet, so nothing can be confirmed there), and Email,
// the person's own mailbox outside the platform, which receives the
// confirmation link, the decision and the link to set a password, and
// becomes the account's notification address (SPEC §1).
type SignupForm struct {
	FirstName, LastName string
	Login               string
	Email               string
	StructureID         int64
	Profession          string
}

// SignupRequest is a stored sign-up request.
type SignupRequest struct {
	ID                  int64
	StructureID         int64
	Structure           string
	FirstName, LastName string
	Login, Email        string
	Profession          string
	Status              string
	Created             time.Time
	// LoginTaken is true when the asked address already belongs to an
	// account (shown to administrators only).
	LoginTaken bool
	AccountID  int64
}

// SignupDomains, when not empty, are the domains a requested platform
// address may be in (the platform's mail domains).
func (f *SignupForm) check(domains []string) AdminError {
	var bad AdminError
	f.FirstName, f.LastName = strings.TrimSpace(f.FirstName), strings.TrimSpace(f.LastName)
	f.Profession = strings.TrimSpace(f.Profession)
	if f.FirstName == "" || len(f.FirstName) > MaxNameLen {
		bad = append(bad, AdminProblem{"first_name", "required"})
	}
	if f.LastName == "" || len(f.LastName) > MaxNameLen {
		bad = append(bad, AdminProblem{"last_name", "required"})
	}
	if len(f.Profession) > MaxProfessionLen {
		bad = append(bad, AdminProblem{"profession", "too_long"})
	}
	if n, err := address.Parse(f.Login); err != nil {
		bad = append(bad, AdminProblem{"login", "address"})
	} else if len(domains) > 0 && !slices.Contains(domains, address.Domain(n)) {
		bad = append(bad, AdminProblem{"login", "domain"})
	} else {
		f.Login = n
	}
	if n, err := address.Parse(f.Email); err != nil {
		bad = append(bad, AdminProblem{"email", "address"})
	} else if len(domains) > 0 && slices.Contains(domains, address.Domain(n)) {
		// The confirmation must reach a mailbox the person reads today.
		bad = append(bad, AdminProblem{"email", "platform"})
	} else {
		f.Email = n
	}
	return bad
}

func signupHash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// SubmitSignup records a sign-up request waiting for the confirmation of
// its personal address, and calls mail inside the same transaction to queue
// the confirmation link built on token. Whether the asked address already
// exists changes nothing here (the answer reveals nothing); the
// administrators see it when they decide. The structure must exist and be
// enabled.
func (s *Service) SubmitSignup(ctx context.Context, f SignupForm, domains []string, ip, token string,
	mail func(tx *store.Tx, f SignupForm) error) error {
	if bad := f.check(domains); len(bad) > 0 {
		return bad
	}
	st, err := s.StructureByID(ctx, f.StructureID)
	if err != nil || st.Disabled {
		return AdminError{{"structure", "required"}}
	}
	now := time.Now()
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO signup_requests (token_hash, structure_id, first_name, last_name, login, email, profession,
			status, remote_ip, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'unconfirmed', ?, ?, ?)`,
			signupHash(token), f.StructureID, f.FirstName, f.LastName, f.Login, f.Email, f.Profession, ip,
			now.Unix(), now.Add(SignupConfirmValidity).Unix()); err != nil {
			return fmt.Errorf("sign-up request: %w", err)
		}
		return mail(tx, f)
	})
}

// ConfirmSignup marks the request of token as confirmed (pending for the
// structure's administrators). It returns ErrNotFound for an unknown,
// expired or already used token.
func (s *Service) ConfirmSignup(ctx context.Context, token string) (*SignupRequest, error) {
	var id int64
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		var status string
		var expires int64
		err := tx.QueryRow(ctx, `SELECT id, status, expires_at FROM signup_requests WHERE token_hash = ?`, signupHash(token)).
			Scan(&id, &status, &expires)
		if errors.Is(err, sql.ErrNoRows) || err == nil && (status != SignupUnconfirmed || time.Now().Unix() >= expires) {
			return fmt.Errorf("sign-up confirmation %w", ErrNotFound)
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE signup_requests SET status = 'pending' WHERE id = ?`, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s.signupByID(ctx, s.st, id)
}

const signupCols = `r.id, r.structure_id, s.name, r.first_name, r.last_name, r.login, r.email, r.profession, r.status, r.created_at, r.account_id,
	(SELECT COUNT(*) FROM accounts a WHERE a.login = r.login OR a.mss = r.login)`

func scanSignup(row interface{ Scan(...any) error }) (*SignupRequest, error) {
	r := &SignupRequest{}
	var at int64
	var taken int
	if err := row.Scan(&r.ID, &r.StructureID, &r.Structure, &r.FirstName, &r.LastName, &r.Login, &r.Email, &r.Profession,
		&r.Status, &at, &r.AccountID, &taken); err != nil {
		return nil, err
	}
	r.Created, r.LoginTaken = time.Unix(at, 0), taken > 0 && r.Status != SignupAccepted
	return r, nil
}

func (s *Service) signupByID(ctx context.Context, q store.Querier, id int64) (*SignupRequest, error) {
	r, err := scanSignup(q.QueryRow(ctx, `SELECT `+signupCols+` FROM signup_requests r JOIN structures s ON s.id = r.structure_id
		WHERE r.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sign-up request %w", ErrNotFound)
	}
	return r, err
}

// SignupRequests lists the confirmed requests waiting for a decision in
// structure id, oldest first.
func (s *Service) SignupRequests(ctx context.Context, structureID int64) ([]*SignupRequest, error) {
	rows, err := s.st.Query(ctx, `SELECT `+signupCols+` FROM signup_requests r JOIN structures s ON s.id = r.structure_id
		WHERE r.structure_id = ? AND r.status = 'pending' ORDER BY r.id`, structureID)
	if err != nil {
		return nil, fmt.Errorf("sign-up requests: %w", err)
	}
	defer rows.Close()
	var out []*SignupRequest
	for rows.Next() {
		r, err := scanSignup(rows)
		if err != nil {
			return nil, fmt.Errorf("sign-up requests: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// decide loads pending request id of structure structureID inside tx.
func decideTx(ctx context.Context, s *Service, tx *store.Tx, structureID, id int64) (*SignupRequest, error) {
	r, err := s.signupByID(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	if r.StructureID != structureID || r.Status != SignupPending {
		return nil, fmt.Errorf("sign-up request %w", ErrNotFound)
	}
	return r, nil
}

// AcceptSignup creates the MED account of pending request id (of structure
// structureID), without password and with the personal address as its
// notification address, records it, and calls then inside the transaction
// (to queue the link that sets the password).
func (s *Service) AcceptSignup(ctx context.Context, by Actor, structureID, id int64,
	then func(tx *store.Tx, a *Account, r *SignupRequest) error) (*Account, error) {
	var accountID int64
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		r, err := decideTx(ctx, s, tx, structureID, id)
		if err != nil {
			return err
		}
		if r.LoginTaken {
			return AdminError{{"login", "taken"}}
		}
		n := NewAccount{Structure: r.Structure, Kind: MED, Login: r.Login, FirstName: r.FirstName, LastName: r.LastName, Notify: r.Email}
		if err := n.validate(); err != nil {
			return err
		}
		if accountID, err = createTx(ctx, tx, n); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET profession = ? WHERE id = ?`, r.Profession, accountID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE signup_requests SET status = 'accepted', decided_at = ?, decided_by = ?, account_id = ? WHERE id = ?`,
			time.Now().Unix(), by.ID, accountID, id); err != nil {
			return err
		}
		if err := RecordChangeTx(ctx, tx, by, structureID, r.Login, "signup_accept", "demande "+r.Email, "type=MED adresse="+r.Login); err != nil {
			return err
		}
		a, err := scanAccount(tx.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts a JOIN structures s ON s.id = a.structure_id WHERE a.id = ?`, accountID))
		if err != nil {
			return err
		}
		return then(tx, a, r)
	})
	if err != nil {
		return nil, fmt.Errorf("accept sign-up: %w", err)
	}
	return s.ByID(ctx, accountID)
}

// RefuseSignup refuses pending request id (of structure structureID),
// records it, and calls then inside the transaction (to tell the person).
func (s *Service) RefuseSignup(ctx context.Context, by Actor, structureID, id int64, then func(tx *store.Tx, r *SignupRequest) error) error {
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		r, err := decideTx(ctx, s, tx, structureID, id)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE signup_requests SET status = 'refused', decided_at = ?, decided_by = ? WHERE id = ?`,
			time.Now().Unix(), by.ID, id); err != nil {
			return err
		}
		if err := RecordChangeTx(ctx, tx, by, structureID, r.Login, "signup_refuse", "demande "+r.Email, "refusée"); err != nil {
			return err
		}
		return then(tx, r)
	})
	if err != nil {
		return fmt.Errorf("refuse sign-up: %w", err)
	}
	return nil
}

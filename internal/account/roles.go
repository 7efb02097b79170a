package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// Role is an administrative role (SPEC §1: « A structure administrator (per
// structure) and a platform operator can change what users cannot »).
type Role string

// The roles.
const (
	// RoleOperator administers the whole platform: structures and their
	// administrators, the outbound queue, the trust space, card joins,
	// and every structure's accounts.
	RoleOperator Role = "operator"
	// RoleStructureAdmin administers the accounts and boxes of one
	// structure.
	RoleStructureAdmin Role = "structure_admin"
)

// ErrForbidden is returned when an actor lacks the role for a change.
var ErrForbidden = errors.New("forbidden")

// Roles is what a person may administer.
type Roles struct {
	Operator bool
	// Structures are the ids of the structures the person administers
	// (as structure administrator; an operator administers every one).
	Structures []int64
}

// IsAdmin reports whether the person has any administrative role (the
// « Administration » link is shown).
func (r Roles) IsAdmin() bool { return r.Operator || len(r.Structures) > 0 }

// Administers reports whether the person may manage the accounts and boxes
// of structure id.
func (r Roles) Administers(structureID int64) bool {
	return r.Operator || slices.Contains(r.Structures, structureID)
}

// Manages reports whether the person may administer account a: an account
// or box of a structure it administers. Nobody administers itself through
// the console except an operator.
func (r Roles) Manages(a *Account) bool { return a != nil && r.Administers(a.StructureID) }

// RolesOf returns the roles of a person. A disabled account has none.
func (s *Service) RolesOf(ctx context.Context, accountID int64) (Roles, error) {
	var r Roles
	rows, err := s.st.Query(ctx, `SELECT r.role, r.structure_id FROM roles r JOIN accounts a ON a.id = r.account_id
		LEFT JOIN structures s ON s.id = r.structure_id
		WHERE r.account_id = ? AND a.disabled = 0 AND (r.role = 'operator' OR s.disabled = 0)`, accountID)
	if err != nil {
		return r, fmt.Errorf("roles of %d: %w", accountID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var role string
		var sid int64
		if err := rows.Scan(&role, &sid); err != nil {
			return r, fmt.Errorf("roles of %d: %w", accountID, err)
		}
		switch Role(role) {
		case RoleOperator:
			r.Operator = true
		case RoleStructureAdmin:
			r.Structures = append(r.Structures, sid)
		}
	}
	return r, rows.Err()
}

// Actor is who makes an administrative change, as recorded in the journal.
type Actor struct {
	// ID is the person's account id; 0 for the command line.
	ID    int64
	Login string
}

// CLI is the actor of the `hygie admin` commands.
var CLI = Actor{Login: "cli"}

// Change is one entry of the journal of administrative changes.
type Change struct {
	ID          int64
	At          time.Time
	ActorID     int64
	Actor       string
	StructureID int64
	Structure   string
	Target      string
	Action      string
	Before      string
	After       string
}

// RecordChangeTx writes an entry of the journal of administrative changes
// inside tx, so that the change and its record commit together.
func RecordChangeTx(ctx context.Context, tx *store.Tx, by Actor, structureID int64, target, action, before, after string) error {
	_, err := tx.Exec(ctx, `INSERT INTO admin_changes (at, actor_id, actor, structure_id, target, action, before_value, after_value)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, time.Now().Unix(), by.ID, by.Login, structureID, target, action, before, after)
	if err != nil {
		return fmt.Errorf("record change: %w", err)
	}
	return nil
}

// Changes lists the journal, newest first, at most limit entries: every
// entry when r is an operator's, otherwise those of r's structures.
func (s *Service) Changes(ctx context.Context, r Roles, limit int) ([]Change, error) {
	q := `SELECT c.id, c.at, c.actor_id, c.actor, c.structure_id, COALESCE(s.name, ''), c.target, c.action, c.before_value, c.after_value
		FROM admin_changes c LEFT JOIN structures s ON s.id = c.structure_id`
	var args []any
	if !r.Operator {
		if len(r.Structures) == 0 {
			return nil, nil
		}
		q += ` WHERE c.structure_id IN (?` + strings.Repeat(`, ?`, len(r.Structures)-1) + `)`
		for _, id := range r.Structures {
			args = append(args, id)
		}
	}
	q += ` ORDER BY c.id DESC LIMIT ?`
	args = append(args, limit)
	rows, err := s.st.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("changes: %w", err)
	}
	defer rows.Close()
	var out []Change
	for rows.Next() {
		var c Change
		var at int64
		if err := rows.Scan(&c.ID, &at, &c.ActorID, &c.Actor, &c.StructureID, &c.Structure, &c.Target, &c.Action, &c.Before, &c.After); err != nil {
			return nil, fmt.Errorf("changes: %w", err)
		}
		c.At = time.Unix(at, 0)
		out = append(out, c)
	}
	return out, rows.Err()
}

// person returns the enabled individual account with address login.
func (s *Service) person(ctx context.Context, login string) (*Account, error) {
	a, err := s.ByAddress(ctx, login)
	if err != nil {
		return nil, err
	}
	if a.IsBox() {
		return nil, fmt.Errorf("%w: %s is an organisational box, not a person", ErrInvalid, a.Login)
	}
	return a, nil
}

// SetOperator grants (on) or revokes the platform operator role of the
// person with address login.
func (s *Service) SetOperator(ctx context.Context, by Actor, login string, on bool) error {
	a, err := s.person(ctx, login)
	if err != nil {
		return err
	}
	return s.setRole(ctx, by, a, RoleOperator, 0, "", on)
}

// SetStructureAdmin grants (on) or revokes the administrator role of the
// person with address login over the structure named structure.
func (s *Service) SetStructureAdmin(ctx context.Context, by Actor, structure, login string, on bool) error {
	sid, err := structureID(ctx, s.st, structure)
	if err != nil {
		return err
	}
	a, err := s.person(ctx, login)
	if err != nil {
		return err
	}
	return s.setRole(ctx, by, a, RoleStructureAdmin, sid, strings.TrimSpace(structure), on)
}

func (s *Service) setRole(ctx context.Context, by Actor, a *Account, role Role, sid int64, structure string, on bool) error {
	what := "operator"
	if role == RoleStructureAdmin {
		what = "administrator of " + structure
	}
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM roles WHERE account_id = ? AND role = ? AND structure_id = ?`,
			a.ID, string(role), sid).Scan(&n); err != nil {
			return err
		}
		if on {
			if n > 0 {
				return fmt.Errorf("%s is %w %s", a.Login, ErrDuplicate, what)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO roles (account_id, role, structure_id, created_at) VALUES (?, ?, ?, ?)`,
				a.ID, string(role), sid, time.Now().Unix()); err != nil {
				return err
			}
			return RecordChangeTx(ctx, tx, by, sid, a.Login, "role_grant", "", string(role))
		}
		if n == 0 {
			return fmt.Errorf("%s is not %s: %w", a.Login, what, ErrNotFound)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM roles WHERE account_id = ? AND role = ? AND structure_id = ?`,
			a.ID, string(role), sid); err != nil {
			return err
		}
		return RecordChangeTx(ctx, tx, by, sid, a.Login, "role_revoke", string(role), "")
	})
	if err != nil {
		return fmt.Errorf("role %s: %w", role, err)
	}
	return nil
}

// StructureAdmins lists the administrators of structure id by login.
func (s *Service) StructureAdmins(ctx context.Context, structureID int64) ([]*Account, error) {
	return s.list(ctx, "structure admins", `SELECT `+accountCols+` FROM accounts a JOIN structures s ON s.id = a.structure_id
		JOIN roles r ON r.account_id = a.id WHERE r.role = 'structure_admin' AND r.structure_id = ? ORDER BY a.login`, structureID)
}

// Operators lists the platform operators by login.
func (s *Service) Operators(ctx context.Context) ([]*Account, error) {
	return s.list(ctx, "operators", `SELECT `+accountCols+` FROM accounts a JOIN structures s ON s.id = a.structure_id
		JOIN roles r ON r.account_id = a.id WHERE r.role = 'operator' ORDER BY a.login`)
}

// StructureByID returns a structure, disabled or not.
func (s *Service) StructureByID(ctx context.Context, id int64) (*Structure, error) {
	x := &Structure{ID: id}
	var disabled int
	var created int64
	err := s.st.QueryRow(ctx, `SELECT name, finess, disabled, created_at FROM structures WHERE id = ?`, id).
		Scan(&x.Name, &x.FINESS, &disabled, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("structure %d %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load structure: %w", err)
	}
	x.Disabled, x.Created = disabled != 0, time.Unix(created, 0)
	return x, nil
}

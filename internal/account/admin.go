package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/hygie-sante/hygie/internal/address"
	"github.com/hygie-sante/hygie/internal/store"
)

// AdminProblem names why an administrative change was refused, per field;
// the web shows it in French next to the field.
type AdminProblem struct {
	Field string
	// Code is one of: required, address, taken, digits, box_kind, mss_required.
	Code string
}

// AdminError lists the refused fields of one administrative change; it
// wraps ErrInvalid.
type AdminError []AdminProblem

func (e AdminError) Error() string {
	var b strings.Builder
	b.WriteString("refused:")
	for _, p := range e {
		fmt.Fprintf(&b, " %s (%s)", p.Field, p.Code)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e AdminError) Unwrap() error { return ErrInvalid }

// AdminFields are what only an administrator changes on an account or box
// (SPEC §1): account type, MSSanté address (needed by PER and INT), RPPS,
// FINESS, responsable du compte, description.
type AdminFields struct {
	Kind        Kind
	MSS         string
	RPPS        string
	FINESS      string
	Responsable string
	Description string
}

// AdminFieldsOf returns the administrator's fields of account id.
func (s *Service) AdminFieldsOf(ctx context.Context, id int64) (AdminFields, error) {
	var f AdminFields
	var kind string
	err := s.st.QueryRow(ctx, `SELECT kind, COALESCE(mss, ''), rpps, finess, responsable, description FROM accounts WHERE id = ?`, id).
		Scan(&kind, &f.MSS, &f.RPPS, &f.FINESS, &f.Responsable, &f.Description)
	if errors.Is(err, sql.ErrNoRows) {
		return f, fmt.Errorf("account %w", ErrNotFound)
	}
	if err != nil {
		return f, fmt.Errorf("admin fields: %w", err)
	}
	f.Kind = Kind(kind)
	return f, nil
}

func (f AdminFields) journal() map[string]string {
	return map[string]string{"type": string(f.Kind), "mss": f.MSS, "rpps": f.RPPS, "finess": f.FINESS,
		"responsable": f.Responsable, "description": f.Description}
}

// AdminUpdate changes the administrator's fields of account id and records
// each changed field in the journal. An organisational box stays a box and
// a person stays a person; a MED account has neither MSSanté address nor
// RPPS (both are cleared when the type becomes MED); PER and INT need an
// MSSanté address.
func (s *Service) AdminUpdate(ctx context.Context, by Actor, id int64, f AdminFields) error {
	f.MSS, f.RPPS, f.FINESS = strings.TrimSpace(f.MSS), strings.TrimSpace(f.RPPS), strings.TrimSpace(f.FINESS)
	f.Responsable, f.Description = strings.TrimSpace(f.Responsable), strings.TrimSpace(f.Description)
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		a, err := scanAccount(tx.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts a JOIN structures s ON s.id = a.structure_id WHERE a.id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("account %w", ErrNotFound)
		}
		if err != nil {
			return err
		}
		var old AdminFields
		if err := tx.QueryRow(ctx, `SELECT kind, COALESCE(mss, ''), rpps, finess, responsable, description FROM accounts WHERE id = ?`, id).
			Scan(&old.Kind, &old.MSS, &old.RPPS, &old.FINESS, &old.Responsable, &old.Description); err != nil {
			return err
		}
		var bad AdminError
		if (f.Kind == ORG) != a.IsBox() {
			bad = append(bad, AdminProblem{"kind", "box_kind"})
		}
		switch f.Kind {
		case MED:
			f.MSS, f.RPPS = "", ""
		case PER, INT, ORG:
			if f.MSS == "" {
				bad = append(bad, AdminProblem{"mss", "mss_required"})
			} else if n, err := address.Parse(f.MSS); err != nil {
				bad = append(bad, AdminProblem{"mss", "address"})
			} else {
				f.MSS = n
				var c int
				if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM accounts WHERE (login = ? OR mss = ?) AND id <> ?`, n, n, id).Scan(&c); err != nil {
					return err
				}
				if c > 0 {
					bad = append(bad, AdminProblem{"mss", "taken"})
				}
			}
		default:
			bad = append(bad, AdminProblem{"kind", "required"})
		}
		if checkDigits("RPPS", f.RPPS, 11) != nil {
			bad = append(bad, AdminProblem{"rpps", "digits"})
		}
		if checkDigits("FINESS", f.FINESS, 9) != nil {
			bad = append(bad, AdminProblem{"finess", "digits"})
		}
		if len(f.Responsable) > 200 {
			bad = append(bad, AdminProblem{"responsable", "too_long"})
		}
		if len(f.Description) > 1000 {
			bad = append(bad, AdminProblem{"description", "too_long"})
		}
		if len(bad) > 0 {
			return bad
		}
		var mss any
		if f.MSS != "" {
			mss = f.MSS
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET kind = ?, mss = ?, rpps = ?, finess = ?, responsable = ?, description = ? WHERE id = ?`,
			string(f.Kind), mss, f.RPPS, f.FINESS, f.Responsable, f.Description, id); err != nil {
			return err
		}
		before, after := old.journal(), f.journal()
		for _, k := range []string{"type", "mss", "rpps", "finess", "responsable", "description"} {
			if before[k] != after[k] {
				if err := RecordChangeTx(ctx, tx, by, a.StructureID, a.Login, k, before[k], after[k]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// AdminCreate creates an account or box as an administrator and records it.
func (s *Service) AdminCreate(ctx context.Context, by Actor, n NewAccount) (*Account, error) {
	if err := n.validate(); err != nil {
		return nil, err
	}
	var id int64
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if id, err = createTx(ctx, tx, n); err != nil {
			return err
		}
		sid, err := structureID(ctx, tx, n.Structure)
		if err != nil {
			return err
		}
		after := fmt.Sprintf("type=%s adresse=%s", n.Kind, n.Login)
		if n.MSS != "" {
			after += " mss=" + n.MSS
		}
		return RecordChangeTx(ctx, tx, by, sid, n.Login, "create", "", after)
	})
	if err != nil {
		return nil, fmt.Errorf("create account: %w", err)
	}
	return s.ByID(ctx, id)
}

// AdminSetDisabled disables or re-enables account or box id and records it.
// A disabled person can no longer log in (web sessions end at their next
// request, IMAP and device sessions at their next command).
func (s *Service) AdminSetDisabled(ctx context.Context, by Actor, id int64, disabled bool) error {
	a, err := s.ByID(ctx, id)
	if err != nil {
		return err
	}
	if a.Disabled == disabled {
		return nil
	}
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE accounts SET disabled = ? WHERE id = ?`, boolInt(disabled), id); err != nil {
			return err
		}
		before, after := "actif", "désactivé"
		if !disabled {
			before, after = after, before
		}
		return RecordChangeTx(ctx, tx, by, a.StructureID, a.Login, "disabled", before, after)
	})
}

// AdminAddMember makes the person with address login a login account of
// box id, and records it in the same transaction.
func (s *Service) AdminAddMember(ctx context.Context, by Actor, boxID int64, login string) error {
	b, err := s.ByID(ctx, boxID)
	if err != nil {
		return err
	}
	b, m, err := s.boxAndMember(ctx, b.Login, login)
	if err != nil {
		return err
	}
	return s.addMember(ctx, &by, b, m)
}

// AdminRemoveMember removes member id from box id (not the last one:
// ErrLastMember), and records it in the same transaction.
func (s *Service) AdminRemoveMember(ctx context.Context, by Actor, boxID, memberID int64) error {
	b, err := s.ByID(ctx, boxID)
	if err != nil {
		return err
	}
	m, err := s.ByID(ctx, memberID)
	if err != nil {
		return err
	}
	return s.removeMember(ctx, &by, b, m)
}

// AdminCreateStructure creates a structure (operators) and records it in
// the same transaction.
func (s *Service) AdminCreateStructure(ctx context.Context, by Actor, name, finess string) (*Structure, error) {
	return s.createStructure(ctx, &by, name, finess)
}

// AdminDisableStructure disables structure id with all its accounts and
// boxes (operators), and records it in the same transaction.
func (s *Service) AdminDisableStructure(ctx context.Context, by Actor, id int64) error {
	st, err := s.StructureByID(ctx, id)
	if err != nil {
		return err
	}
	return s.disableStructure(ctx, &by, st.Name)
}

// ListByStructure lists the accounts and boxes of structure id by login.
func (s *Service) ListByStructure(ctx context.Context, id int64) ([]*Account, error) {
	return s.list(ctx, "list accounts", `SELECT `+accountCols+` FROM accounts a JOIN structures s ON s.id = a.structure_id
		WHERE a.structure_id = ? ORDER BY a.login`, id)
}

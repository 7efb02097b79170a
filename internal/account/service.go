package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/address"
	"github.com/hygie-sante/hygie/internal/auth"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
)

// Service manages structures, accounts and boxes in the store.
type Service struct {
	st *store.Store
}

// NewService returns a Service over st.
func NewService(st *store.Store) *Service { return &Service{st: st} }

const accountCols = `a.id, a.structure_id, s.name, a.kind, a.login, COALESCE(a.mss, ''), a.first_name, a.last_name,
	a.label, a.rpps, a.finess, a.notify, a.password_hash, a.disabled, a.created_at`

func scanAccount(row interface{ Scan(...any) error }) (*Account, error) {
	a := &Account{}
	var disabled int
	var created int64
	var kind string
	err := row.Scan(&a.ID, &a.StructureID, &a.Structure, &kind, &a.Login, &a.MSS, &a.FirstName, &a.LastName,
		&a.Label, &a.RPPS, &a.FINESS, &a.Notify, &a.passwordHash, &disabled, &created)
	if err != nil {
		return nil, err
	}
	a.Kind, a.Disabled, a.Created = Kind(kind), disabled != 0, time.Unix(created, 0)
	return a, nil
}

// CreateStructure adds a structure; its name is unique.
func (s *Service) CreateStructure(ctx context.Context, name, finess string) (*Structure, error) {
	return s.createStructure(ctx, nil, name, finess)
}

// createStructure adds a structure, recorded in the journal of
// administrative changes in the same transaction when by is not nil.
func (s *Service) createStructure(ctx context.Context, by *Actor, name, finess string) (*Structure, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return nil, fmt.Errorf("%w: structure name is empty", ErrInvalid)
	}
	if err := checkDigits("FINESS", finess, 9); err != nil {
		return nil, err
	}
	st := &Structure{Name: name, FINESS: finess, Created: time.Now()}
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM structures WHERE name = ?`, name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("structure %q %w", name, ErrDuplicate)
		}
		id, err := tx.InsertID(ctx, `INSERT INTO structures (name, finess, created_at) VALUES (?, ?, ?)`, name, finess, st.Created.Unix())
		st.ID = id
		if err != nil || by == nil {
			return err
		}
		return RecordChangeTx(ctx, tx, *by, st.ID, st.Name, "structure_create", "", "finess="+finess)
	})
	if err != nil {
		return nil, fmt.Errorf("create structure: %w", err)
	}
	return st, nil
}

// Structures lists every structure by name.
func (s *Service) Structures(ctx context.Context) ([]Structure, error) {
	rows, err := s.st.Query(ctx, `SELECT id, name, finess, disabled, created_at FROM structures ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list structures: %w", err)
	}
	defer rows.Close()
	var out []Structure
	for rows.Next() {
		var x Structure
		var disabled int
		var created int64
		if err := rows.Scan(&x.ID, &x.Name, &x.FINESS, &disabled, &created); err != nil {
			return nil, err
		}
		x.Disabled, x.Created = disabled != 0, time.Unix(created, 0)
		out = append(out, x)
	}
	return out, rows.Err()
}

// DisableStructure disables a structure and every account and box in it.
func (s *Service) DisableStructure(ctx context.Context, name string) error {
	return s.disableStructure(ctx, nil, name)
}

// disableStructure disables a structure and its accounts, recorded in the
// journal of administrative changes in the same transaction when by is not
// nil.
func (s *Service) disableStructure(ctx context.Context, by *Actor, name string) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		id, err := structureID(ctx, tx, name)
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE structures SET disabled = 1 WHERE id = ?`, id); err != nil {
			return err
		}
		if _, err = tx.Exec(ctx, `UPDATE accounts SET disabled = 1 WHERE structure_id = ?`, id); err != nil || by == nil {
			return err
		}
		return RecordChangeTx(ctx, tx, *by, id, strings.TrimSpace(name), "structure_disable", "actif", "désactivé")
	})
}

func structureID(ctx context.Context, q store.Querier, name string) (int64, error) {
	var id int64
	var disabled int
	err := q.QueryRow(ctx, `SELECT id, disabled FROM structures WHERE name = ?`, strings.TrimSpace(name)).Scan(&id, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("structure %q %w", name, ErrNotFound)
	}
	if err == nil && disabled != 0 {
		return 0, fmt.Errorf("structure %q is %w", name, ErrDisabled)
	}
	return id, err
}

// NewAccount describes an account or box to create.
type NewAccount struct {
	Structure string
	Kind      Kind
	Login     string
	MSS       string
	FirstName string
	LastName  string
	Label     string
	RPPS      string
	FINESS    string
	Notify    string
}

// validate normalises the addresses and checks the rules of SPEC §1.
func (n *NewAccount) validate() error {
	var err error
	if n.Login, err = address.Parse(n.Login); err != nil {
		return fmt.Errorf("%w: address: %v", ErrInvalid, err)
	}
	if n.MSS != "" {
		if n.MSS, err = address.Parse(n.MSS); err != nil {
			return fmt.Errorf("%w: MSSanté address: %v", ErrInvalid, err)
		}
	}
	if n.Notify != "" {
		if n.Notify, err = address.Parse(n.Notify); err != nil {
			return fmt.Errorf("%w: notification address: %v", ErrInvalid, err)
		}
	}
	switch n.Kind {
	case MED:
		if n.MSS != "" {
			return fmt.Errorf("%w: a MED account has no MSSanté address", ErrInvalid)
		}
		if n.RPPS != "" {
			return fmt.Errorf("%w: a MED account is for professionals without RPPS; use PER", ErrInvalid)
		}
	case PER, INT, ORG:
	default:
		return fmt.Errorf("%w: unknown account type %q", ErrInvalid, n.Kind)
	}
	if n.Kind == ORG {
		if strings.TrimSpace(n.Label) == "" {
			return fmt.Errorf("%w: a box needs a name", ErrInvalid)
		}
		if n.MSS == "" {
			return fmt.Errorf("%w: a box needs an MSSanté address", ErrInvalid)
		}
	} else if strings.TrimSpace(n.FirstName) == "" || strings.TrimSpace(n.LastName) == "" {
		return fmt.Errorf("%w: first and last names are required", ErrInvalid)
	}
	if err := checkDigits("RPPS", n.RPPS, 11); err != nil {
		return err
	}
	return checkDigits("FINESS", n.FINESS, 9)
}

// checkDigits accepts an empty value or exactly n digits (RPPS: 11, FINESS: 9).
func checkDigits(what, v string, n int) error {
	if v == "" {
		return nil
	}
	if len(v) != n || strings.Trim(v, "0123456789") != "" {
		return fmt.Errorf("%w: %s must be %d digits, got %q", ErrInvalid, what, n, v)
	}
	return nil
}

// Create adds an account or a box with its standard folders.
func (s *Service) Create(ctx context.Context, n NewAccount) (*Account, error) {
	if err := n.validate(); err != nil {
		return nil, err
	}
	var id int64
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		id, err = createTx(ctx, tx, n)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create account: %w", err)
	}
	return s.ByID(ctx, id)
}

// createTx inserts a validated account and its standard folders in tx.
func createTx(ctx context.Context, tx *store.Tx, n NewAccount) (int64, error) {
	sid, err := structureID(ctx, tx, n.Structure)
	if err != nil {
		return 0, err
	}
	for _, a := range []string{n.Login, n.MSS} {
		if a == "" {
			continue
		}
		var c int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM accounts WHERE login = ? OR mss = ?`, a, a).Scan(&c); err != nil {
			return 0, err
		}
		if c > 0 {
			return 0, fmt.Errorf("address %s %w", a, ErrDuplicate)
		}
	}
	var mss any
	if n.MSS != "" {
		mss = n.MSS
	}
	id, err := tx.InsertID(ctx, `INSERT INTO accounts (structure_id, kind, login, mss, first_name, last_name, label, rpps, finess, notify, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		sid, string(n.Kind), n.Login, mss, strings.TrimSpace(n.FirstName), strings.TrimSpace(n.LastName),
		strings.TrimSpace(n.Label), n.RPPS, n.FINESS, n.Notify, time.Now().Unix())
	if err != nil {
		return 0, err
	}
	return id, mailbox.CreateDefaults(ctx, tx, id)
}

// ByID returns an account or box by id.
func (s *Service) ByID(ctx context.Context, id int64) (*Account, error) {
	return s.one(ctx, `a.id = ?`, id)
}

// ByAddress returns the account or box owning addr (login or MSSanté
// address), disabled or not.
func (s *Service) ByAddress(ctx context.Context, addr string) (*Account, error) {
	norm, err := address.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return s.one(ctx, `(a.login = ? OR a.mss = ?)`, norm, norm)
}

func (s *Service) one(ctx context.Context, where string, args ...any) (*Account, error) {
	a, err := scanAccount(s.st.QueryRow(ctx, `SELECT `+accountCols+` FROM accounts a JOIN structures s ON s.id = a.structure_id WHERE `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("account %w", ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("load account: %w", err)
	}
	return a, nil
}

// List lists accounts and boxes, optionally of one structure, by login.
func (s *Service) List(ctx context.Context, structure string) ([]*Account, error) {
	q := `SELECT ` + accountCols + ` FROM accounts a JOIN structures s ON s.id = a.structure_id`
	var args []any
	if structure != "" {
		q += ` WHERE s.name = ?`
		args = append(args, structure)
	}
	return s.list(ctx, "list accounts", q+` ORDER BY a.login`, args...)
}

// list runs a query selecting accountCols and scans every row.
func (s *Service) list(ctx context.Context, what, q string, args ...any) ([]*Account, error) {
	rows, err := s.st.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []*Account
	for rows.Next() {
		a, err := scanAccount(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SetDisabled disables or re-enables an account or box.
func (s *Service) SetDisabled(ctx context.Context, login string, disabled bool) error {
	a, err := s.ByAddress(ctx, login)
	if err != nil {
		return err
	}
	v := 0
	if disabled {
		v = 1
	}
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `UPDATE accounts SET disabled = ? WHERE id = ?`, v, a.ID)
		return err
	})
}

// SetPassword replaces the password of an individual account.
func (s *Service) SetPassword(ctx context.Context, login, password string) error {
	return s.setPassword(ctx, nil, login, password)
}

// Authenticate checks a login and password and returns the account. Every
// failure is ErrBadLogin (wrapped) so that callers reveal nothing more.
//
// The password of IMAP and SMTP submission may also be the credential of
// a paired device of the account (see AuthenticatePassword for the password
// alone).
func (s *Service) Authenticate(ctx context.Context, login, password string) (*Account, error) {
	return s.authenticate(ctx, login, password, true)
}

func (s *Service) authenticate(ctx context.Context, login, password string, devices bool) (*Account, error) {
	a, err := s.ByAddress(ctx, login)
	if err != nil {
		// Spend the same time as a real check, to not reveal which
		// addresses exist.
		auth.VerifyPassword(dummyHash, password)
		return nil, fmt.Errorf("%w: unknown address", ErrBadLogin)
	}
	// A paired device's credential stands for the password (SPEC §2,
	// Appareils mobiles): checked first, as it is cheap and recognisable.
	if !devices || !s.deviceCredential(ctx, a, password) {
		if err := auth.VerifyPassword(a.passwordHash, password); err != nil {
			return nil, fmt.Errorf("%w: wrong password", ErrBadLogin)
		}
	}
	if a.IsBox() || a.Disabled {
		return nil, fmt.Errorf("%w: account cannot log in", ErrBadLogin)
	}
	return a, nil
}

var dummyHash, _ = auth.HashPassword("dummy-password-for-timing")

// LoginKey names whom a login attempt is for, for the failed-login
// throttles: "account:<id>" when login names an account (its login or its
// MSS address, in any case or spacing), else the normalised address, else
// the trimmed, lower-cased text. No variant of an address, nor the other
// address of the same account, gets a count of its own.
func (s *Service) LoginKey(ctx context.Context, login string) string {
	norm, err := address.Parse(login)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(login))
	}
	var id int64
	if err := s.st.QueryRow(ctx, `SELECT id FROM accounts WHERE login = ? OR mss = ?`, norm, norm).Scan(&id); err == nil {
		return "account:" + strconv.FormatInt(id, 10)
	}
	return norm
}

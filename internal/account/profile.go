package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/hygie-sante/hygie/internal/store"
)

// Profile is what « Informations personnelles » and « Dématérialisation »
// show and edit (SPEC §2.1 and §2.7). What is entered here appears on the
// account's contact card in the directory.
type Profile struct {
	// A. personal data (a box has no first or last name: its label is
	// changed by an administrator).
	FirstName     string
	LastName      string
	Phone         string
	PostalAddress string
	// B. activity.
	RaisonSociale string
	Profession    string
	Specialite    string
	// C. directory visibility: of the login (platform) address in the
	// platform directory, of the MSSanté address in the national one
	// (annuaire santé).
	VisibleLogin bool
	VisibleMSS   bool
	// Dematerialisation: « accepte la dématérialisation totale des
	// échanges », published with the directory entry.
	Dematerialisation bool
}

// Profile returns the self-service settings of account or box id.
func (s *Service) Profile(ctx context.Context, id int64) (*Profile, error) {
	p := &Profile{}
	var visLogin, visMSS, demat int
	err := s.st.QueryRow(ctx, `SELECT first_name, last_name, phone, postal_address, raison_sociale, profession, specialite,
		visible_login, visible_mss, dematerialisation FROM accounts WHERE id = ?`, id).
		Scan(&p.FirstName, &p.LastName, &p.Phone, &p.PostalAddress, &p.RaisonSociale, &p.Profession, &p.Specialite,
			&visLogin, &visMSS, &demat)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("profile of account %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("profile of account %d: %w", id, err)
	}
	p.VisibleLogin, p.VisibleMSS, p.Dematerialisation = visLogin != 0, visMSS != 0, demat != 0
	return p, nil
}

// Problem is why a form field was refused; the web maps it to a message.
type Problem int

// The problems of a field.
const (
	// ProblemRequired: the field is empty but mandatory.
	ProblemRequired Problem = iota + 1
	// ProblemTooLong: more than Max characters.
	ProblemTooLong
	// ProblemPhone: not a telephone number (digits, spaces, a leading +).
	ProblemPhone
	// ProblemControl: control characters (or line breaks where none fit).
	ProblemControl
)

// FieldError is one refused field of a form.
type FieldError struct {
	// Field is the field's name (first_name, last_name, phone,
	// postal_address, raison_sociale, profession, specialite).
	Field   string
	Problem Problem
	// Max is the length limit, for ProblemTooLong.
	Max int
}

// InvalidFields lists every refused field of one save; it wraps ErrInvalid.
type InvalidFields []FieldError

// Error lists the refused fields (for logs; the web shows French messages).
func (e InvalidFields) Error() string {
	var b strings.Builder
	b.WriteString("invalid fields:")
	for _, f := range e {
		fmt.Fprintf(&b, " %s (problem %d)", f.Field, f.Problem)
	}
	return b.String()
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e InvalidFields) Unwrap() error { return ErrInvalid }

// Field length limits, in characters.
const (
	MaxNameLen          = 100
	MaxPhoneDigits      = 15 // E.164 numbers have at most 15 digits
	MaxPostalAddressLen = 300
	MaxRaisonSocialeLen = 200
	MaxProfessionLen    = 100
	MaxSpecialiteLen    = 100
)

// fieldChecker accumulates the problems of a form.
type fieldChecker struct{ errs InvalidFields }

// text trims v, and checks that it is present when required, at most max
// characters, and free of control characters (line breaks allowed only
// when multiline). It returns the cleaned value.
func (c *fieldChecker) text(field, v string, required bool, max int, multiline bool) string {
	v = strings.TrimSpace(strings.ReplaceAll(v, "\r\n", "\n"))
	switch {
	case v == "" && required:
		c.errs = append(c.errs, FieldError{Field: field, Problem: ProblemRequired})
	case !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool {
		return unicode.IsControl(r) && !(multiline && r == '\n') && r != '\t'
	}):
		c.errs = append(c.errs, FieldError{Field: field, Problem: ProblemControl})
	case utf8.RuneCountInString(v) > max:
		c.errs = append(c.errs, FieldError{Field: field, Problem: ProblemTooLong, Max: max})
	}
	return v
}

// phone accepts an empty value, or digits and spaces with an optional
// leading « + », between 4 and MaxPhoneDigits digits. Spaces are
// normalised to single ones.
func (c *fieldChecker) phone(field, v string) string {
	v = strings.Join(strings.Fields(v), " ")
	if v == "" {
		return ""
	}
	digits := 0
	for i, r := range v {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == ' ':
		case r == '+' && i == 0:
		default:
			c.errs = append(c.errs, FieldError{Field: field, Problem: ProblemPhone})
			return v
		}
	}
	if digits < 4 || digits > MaxPhoneDigits {
		c.errs = append(c.errs, FieldError{Field: field, Problem: ProblemPhone})
	}
	return v
}

func (c *fieldChecker) err() error {
	if len(c.errs) == 0 {
		return nil
	}
	return c.errs
}

// PersonalData is part A of « Informations personnelles ».
type PersonalData struct {
	FirstName, LastName, Phone, PostalAddress string
}

// UpdatePersonalData saves part A for account id: nom, prénom (mandatory
// for a person; a box has none), téléphone, adresse postale. Refused fields
// are reported as InvalidFields and nothing is saved.
func (s *Service) UpdatePersonalData(ctx context.Context, id int64, p PersonalData) error {
	a, err := s.ByID(ctx, id)
	if err != nil {
		return err
	}
	var c fieldChecker
	if !a.IsBox() {
		p.LastName = c.text("last_name", p.LastName, true, MaxNameLen, false)
		p.FirstName = c.text("first_name", p.FirstName, true, MaxNameLen, false)
	}
	p.Phone = c.phone("phone", p.Phone)
	p.PostalAddress = c.text("postal_address", p.PostalAddress, false, MaxPostalAddressLen, true)
	if err := c.err(); err != nil {
		return err
	}
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if a.IsBox() {
			_, err = tx.Exec(ctx, `UPDATE accounts SET phone = ?, postal_address = ? WHERE id = ?`, p.Phone, p.PostalAddress, id)
		} else {
			_, err = tx.Exec(ctx, `UPDATE accounts SET first_name = ?, last_name = ?, phone = ?, postal_address = ? WHERE id = ?`,
				p.FirstName, p.LastName, p.Phone, p.PostalAddress, id)
		}
		if err != nil {
			return fmt.Errorf("update personal data of account %d: %w", id, err)
		}
		return nil
	})
}

// Activity is part B of « Informations personnelles ».
type Activity struct {
	RaisonSociale, Profession, Specialite string
}

// UpdateActivity saves part B for account id: raison sociale, profession,
// spécialité (all optional). The account type is not changed here: only an
// administrator changes it (SPEC §1).
func (s *Service) UpdateActivity(ctx context.Context, id int64, act Activity) error {
	var c fieldChecker
	act.RaisonSociale = c.text("raison_sociale", act.RaisonSociale, false, MaxRaisonSocialeLen, false)
	act.Profession = c.text("profession", act.Profession, false, MaxProfessionLen, false)
	act.Specialite = c.text("specialite", act.Specialite, false, MaxSpecialiteLen, false)
	if err := c.err(); err != nil {
		return err
	}
	return s.update(ctx, id, "update activity", `UPDATE accounts SET raison_sociale = ?, profession = ?, specialite = ? WHERE id = ?`,
		act.RaisonSociale, act.Profession, act.Specialite, id)
}

// SetVisibility saves part C for account id: whether the login address is
// visible in the platform directory, and the MSSanté address in the
// national one. An account without an MSSanté address (MED) keeps its
// visible_mss as it was. A hidden address disappears from SearchVisible at
// once.
func (s *Service) SetVisibility(ctx context.Context, id int64, login, mss bool) error {
	a, err := s.ByID(ctx, id)
	if err != nil {
		return err
	}
	if a.MSS == "" {
		return s.update(ctx, id, "update visibility", `UPDATE accounts SET visible_login = ? WHERE id = ?`, boolInt(login), id)
	}
	return s.update(ctx, id, "update visibility", `UPDATE accounts SET visible_login = ?, visible_mss = ? WHERE id = ?`,
		boolInt(login), boolInt(mss), id)
}

// SetDematerialisation records whether account id « accepte la
// dématérialisation totale des échanges » (SPEC §2.7), published with its
// directory entry.
func (s *Service) SetDematerialisation(ctx context.Context, id int64, on bool) error {
	return s.update(ctx, id, "update dematerialisation", `UPDATE accounts SET dematerialisation = ? WHERE id = ?`, boolInt(on), id)
}

// update runs one UPDATE of a single account row, reporting ErrNotFound
// when the row does not exist.
func (s *Service) update(ctx context.Context, id int64, what, q string, args ...any) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("%s of account %d: %w", what, id, err)
		}
		if n, err := res.RowsAffected(); err == nil && n == 0 {
			return fmt.Errorf("%s of account %d: %w", what, id, ErrNotFound)
		}
		return nil
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

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
	"github.com/hygie-sante/hygie/internal/store"
)

// Login modes (SPEC §2, Identifiants de connexion B): an OpenID Connect
// identity — « Carte CPS / e-CPS » (Pro Santé Connect, subject =
// SubjectNameID) or « PASS » (regional SSO) — associated with an individual
// account. The password counts as a login mode too; the last remaining one
// cannot be removed. Joining with a card (SPEC §4) creates a PER account
// from the Pro Santé Connect claims, or a request for the platform
// operators when no structure matches.

// Login mode providers.
const (
	ModeCPS  = "cps"
	ModePASS = "pass"
)

// ErrLastLoginMode is returned when removing a login mode would leave the
// account with no way to log in.
var ErrLastLoginMode = errors.New("last remaining login mode")

// LoginMode is an OpenID Connect identity associated with an account.
type LoginMode struct {
	Provider string
	Subject  string
	Created  time.Time
}

// LoginModes lists the modes associated with account id, by provider.
func (s *Service) LoginModes(ctx context.Context, accountID int64) ([]LoginMode, error) {
	rows, err := s.st.Query(ctx, `SELECT provider, subject, created_at FROM login_modes WHERE account_id = ? ORDER BY provider, subject`, accountID)
	if err != nil {
		return nil, fmt.Errorf("login modes of %d: %w", accountID, err)
	}
	defer rows.Close()
	var out []LoginMode
	for rows.Next() {
		var m LoginMode
		var at int64
		if err := rows.Scan(&m.Provider, &m.Subject, &at); err != nil {
			return nil, fmt.Errorf("login modes of %d: %w", accountID, err)
		}
		m.Created = time.Unix(at, 0)
		out = append(out, m)
	}
	return out, rows.Err()
}

// HasPassword reports whether the account has a password (an account
// created by joining with a card has none until the person defines one).
func (a *Account) HasPassword() bool { return a.passwordHash != "" }

// ByLoginMode returns the account associated with provider's subject, or
// ErrNotFound. Disabled accounts are returned; callers refuse them.
func (s *Service) ByLoginMode(ctx context.Context, provider, subject string) (*Account, error) {
	if subject == "" {
		return nil, fmt.Errorf("account %w: empty subject", ErrNotFound)
	}
	return s.one(ctx, `a.id = (SELECT account_id FROM login_modes WHERE provider = ? AND subject = ?)`, provider, subject)
}

// ByNationalID returns the enabled PER or INT account whose RPPS equals the
// national identifier nid (Pro Santé Connect's SubjectNameID: the RPPS, or
// the RPPS prefixed by its type digit 8), or ErrNotFound.
func (s *Service) ByNationalID(ctx context.Context, nid string) (*Account, error) {
	rpps := RPPSFromNationalID(nid)
	if nid == "" {
		return nil, fmt.Errorf("account %w: empty national identifier", ErrNotFound)
	}
	if rpps == "" {
		rpps = nid
	}
	return s.one(ctx, `a.kind IN ('PER', 'INT') AND a.disabled = 0 AND a.rpps <> '' AND (a.rpps = ? OR a.rpps = ?)
		ORDER BY a.id LIMIT 1`, nid, rpps)
}

// RPPSFromNationalID returns the 11-digit RPPS number carried by a national
// identifier: itself when it has 11 digits, without its type digit when it
// is 8 followed by 11 digits; "" otherwise (ADELI and others).
func RPPSFromNationalID(nid string) string {
	if strings.Trim(nid, "0123456789") != "" {
		return ""
	}
	switch {
	case len(nid) == 11:
		return nid
	case len(nid) == 12 && nid[0] == '8':
		return nid[1:]
	}
	return ""
}

// Associate associates provider's subject with individual account id. It is
// idempotent; the subject already associated with another account, or the
// account already having another identity of that provider, is
// ErrDuplicate.
func (s *Service) Associate(ctx context.Context, accountID int64, provider, subject string) error {
	if provider != ModeCPS && provider != ModePASS {
		return fmt.Errorf("%w: unknown login mode %q", ErrInvalid, provider)
	}
	if subject == "" {
		return fmt.Errorf("%w: empty subject", ErrInvalid)
	}
	a, err := s.ByID(ctx, accountID)
	if err != nil {
		return err
	}
	if a.IsBox() {
		return fmt.Errorf("%w: an organisational box never logs in itself", ErrInvalid)
	}
	err = s.st.Tx(ctx, func(tx *store.Tx) error {
		return associateTx(ctx, tx, accountID, provider, subject)
	})
	if err != nil {
		return fmt.Errorf("associate %s login mode with %d: %w", provider, accountID, err)
	}
	return nil
}

func associateTx(ctx context.Context, tx *store.Tx, accountID int64, provider, subject string) error {
	var owner int64
	err := tx.QueryRow(ctx, `SELECT account_id FROM login_modes WHERE provider = ? AND subject = ?`, provider, subject).Scan(&owner)
	switch {
	case err == nil && owner == accountID:
		return nil
	case err == nil:
		return fmt.Errorf("identity %w on another account", ErrDuplicate)
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	var n int
	if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM login_modes WHERE account_id = ? AND provider = ?`, accountID, provider).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("account already has a %s identity: %w", provider, ErrDuplicate)
	}
	_, err = tx.Exec(ctx, `INSERT INTO login_modes (account_id, provider, subject, created_at) VALUES (?, ?, ?, ?)`,
		accountID, provider, subject, time.Now().Unix())
	return err
}

// Dissociate removes provider's login mode from account id. The password
// counts as a login mode: removing the last remaining one is
// ErrLastLoginMode; a mode the account does not have is ErrNotFound.
func (s *Service) Dissociate(ctx context.Context, accountID int64, provider string) error {
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		// Lock the account row so that two concurrent removals cannot
		// both see another mode left.
		if _, err := tx.Exec(ctx, `UPDATE accounts SET id = id WHERE id = ?`, accountID); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM login_modes WHERE account_id = ? AND provider = ?`, accountID, provider)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return fmt.Errorf("login mode %s %w", provider, ErrNotFound)
		}
		var left int
		if err := tx.QueryRow(ctx, `SELECT (SELECT COUNT(*) FROM login_modes WHERE account_id = ?) +
			(SELECT COUNT(*) FROM accounts WHERE id = ? AND password_hash <> '')`, accountID, accountID).Scan(&left); err != nil {
			return err
		}
		if left == 0 {
			return ErrLastLoginMode
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("dissociate %s from %d: %w", provider, accountID, err)
	}
	return nil
}

// CardJoin is what Pro Santé Connect says about a health professional who
// has no account yet (SPEC §4, joining).
type CardJoin struct {
	Provider string
	Subject  string
	// NationalID is SubjectNameID (RPPS, possibly prefixed by 8).
	NationalID string
	FirstName  string
	LastName   string
	// Profession is a label (« Médecin »), from SubjectRefPro.
	Profession string
	// Email is the notification address proposed (the e-mail claim).
	Email string
	// FINESS lists the activities' FINESS numbers (site, then legal
	// entity); SIRET their SIRET numbers; RaisonSociale the first site's
	// name.
	FINESS        []string
	SIRET         []string
	RaisonSociale string
	// Claims is the raw claims, kept with a pending request.
	Claims string
}

// JoinPolicy derives the addresses of an account created by a card join.
type JoinPolicy struct {
	// Domain is the platform's first mail domain ({domain}).
	Domain string
	// MSSPattern derives the MSSanté address from {first}, {last} and
	// {domain}; default "{first}.{last}@medecin.{domain}".
	MSSPattern string
	// LoginPattern derives the platform address; default
	// "{first}.{last}@{domain}".
	LoginPattern string
}

// JoinResult is the outcome of a card join: an account created in the
// matching structure, or a request waiting for the platform operators.
type JoinResult struct {
	Account *Account
	// Request is the pending join request's id when no structure matched.
	Request int64
	// Already is true when the request had already been transmitted.
	Already bool
}

// JoinWithCard creates a PER account (no password; the card is its login
// mode) in the structure whose FINESS matches one of j.FINESS, with
// addresses derived by p and made unique (suffix 2, 3 …); when no structure
// matches, it records a pending join request for the platform operators
// (once per identity).
func (s *Service) JoinWithCard(ctx context.Context, j CardJoin, p JoinPolicy) (*JoinResult, error) {
	j.FirstName, j.LastName = strings.TrimSpace(j.FirstName), strings.TrimSpace(j.LastName)
	if j.Subject == "" || j.FirstName == "" || j.LastName == "" {
		return nil, fmt.Errorf("%w: card join needs a subject and names", ErrInvalid)
	}
	if j.Email != "" {
		if e, err := address.Parse(j.Email); err == nil {
			j.Email = e
		} else {
			j.Email = ""
		}
	}
	res := &JoinResult{}
	var id int64
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM login_modes WHERE provider = ? AND subject = ?`, j.Provider, j.Subject).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("identity %w", ErrDuplicate)
		}
		structure, err := structureByFINESS(ctx, tx, j.FINESS)
		if err != nil {
			return err
		}
		if structure == "" {
			return joinRequestTx(ctx, tx, j, res)
		}
		na := NewAccount{Structure: structure, Kind: PER, FirstName: j.FirstName, LastName: j.LastName,
			RPPS: RPPSFromNationalID(j.NationalID), Notify: j.Email}
		for i := 1; ; i++ {
			if i > 99 {
				return fmt.Errorf("%w: no free address for %s %s", ErrDuplicate, j.FirstName, j.LastName)
			}
			na.Login, na.MSS, err = p.addresses(j.FirstName, j.LastName, i)
			if err != nil {
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
		if id, err = createTx(ctx, tx, na); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE accounts SET profession = ?, raison_sociale = ? WHERE id = ?`,
			j.Profession, j.RaisonSociale, id); err != nil {
			return err
		}
		return associateTx(ctx, tx, id, j.Provider, j.Subject)
	})
	if err != nil {
		return nil, fmt.Errorf("join with card: %w", err)
	}
	if id != 0 {
		if res.Account, err = s.ByID(ctx, id); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// structureByFINESS returns the name of the enabled structure whose FINESS
// is the first of finess to match one, or "".
func structureByFINESS(ctx context.Context, tx *store.Tx, finess []string) (string, error) {
	for _, f := range finess {
		if f == "" {
			continue
		}
		var name string
		err := tx.QueryRow(ctx, `SELECT name FROM structures WHERE finess = ? AND disabled = 0 ORDER BY id LIMIT 1`, f).Scan(&name)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return "", err
		}
	}
	return "", nil
}

func joinRequestTx(ctx context.Context, tx *store.Tx, j CardJoin, res *JoinResult) error {
	err := tx.QueryRow(ctx, `SELECT id FROM join_requests WHERE provider = ? AND subject = ? AND status = 'pending'`,
		j.Provider, j.Subject).Scan(&res.Request)
	if err == nil {
		res.Already = true
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	first := func(v []string) string {
		for _, x := range v {
			if x != "" {
				return x
			}
		}
		return ""
	}
	res.Request, err = tx.InsertID(ctx, `INSERT INTO join_requests (provider, subject, rpps, first_name, last_name, profession, email,
		finess, siret, raison_sociale, claims, status, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?)`,
		j.Provider, j.Subject, RPPSFromNationalID(j.NationalID), j.FirstName, j.LastName, j.Profession, j.Email,
		first(j.FINESS), first(j.SIRET), j.RaisonSociale, j.Claims, time.Now().Unix())
	return err
}

// JoinRequest is a card join waiting for the platform operators.
type JoinRequest struct {
	ID                  int64
	Provider, Subject   string
	RPPS                string
	FirstName, LastName string
	Profession, Email   string
	FINESS, SIRET       string
	RaisonSociale       string
	Status              string
	Created             time.Time
}

// JoinRequests lists the join requests with status ("pending", "accepted",
// "refused"; "" for all), oldest first.
func (s *Service) JoinRequests(ctx context.Context, status string) ([]JoinRequest, error) {
	q := `SELECT id, provider, subject, rpps, first_name, last_name, profession, email, finess, siret, raison_sociale, status, created_at
		FROM join_requests`
	var args []any
	if status != "" {
		q += ` WHERE status = ?`
		args = append(args, status)
	}
	rows, err := s.st.Query(ctx, q+` ORDER BY id`, args...)
	if err != nil {
		return nil, fmt.Errorf("join requests: %w", err)
	}
	defer rows.Close()
	var out []JoinRequest
	for rows.Next() {
		var r JoinRequest
		var at int64
		if err := rows.Scan(&r.ID, &r.Provider, &r.Subject, &r.RPPS, &r.FirstName, &r.LastName, &r.Profession, &r.Email,
			&r.FINESS, &r.SIRET, &r.RaisonSociale, &r.Status, &at); err != nil {
			return nil, fmt.Errorf("join requests: %w", err)
		}
		r.Created = time.Unix(at, 0)
		out = append(out, r)
	}
	return out, rows.Err()
}

// addresses derives the login and MSSanté addresses for the i-th try
// (i ≥ 2 appends i to the local parts).
func (p JoinPolicy) addresses(first, last string, i int) (login, mss string, err error) {
	mp, lp := p.MSSPattern, p.LoginPattern
	if mp == "" {
		mp = "{first}.{last}@medecin.{domain}"
	}
	if lp == "" {
		lp = "{first}.{last}@{domain}"
	}
	suffix := ""
	if i > 1 {
		suffix = strconv.Itoa(i)
	}
	derive := func(pattern string) (string, error) {
		local, domain, ok := strings.Cut(pattern, "@")
		if !ok {
			return "", fmt.Errorf("%w: address pattern %q has no @", ErrInvalid, pattern)
		}
		r := strings.NewReplacer("{first}", addressPart(first), "{last}", addressPart(last), "{domain}", p.Domain)
		a, err := address.Parse(r.Replace(local) + suffix + "@" + r.Replace(domain))
		if err != nil {
			return "", fmt.Errorf("%w: derived address: %v", ErrInvalid, err)
		}
		return a, nil
	}
	if login, err = derive(lp); err != nil {
		return "", "", err
	}
	mss, err = derive(mp)
	return login, mss, err
}

// addressPart turns a name into an address atom: lower case, accents
// removed, other characters as '-'.
func addressPart(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if x, ok := unaccent[r]; ok {
			b.WriteString(x)
			dash = false
			continue
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
			continue
		}
		if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

var unaccent = map[rune]string{
	'à': "a", 'â': "a", 'ä': "a", 'á': "a", 'ã': "a", 'å': "a", 'ç': "c", 'é': "e", 'è': "e", 'ê': "e", 'ë': "e",
	'î': "i", 'ï': "i", 'í': "i", 'ì': "i", 'ô': "o", 'ö': "o", 'ó': "o", 'ò': "o", 'õ': "o", 'ù': "u", 'û': "u",
	'ü': "u", 'ú': "u", 'ÿ': "y", 'ñ': "n", 'æ': "ae", 'œ': "oe",
}

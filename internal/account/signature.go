package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hygie-sante/hygie/internal/htmlsafe"
	"github.com/hygie-sante/hygie/internal/store"
)

// Signature is one of an account's signatures (SPEC §2.3). Its HTML is
// always sanitised (htmlsafe) when stored and when read back.
type Signature struct {
	ID        int64
	AccountID int64
	// Label is « Intitulé »: private to the owner (for a box, visible to
	// its members).
	Label string
	// HTML is « contenu », rich text.
	HTML string
	// Default marks the signature applied to every new message; an
	// account has at most one.
	Default bool
	Created time.Time
}

// Signature limits.
const (
	MaxSignatureLabelLen = 100
	// MaxSignatureBytes bounds a signature's sanitised HTML, images
	// included (they are inline data: URIs).
	MaxSignatureBytes = 512 << 10
)

// Reasons a signature is refused; they wrap ErrInvalid.
var (
	ErrSignatureLabelRequired = fmt.Errorf("%w: the signature label is empty", ErrInvalid)
	ErrSignatureLabelTooLong  = fmt.Errorf("%w: the signature label is longer than %d characters", ErrInvalid, MaxSignatureLabelLen)
	ErrSignatureTooLarge      = fmt.Errorf("%w: the signature is larger than %d bytes", ErrInvalid, MaxSignatureBytes)
)

// Signatures lists the signatures of account or box accountID, oldest first.
func (s *Service) Signatures(ctx context.Context, accountID int64) ([]Signature, error) {
	rows, err := s.st.Query(ctx, `SELECT id, account_id, label, html, is_default, created_at FROM signatures
		WHERE account_id = ? ORDER BY id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("signatures of account %d: %w", accountID, err)
	}
	defer rows.Close()
	var out []Signature
	for rows.Next() {
		sig, err := scanSignature(rows)
		if err != nil {
			return nil, fmt.Errorf("signatures of account %d: %w", accountID, err)
		}
		out = append(out, *sig)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("signatures of account %d: %w", accountID, err)
	}
	return out, nil
}

// SignatureByID returns signature id of account accountID; the account is
// part of the lookup, so another account's signature is ErrNotFound.
func (s *Service) SignatureByID(ctx context.Context, accountID, id int64) (*Signature, error) {
	sig, err := scanSignature(s.st.QueryRow(ctx, `SELECT id, account_id, label, html, is_default, created_at FROM signatures
		WHERE id = ? AND account_id = ?`, id, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("signature %d of account %d: %w", id, accountID, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("signature %d of account %d: %w", id, accountID, err)
	}
	return sig, nil
}

// DefaultSignature returns the default signature of accountID, or nil when
// it has none (the webmail inserts it on compose).
func (s *Service) DefaultSignature(ctx context.Context, accountID int64) (*Signature, error) {
	sig, err := scanSignature(s.st.QueryRow(ctx, `SELECT id, account_id, label, html, is_default, created_at FROM signatures
		WHERE account_id = ? AND is_default = 1 ORDER BY id LIMIT 1`, accountID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("default signature of account %d: %w", accountID, err)
	}
	return sig, nil
}

func scanSignature(row interface{ Scan(...any) error }) (*Signature, error) {
	sig := &Signature{}
	var def int
	var created int64
	if err := row.Scan(&sig.ID, &sig.AccountID, &sig.Label, &sig.HTML, &def, &created); err != nil {
		return nil, err
	}
	// Sanitised again on the way out: a stored value written by an older
	// policy (or by hand) is never shown unsanitised.
	sig.HTML = htmlsafe.Sanitize(sig.HTML)
	sig.Default, sig.Created = def != 0, time.Unix(created, 0)
	return sig, nil
}

// SaveSignature creates (sig.ID == 0) or updates signature sig of account
// accountID, sanitising its HTML; saving a default signature makes the
// account's other signatures non-default, in the same transaction, so that
// there is at most one. Updating an id that is not the account's is
// ErrNotFound. It returns the saved signature.
func (s *Service) SaveSignature(ctx context.Context, accountID int64, sig Signature) (*Signature, error) {
	label := strings.TrimSpace(sig.Label)
	switch {
	case label == "":
		return nil, ErrSignatureLabelRequired
	case !utf8.ValidString(label) || strings.ContainsFunc(label, unicode.IsControl):
		return nil, fmt.Errorf("%w: control characters in the signature label", ErrInvalid)
	case utf8.RuneCountInString(label) > MaxSignatureLabelLen:
		return nil, ErrSignatureLabelTooLong
	}
	clean := htmlsafe.Sanitize(sig.HTML)
	if len(clean) > MaxSignatureBytes {
		return nil, ErrSignatureTooLarge
	}
	def := 0
	if sig.Default {
		def = 1
	}
	now := time.Now()
	id := sig.ID
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		if id == 0 {
			var err error
			id, err = tx.InsertID(ctx, `INSERT INTO signatures (account_id, label, html, is_default, created_at) VALUES (?, ?, ?, ?, ?)`,
				accountID, label, clean, def, now.Unix())
			if err != nil {
				return err
			}
		} else {
			res, err := tx.Exec(ctx, `UPDATE signatures SET label = ?, html = ?, is_default = ? WHERE id = ? AND account_id = ?`,
				label, clean, def, id, accountID)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				return ErrNotFound
			}
		}
		if def == 1 {
			_, err := tx.Exec(ctx, `UPDATE signatures SET is_default = 0 WHERE account_id = ? AND id <> ? AND is_default <> 0`, accountID, id)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("save signature %d of account %d: %w", sig.ID, accountID, err)
	}
	return s.SignatureByID(ctx, accountID, id)
}

// DeleteSignature removes signature id of account accountID; another
// account's signature is ErrNotFound.
func (s *Service) DeleteSignature(ctx context.Context, accountID, id int64) error {
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `DELETE FROM signatures WHERE id = ? AND account_id = ?`, id, accountID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return ErrNotFound
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete signature %d of account %d: %w", id, accountID, err)
	}
	return nil
}

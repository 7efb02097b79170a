// Package device pairs mobile devices with individual accounts (SPEC §2,
// « Appareils mobiles »): the web page creates a single-use pairing secret,
// valid five minutes, that a QR code carries with the server address; the
// device exchanges it for a device credential, a random secret the device
// then presents to the device API (as a bearer token, RFC 6750), to IMAP
// LOGIN and to SMTP AUTH PLAIN (as the password of the account's login).
// Secrets and credentials are stored as SHA-256 hashes only. Revoking a
// device makes its credential fail at once everywhere.
//
// The package depends on the store only, so that the account service can
// check device credentials at login.
package device

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hygie-sante/hygie/internal/store"
)

// PairingTTL is how long a pairing secret (a QR code) may be used.
const PairingTTL = 5 * time.Minute

// CredentialPrefix starts every device credential, so that a login can tell
// a credential from a password without a costly password check.
const CredentialPrefix = "hyd_"

// MaxNameLen bounds a device name, in characters.
const MaxNameLen = 100

// lastUseGranularity is how stale the recorded last use may get: it is
// written at most that often per device, to keep reads read-only.
const lastUseGranularity = time.Minute

// Errors callers map to answers; they are wrapped with details.
var (
	// ErrBadSecret: the pairing secret is unknown, used or expired.
	ErrBadSecret = errors.New("pairing secret unknown, used or expired")
	// ErrBadCredential: the credential is unknown or revoked.
	ErrBadCredential = errors.New("device credential unknown or revoked")
	// ErrNotFound: no such device for the account.
	ErrNotFound = errors.New("device not found")
	// ErrInvalid: a bad device name.
	ErrInvalid = errors.New("invalid")
)

// Device is a paired device.
type Device struct {
	ID        int64
	AccountID int64
	Name      string
	// Paired is when the device exchanged its pairing secret.
	Paired time.Time
	// LastUsed is the last use of its credential (zero: never), to the
	// minute.
	LastUsed time.Time
	Revoked  bool
}

// Service manages pairings and devices.
type Service struct {
	st *store.Store
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns a Service over st.
func New(st *store.Store) *Service { return &Service{st: st} }

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// randomSecret returns 256 random bits, base64url.
func randomSecret() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// Hash is the stored form of a secret or credential: SHA-256, hex. The
// secrets carry 256 random bits, so a fast hash suffices.
func Hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// CleanName trims a device name and checks it: not empty, at most
// MaxNameLen characters, no control characters.
func CleanName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", fmt.Errorf("%w: device name is empty", ErrInvalid)
	}
	if !utf8.ValidString(name) || utf8.RuneCountInString(name) > MaxNameLen {
		return "", fmt.Errorf("%w: device name too long", ErrInvalid)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f {
			return "", fmt.Errorf("%w: control character in device name", ErrInvalid)
		}
	}
	return name, nil
}

// Pairing is a pairing secret just created, to show once in a QR code.
type Pairing struct {
	Secret  string
	Name    string
	Expires time.Time
}

// StartPairing creates a single-use pairing secret for an individual
// account, valid PairingTTL, for a device named name. Expired pairings of
// the account are cleared on the way.
func (s *Service) StartPairing(ctx context.Context, accountID int64, name string) (*Pairing, error) {
	name, err := CleanName(name)
	if err != nil {
		return nil, err
	}
	now := s.now()
	p := &Pairing{Secret: randomSecret(), Name: name, Expires: now.Add(PairingTTL)}
	err = s.st.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM device_pairings WHERE account_id = ? AND expires_at <= ?`, accountID, now.Unix()); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO device_pairings (id_hash, account_id, name, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			Hash(p.Secret), accountID, name, now.Unix(), p.Expires.Unix())
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("start pairing: %w", err)
	}
	return p, nil
}

// Paired is the outcome of a pairing: the device and its credential, which
// is shown this once and never stored in clear.
type Paired struct {
	Device     Device
	Credential string
}

// Pair exchanges a pairing secret for a device credential. The secret
// works once, within PairingTTL of its creation; any other secret is
// ErrBadSecret. The device is named as on the web page; deviceName (what
// the device calls itself) is used when the page gave no name.
func (s *Service) Pair(ctx context.Context, secret, deviceName string) (*Paired, error) {
	if secret == "" {
		return nil, ErrBadSecret
	}
	now := s.now()
	cred := CredentialPrefix + randomSecret()
	out := &Paired{Credential: cred}
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		var accountID int64
		var name string
		err := tx.QueryRow(ctx, `SELECT account_id, name FROM device_pairings WHERE id_hash = ? AND used_at = 0 AND expires_at > ?`,
			Hash(secret), now.Unix()).Scan(&accountID, &name)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrBadSecret
		}
		if err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `UPDATE device_pairings SET used_at = ? WHERE id_hash = ? AND used_at = 0`, now.Unix(), Hash(secret))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return ErrBadSecret
		}
		if name == "" {
			if name, err = CleanName(deviceName); err != nil {
				name = "Appareil"
			}
		}
		id, err := tx.InsertID(ctx, `INSERT INTO devices (account_id, name, secret_hash, created_at) VALUES (?, ?, ?, ?)`,
			accountID, name, Hash(cred), now.Unix())
		if err != nil {
			return err
		}
		out.Device = Device{ID: id, AccountID: accountID, Name: name, Paired: time.Unix(now.Unix(), 0)}
		return nil
	})
	if errors.Is(err, ErrBadSecret) {
		return nil, ErrBadSecret
	}
	if err != nil {
		return nil, fmt.Errorf("pair device: %w", err)
	}
	return out, nil
}

const deviceCols = `id, account_id, name, created_at, last_used_at, revoked_at`

func scanDevice(row interface{ Scan(...any) error }) (Device, error) {
	var d Device
	var created, last, revoked int64
	if err := row.Scan(&d.ID, &d.AccountID, &d.Name, &created, &last, &revoked); err != nil {
		return Device{}, err
	}
	d.Paired, d.Revoked = time.Unix(created, 0), revoked != 0
	if last != 0 {
		d.LastUsed = time.Unix(last, 0)
	}
	return d, nil
}

// List returns the account's devices that are not revoked, newest first.
func (s *Service) List(ctx context.Context, accountID int64) ([]Device, error) {
	rows, err := s.st.Query(ctx, `SELECT `+deviceCols+` FROM devices WHERE account_id = ? AND revoked_at = 0 ORDER BY created_at DESC, id DESC`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list devices: %w", err)
	}
	defer rows.Close()
	var out []Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("list devices: %w", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Revoke revokes device id of account accountID (« Révoquer »): its
// credential fails from now on, on the API, IMAP and SMTP alike. A device
// of another account, or already revoked, is ErrNotFound.
func (s *Service) Revoke(ctx context.Context, accountID, id int64) error {
	now := s.now()
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		res, err := tx.Exec(ctx, `UPDATE devices SET revoked_at = ? WHERE id = ? AND account_id = ? AND revoked_at = 0`, now.Unix(), id, accountID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return ErrNotFound
		}
		return nil
	})
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("revoke device: %w", err)
	}
	return nil
}

// Authenticate returns the device whose credential cred is, when it is not
// revoked, and records its use; otherwise ErrBadCredential.
func (s *Service) Authenticate(ctx context.Context, cred string) (*Device, error) {
	return s.authenticate(ctx, cred, `secret_hash = ?`, Hash(cred))
}

// Check reports whether cred is a valid (not revoked) credential of a
// device of account accountID, and records its use: the password check of
// IMAP LOGIN and SMTP AUTH. Anything else is ErrBadCredential.
func (s *Service) Check(ctx context.Context, accountID int64, cred string) (*Device, error) {
	return s.authenticate(ctx, cred, `secret_hash = ? AND account_id = ?`, Hash(cred), accountID)
}

func (s *Service) authenticate(ctx context.Context, cred, where string, args ...any) (*Device, error) {
	if !strings.HasPrefix(cred, CredentialPrefix) {
		return nil, ErrBadCredential
	}
	d, err := scanDevice(s.st.QueryRow(ctx, `SELECT `+deviceCols+` FROM devices WHERE revoked_at = 0 AND `+where, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrBadCredential
	}
	if err != nil {
		return nil, fmt.Errorf("check device credential: %w", err)
	}
	now := s.now()
	if now.Sub(d.LastUsed) >= lastUseGranularity {
		err := s.st.Tx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE devices SET last_used_at = ? WHERE id = ?`, now.Unix(), d.ID)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("record device use: %w", err)
		}
		d.LastUsed = time.Unix(now.Unix(), 0)
	}
	return &d, nil
}

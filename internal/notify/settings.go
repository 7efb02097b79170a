package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/address"
	"github.com/hygie-sante/hygie/internal/store"
)

// Settings are the choices of the Notifications section of an account or
// box (SPEC §2.5), with the notification address they go to.
type Settings struct {
	// Each: « recevoir une notification à chaque message reçu » (A.1).
	Each bool
	// Daily: « recevoir chaque jour une notification indiquant si des
	// messages ont été reçus » (A.2).
	Daily bool
	// Open: opening notifications (B).
	Open bool
	// Notify is the notification address (the login / associated mail
	// address outside the platform).
	Notify string
}

// Errors of SaveSettings about the notification address.
var (
	ErrNoAddress       = errors.New("a notification address is required")
	ErrBadAddress      = errors.New("invalid notification address")
	ErrPlatformAddress = errors.New("the notification address must be outside the platform")
)

// LoadSettings returns the notification settings of account or box id.
func LoadSettings(ctx context.Context, q store.Querier, id int64) (Settings, error) {
	var s Settings
	var each, daily, open int
	err := q.QueryRow(ctx, `SELECT notify_each, notify_daily, notify_open, notify FROM accounts WHERE id = ?`, id).
		Scan(&each, &daily, &open, &s.Notify)
	if err != nil {
		return s, fmt.Errorf("notification settings of %d: %w", id, err)
	}
	s.Each, s.Daily, s.Open = each != 0, daily != 0, open != 0
	return s, nil
}

// CheckAddress validates and normalises a notification address: a mail
// address that is not one of the platform's own mailboxes (notifications
// go to an ordinary mailbox outside it, SPEC §1).
func CheckAddress(ctx context.Context, accounts *account.Service, addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", ErrNoAddress
	}
	norm, err := address.Parse(addr)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadAddress, err)
	}
	if _, err := accounts.ByAddress(ctx, norm); err == nil {
		return "", fmt.Errorf("%w: %s", ErrPlatformAddress, norm)
	} else if !errors.Is(err, account.ErrNotFound) {
		return "", err
	}
	return norm, nil
}

// SaveSettings stores s for account or box id. With setAddress the
// notification address is checked (CheckAddress) and replaced too.
func SaveSettings(ctx context.Context, st *store.Store, accounts *account.Service, id int64, s Settings, setAddress bool) error {
	if setAddress {
		norm, err := CheckAddress(ctx, accounts, s.Notify)
		if err != nil {
			return err
		}
		s.Notify = norm
	}
	err := st.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if setAddress {
			_, err = tx.Exec(ctx, `UPDATE accounts SET notify_each = ?, notify_daily = ?, notify_open = ?, notify = ? WHERE id = ?`,
				b2i(s.Each), b2i(s.Daily), b2i(s.Open), s.Notify, id)
		} else {
			_, err = tx.Exec(ctx, `UPDATE accounts SET notify_each = ?, notify_daily = ?, notify_open = ? WHERE id = ?`,
				b2i(s.Each), b2i(s.Daily), b2i(s.Open), id)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("save notification settings of %d: %w", id, err)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

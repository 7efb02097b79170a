package account

import (
	"context"

	"github.com/hygie-sante/hygie/internal/device"
)

// AuthenticatePassword is Authenticate with the password only: a device
// credential does not open a web session (SPEC §2, Appareils mobiles: a
// device reaches the device API, IMAP and SMTP).
func (s *Service) AuthenticatePassword(ctx context.Context, login, password string) (*Account, error) {
	return s.authenticate(ctx, login, password, false)
}

// deviceCredential reports whether password is the credential of a paired,
// not revoked, device of a, recording the device's use. A revoked device
// fails at once: nothing is cached.
func (s *Service) deviceCredential(ctx context.Context, a *Account, password string) bool {
	_, err := device.New(s.st).Check(ctx, a.ID, password)
	return err == nil
}

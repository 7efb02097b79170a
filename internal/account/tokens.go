package account

import (
	"context"
	"errors"
	"fmt"

	"github.com/hygie-sante/hygie/internal/address"
)

// TokenValidator validates an OAuth 2.0 access token presented by client
// software (SASL XOAUTH2 or OAUTHBEARER, RFC 7628, over IMAP or SMTP
// submission) and maps it to the account associated with its subject.
//
// Implementations check the token with the issuing provider (JWKS signature
// or RFC 7662 introspection), its audience and expiry, then look up the
// login mode associated with the token's subject. They return an error
// when the token is invalid, expired, or not associated with any account.
type TokenValidator interface {
	ValidateAccessToken(ctx context.Context, token string) (accountID int64, err error)
}

// AuthenticateToken checks an access token presented by client software
// for user (the SASL XOAUTH2 user or the OAUTHBEARER authzid, RFC 7628
// §3.1) and returns the account it opens. The token must be valid for v and
// map to an enabled person account (boxes never log in) whose login or
// MSSanté address is user; an empty user is accepted only where the
// mechanism makes it optional (OAUTHBEARER), the token then speaks alone.
// Every refusal wraps ErrBadLogin.
func (s *Service) AuthenticateToken(ctx context.Context, v TokenValidator, user, token string) (*Account, error) {
	if v == nil {
		return nil, fmt.Errorf("%w: no token provider configured", ErrBadLogin)
	}
	if token == "" {
		return nil, fmt.Errorf("%w: empty or malformed token", ErrBadLogin)
	}
	id, err := v.ValidateAccessToken(ctx, token)
	if err != nil {
		return nil, fmt.Errorf("%w: token refused: %v", ErrBadLogin, err)
	}
	a, err := s.ByID(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: token maps to unknown account %d", ErrBadLogin, id)
	}
	if err != nil {
		return nil, err
	}
	if a.IsBox() || a.Disabled {
		return nil, fmt.Errorf("%w: account cannot log in", ErrBadLogin)
	}
	if user != "" {
		norm, err := address.Parse(user)
		if err != nil || (norm != a.Login && (a.MSS == "" || norm != a.MSS)) {
			return nil, fmt.Errorf("%w: token belongs to %s, not %s", ErrBadLogin, a.Login, user)
		}
	}
	return a, nil
}

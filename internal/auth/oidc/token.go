package oidc

import (
	"context"
	"fmt"

	"github.com/hygie-sante/hygie/internal/account"
)

// TokenValidator maps an access token of a provider, presented by client
// software over IMAP or SMTP submission (SASL XOAUTH2 / OAUTHBEARER,
// RFC 7628; SPEC §5), to the account associated with its subject. It
// implements account.TokenValidator.
type TokenValidator struct {
	p        *Provider
	accounts *account.Service
}

var _ account.TokenValidator = (*TokenValidator)(nil)

// NewTokenValidator returns the validator of p's access tokens.
func NewTokenValidator(p *Provider, accounts *account.Service) *TokenValidator {
	return &TokenValidator{p: p, accounts: accounts}
}

// ValidateAccessToken validates token (see Provider.AccessTokenSubject)
// and returns the id of the enabled account associated with its subject.
func (v *TokenValidator) ValidateAccessToken(ctx context.Context, token string) (int64, error) {
	sub, err := v.p.AccessTokenSubject(ctx, token)
	if err != nil {
		return 0, fmt.Errorf("%s access token: %w", v.p.Mode(), err)
	}
	a, err := v.accounts.ByLoginMode(ctx, v.p.Mode(), sub)
	if err != nil {
		return 0, fmt.Errorf("%s access token: no account associated with %q: %w", v.p.Mode(), sub, err)
	}
	if a.Disabled || a.IsBox() {
		return 0, fmt.Errorf("%s access token: account %s %w", v.p.Mode(), a.Login, account.ErrDisabled)
	}
	return a.ID, nil
}

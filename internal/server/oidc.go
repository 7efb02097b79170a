package server

import (
	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/auth/oidc"
	"github.com/hygie-sante/hygie/internal/config"
)

// loginModes builds, once, the OpenID Connect login modes configured in
// [oidc.cps] and [oidc.pass] (SPEC §2, Identifiants de connexion B), CPS
// first. The same providers serve the web login and the access-token
// validation of IMAP and submission, so they share the JWKS cache.
func (n *Node) loginModes() []*oidc.Provider {
	n.oidcOnce.Do(func() {
		for _, m := range []struct {
			mode string
			cfg  config.OIDCProvider
		}{{oidc.ModeCPS, n.Cfg.OIDC.CPS}, {oidc.ModePASS, n.Cfg.OIDC.PASS}} {
			if m.cfg.Issuer == "" {
				continue
			}
			p, err := oidc.New(oidc.Config{Mode: m.mode, Issuer: m.cfg.Issuer, ClientID: m.cfg.ClientID,
				ClientSecret: m.cfg.ClientSecret, SubjectClaim: m.cfg.SubjectClaim,
				RedirectURL: n.Cfg.PublicURL + "/connexion/" + m.mode + "/retour"})
			if err != nil {
				n.Log.Error("login mode disabled", "mode", m.mode, "err", err)
				continue
			}
			n.oidc = append(n.oidc, p)
		}
	})
	return n.oidc
}

// CPSTokenValidator returns the validator of « Carte CPS / e-CPS » access
// tokens for SASL XOAUTH2 / OAUTHBEARER (SPEC §5, client software access),
// mapping a token to the account associated with its SubjectNameID; nil
// (an untyped nil interface) when no CPS provider is configured.
func (n *Node) CPSTokenValidator() account.TokenValidator {
	for _, p := range n.loginModes() {
		if p.Mode() == oidc.ModeCPS {
			return oidc.NewTokenValidator(p, n.Accounts)
		}
	}
	return nil
}

// joinPolicy derives the addresses of accounts created by joining with a
// card: {first}.{last}@<first domain> and the oidc.mss_pattern.
func (n *Node) joinPolicy() account.JoinPolicy {
	p := account.JoinPolicy{MSSPattern: n.Cfg.OIDC.MSSPattern}
	if len(n.Cfg.Domains) > 0 {
		p.Domain = n.Cfg.Domains[0]
	}
	return p
}

// webLoginModes returns the login modes with their callback on the
// node's public address (known only once the web listener is bound).
func (n *Node) webLoginModes() []*oidc.Provider {
	modes := n.loginModes()
	for _, p := range modes {
		p.SetRedirectURL(n.Cfg.PublicURL + "/connexion/" + p.Mode() + "/retour")
	}
	return modes
}

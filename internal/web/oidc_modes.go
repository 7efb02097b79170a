package web

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/auth/oidc"
)

// « Identifiants de connexion » B (SPEC §2.2): the login modes associated
// with the account, each with a cross to dissociate it, and « Associer »
// for a configured mode not associated yet. The last remaining login mode
// (the password counts as one) cannot be removed.

func init() {
	// A link, not a form: the page's CSP (form-action 'self') forbids a
	// form whose answer redirects to the provider. The session's CSRF
	// token travels in the query and is checked here.
	register("GET /a/{acct}/compte/identifiants/modes/{mode}/associer", func(s *Server) sessionHandler { return s.loginModeAdd })
	register("POST /a/{acct}/compte/identifiants/modes/{mode}/supprimer", func(s *Server) sessionHandler { return s.loginModeRemove })
}

// loginModeRow is a line of the Identifiants B block.
type loginModeRow struct {
	Mode, Label string
	// Subject is the associated identity (SubjectNameID for CPS); empty
	// when the mode is offered but not associated.
	Subject string
	Since   string
}

// loginModesBlock is the data of the "oidc_modes" template.
type loginModesBlock struct {
	Rows        []loginModeRow
	HasPassword bool
}

// loginModesOf lists a's associated modes, then the configured modes it
// could associate.
func (s *Server) loginModesOf(ctx context.Context, a *account.Account) (*loginModesBlock, error) {
	modes, err := s.cfg.Accounts.LoginModes(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	b := &loginModesBlock{HasPassword: a.HasPassword()}
	have := map[string]bool{}
	for _, m := range modes {
		have[m.Provider] = true
		b.Rows = append(b.Rows, loginModeRow{Mode: m.Provider, Label: oidc.Label(m.Provider), Subject: m.Subject,
			Since: m.Created.In(paris).Format("02/01/2006")})
	}
	for _, p := range s.cfg.LoginModes {
		if !have[p.Mode()] {
			b.Rows = append(b.Rows, loginModeRow{Mode: p.Mode(), Label: p.Label()})
		}
	}
	return b, nil
}

// loginModeAdd starts the provider's login to associate it with the
// logged-in person (the callback checks it is still the same session).
func (s *Server) loginModeAdd(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	p := s.loginMode(r.PathValue("mode"))
	if p == nil || a.ID != sess.User.ID {
		http.NotFound(w, r)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.URL.Query().Get("csrf")), []byte(sess.CSRF)) != 1 {
		http.Error(w, "Lien refusé (jeton de sécurité invalide). Rechargez la page.", http.StatusForbidden)
		return
	}
	s.oidcRedirect(w, r, p, "/a/"+itoa(a.ID)+"/compte/identifiants", a.ID)
}

// loginModeRemove is the cross of Identifiants B.
func (s *Server) loginModeRemove(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	if a.ID != sess.User.ID {
		http.NotFound(w, r)
		return
	}
	mode := r.PathValue("mode")
	to := "/a/" + itoa(a.ID) + "/compte/identifiants"
	err := s.cfg.Accounts.Dissociate(r.Context(), a.ID, mode)
	switch {
	case errors.Is(err, account.ErrLastLoginMode):
		s.renderCredentials(w, r, sess, a, http.StatusConflict, map[string]string{"modes": "« " + oidc.Label(mode) +
			" » est votre dernier mode de connexion : il ne peut pas être supprimé. Définissez d’abord un mot de passe " +
			"(« Demander la réinitialisation du mot de passe ») ou associez un autre mode."})
		return
	case errors.Is(err, account.ErrNotFound):
		http.NotFound(w, r)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: login mode dissociated", "mode", mode, "account", a.Login)
	redirectFlash(w, r, to, "Mode de connexion « "+oidc.Label(mode)+" » dissocié.")
}

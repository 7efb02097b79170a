package web

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/auth/oidc"
	"github.com/hygie-sante/hygie/internal/store"
)

// Login through « Carte CPS / e-CPS » (Pro Santé Connect) and « PASS »
// (SPEC §2, Identifiants de connexion B; §4 login and joining; §5).
//
//	GET  /connexion/{mode}          → the provider (state, nonce, PKCE)
//	GET  /connexion/{mode}/retour   ← the provider's answer
//	GET  /connexion/associer        an identity no account knows yet:
//	POST /connexion/associer          prove an account with its password once,
//	POST /connexion/creer-compte      or (CPS) create a PER account from the claims.
//
// The state is single use: kept server-side (oidc_states, by its hash) and
// bound to the browser by a short-lived cookie; the nonce and PKCE
// verifier stay server-side.

const (
	oidcStateCookie   = "hygie_oidc_state"
	oidcPendingCookie = "hygie_oidc_pending"
	oidcStateTTL      = 10 * 60 // seconds
	oidcPendingTTL    = 15 * 60
)

func init() {
	registerPlain("GET /connexion/{mode}", func(s *Server) http.HandlerFunc { return s.oidcStart })
	registerPlain("GET /connexion/{mode}/retour", func(s *Server) http.HandlerFunc { return s.oidcCallback })
	registerPlain("GET /connexion/associer", func(s *Server) http.HandlerFunc { return s.oidcAssociateShow })
	registerPlain("POST /connexion/associer", func(s *Server) http.HandlerFunc { return s.oidcAssociate })
	registerPlain("POST /connexion/creer-compte", func(s *Server) http.HandlerFunc { return s.oidcJoin })
}

// LoginModeLink is a login mode button of the login page.
type LoginModeLink struct{ Mode, Label string }

// loginModeLinks lists the configured login modes for the login page.
func (s *Server) loginModeLinks() []LoginModeLink {
	out := make([]LoginModeLink, 0, len(s.cfg.LoginModes))
	for _, p := range s.cfg.LoginModes {
		out = append(out, LoginModeLink{Mode: p.Mode(), Label: p.Label()})
	}
	return out
}

func (s *Server) loginMode(mode string) *oidc.Provider {
	for _, p := range s.cfg.LoginModes {
		if p.Mode() == mode {
			return p
		}
	}
	return nil
}

// loginError shows the login page with a French reason.
func (s *Server) loginError(w http.ResponseWriter, r *http.Request, status int, next, msg string) {
	s.render(w, r, nil, "login", status, &view{Title: "Connexion", Data: loginData{Next: next}, Errors: map[string]string{"": msg}})
}

// oidcStart sends the browser to the provider.
func (s *Server) oidcStart(w http.ResponseWriter, r *http.Request) {
	p := s.loginMode(r.PathValue("mode"))
	if p == nil {
		http.NotFound(w, r)
		return
	}
	s.oidcRedirect(w, r, p, localRedirect(r.URL.Query().Get("suite"), "/"), 0)
}

// oidcRedirect records a new login (state, nonce, PKCE verifier; link: the
// account to associate the identity with, 0 for a login) and redirects to
// the provider's authorization endpoint.
func (s *Server) oidcRedirect(w http.ResponseWriter, r *http.Request, p *oidc.Provider, next string, link int64) {
	ctx := r.Context()
	state, nonce, verifier := randomToken(), randomToken(), oidc.NewVerifier()
	u, err := p.AuthURL(ctx, state, nonce, verifier)
	if err != nil {
		s.log.Warn("web: login mode unavailable", "mode", p.Mode(), "err", err)
		s.loginError(w, r, http.StatusBadGateway, next, "Le service de connexion « "+p.Label()+" » est momentanément indisponible. "+
			"Réessayez plus tard ou connectez-vous avec votre mot de passe.")
		return
	}
	now := s.cfg.Now().Unix()
	err = s.cfg.St.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM oidc_states WHERE expires_at < ?`, now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO oidc_states (id, provider, nonce, verifier, next, link_account, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			hashToken(state), p.Mode(), nonce, verifier, next, link, now+oidcStateTTL)
		return err
	})
	if err != nil {
		s.fail(w, r, fmt.Errorf("record login state: %w", err))
		return
	}
	http.SetCookie(w, &http.Cookie{Name: oidcStateCookie, Value: state, Path: "/connexion/", MaxAge: oidcStateTTL,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, u, http.StatusSeeOther)
}

// loginState is a login in progress, consumed by the callback.
type loginState struct {
	nonce, verifier, next string
	link                  int64
}

// consumeState deletes and returns the state's login, or nil when it is
// unknown, expired or already used.
func (s *Server) consumeState(ctx context.Context, mode, state string) (*loginState, error) {
	var ls *loginState
	err := s.cfg.St.Tx(ctx, func(tx *store.Tx) error {
		var st loginState
		var expires int64
		err := tx.QueryRow(ctx, `SELECT nonce, verifier, next, link_account, expires_at FROM oidc_states WHERE id = ? AND provider = ?`,
			hashToken(state), mode).Scan(&st.nonce, &st.verifier, &st.next, &st.link, &expires)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		res, err := tx.Exec(ctx, `DELETE FROM oidc_states WHERE id = ?`, hashToken(state))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 && expires > s.cfg.Now().Unix() {
			ls = &st
		}
		return nil
	})
	return ls, err
}

// oidcCallback receives the provider's answer (RFC 6749 §4.1.2), checks the
// state, redeems the code and logs the person in, associates the identity,
// or asks which account it is.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	p := s.loginMode(r.PathValue("mode"))
	if p == nil {
		http.NotFound(w, r)
		return
	}
	ctx, q, ip := r.Context(), r.URL.Query(), clientIP(r)
	http.SetCookie(w, &http.Cookie{Name: oidcStateCookie, Path: "/connexion/", MaxAge: -1, HttpOnly: true,
		Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
	state := q.Get("state")
	if state == "" {
		s.cfg.Audit.Login(ctx, "web-"+p.Mode(), "", ip, "failed", "callback without state")
		s.loginError(w, r, http.StatusBadRequest, "", "La réponse du service « "+p.Label()+" » est incomplète (paramètre state absent) : "+
			"elle est refusée. Recommencez la connexion.")
		return
	}
	c, _ := r.Cookie(oidcStateCookie)
	var ls *loginState
	if c != nil && c.Value == state {
		var err error
		if ls, err = s.consumeState(ctx, p.Mode(), state); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if ls == nil {
		s.cfg.Audit.Login(ctx, "web-"+p.Mode(), "", ip, "failed", "unknown, expired or replayed state")
		s.loginError(w, r, http.StatusBadRequest, "", "Cette demande de connexion est inconnue, a expiré ou a déjà été utilisée : "+
			"elle est refusée. Recommencez la connexion.")
		return
	}
	if e := q.Get("error"); e != "" || q.Get("code") == "" {
		s.cfg.Audit.Login(ctx, "web-"+p.Mode(), "", ip, "failed", "provider error: "+truncate(e+" "+q.Get("error_description"), 200))
		s.loginError(w, r, http.StatusUnauthorized, ls.next, "La connexion par « "+p.Label()+" » a été annulée ou refusée par le service d’authentification.")
		return
	}
	id, err := p.Exchange(ctx, q.Get("code"), ls.verifier, ls.nonce)
	if err != nil {
		s.log.Warn("web: login mode refused", "mode", p.Mode(), "err", err)
		s.cfg.Audit.Login(ctx, "web-"+p.Mode(), "", ip, "failed", truncate(err.Error(), 300))
		s.loginError(w, r, http.StatusUnauthorized, ls.next, s.oidcRefusal(p, err))
		return
	}
	// Associating from « Identifiants de connexion »: the same person must
	// still be logged in.
	if ls.link != 0 {
		s.oidcLink(w, r, p, id, ls.link)
		return
	}
	a, err := s.cfg.Accounts.ByLoginMode(ctx, p.Mode(), id.Subject)
	if errors.Is(err, account.ErrNotFound) && p.Mode() == oidc.ModeCPS && id.NationalID != "" {
		// A PER or INT account whose RPPS is the card's: associated directly.
		if a, err = s.cfg.Accounts.ByNationalID(ctx, id.NationalID); err == nil {
			if err = s.cfg.Accounts.Associate(ctx, a.ID, p.Mode(), id.Subject); err == nil {
				s.log.Info("web: login mode associated by RPPS", "mode", p.Mode(), "account", a.Login)
			}
		}
	}
	switch {
	case errors.Is(err, account.ErrNotFound):
		s.oidcPending(w, r, p, id, ls.next)
		return
	case errors.Is(err, account.ErrDuplicate):
		s.loginError(w, r, http.StatusConflict, ls.next, "Votre compte "+s.cfg.PlatformName+" est déjà associé à une autre identité « "+p.Label()+
			" » : connectez-vous avec votre mot de passe pour la dissocier dans « Identifiants de connexion ».")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.oidcLogin(w, r, p, a, ls.next, "")
}

// oidcLogin opens a session for a after a login through p.
func (s *Server) oidcLogin(w http.ResponseWriter, r *http.Request, p *oidc.Provider, a *account.Account, next, flash string) {
	if a.Disabled || a.IsBox() {
		s.cfg.Audit.Login(r.Context(), "web-"+p.Mode(), a.Login, clientIP(r), "failed", "account disabled")
		s.loginError(w, r, http.StatusForbidden, next, "Ce compte est désactivé. Contactez l’administrateur "+s.cfg.PlatformName+" de votre structure.")
		return
	}
	s.cfg.Audit.Login(r.Context(), "web-"+p.Mode(), a.Login, clientIP(r), "ok", "")
	if err := s.startSession(r.Context(), w, r, a); err != nil {
		s.fail(w, r, err)
		return
	}
	if flash != "" {
		redirectFlash(w, r, localRedirect(next, "/"), flash)
		return
	}
	http.Redirect(w, r, localRedirect(next, "/"), http.StatusSeeOther)
}

// oidcLink associates the identity with the logged-in person who asked for
// it from « Identifiants de connexion ».
func (s *Server) oidcLink(w http.ResponseWriter, r *http.Request, p *oidc.Provider, id *oidc.Identity, link int64) {
	sess, err := s.session(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if sess == nil || sess.User.ID != link {
		s.loginError(w, r, http.StatusUnauthorized, "", "Votre session a expiré pendant l’association : reconnectez-vous puis recommencez.")
		return
	}
	to := "/a/" + itoa(link) + "/compte/identifiants"
	err = s.cfg.Accounts.Associate(r.Context(), link, p.Mode(), id.Subject)
	switch {
	case errors.Is(err, account.ErrDuplicate):
		redirectFlash(w, r, to, "Association impossible : cette identité « "+p.Label()+" » est déjà associée à un compte, "+
			"ou votre compte en a déjà une. Dissociez-la d’abord.")
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: login mode associated", "mode", p.Mode(), "account", sess.User.Login)
	redirectFlash(w, r, to, "Mode de connexion « "+p.Label()+" » associé à votre compte.")
}

// oidcRefusal is the French reason shown for a refused identity.
func (s *Server) oidcRefusal(p *oidc.Provider, err error) string {
	pre := "Connexion par « " + p.Label() + " » refusée : "
	switch {
	case errors.Is(err, oidc.ErrACR):
		return pre + "le niveau d’authentification n’est pas suffisant (eidas1 requis). Utilisez votre carte CPS ou l’application e-CPS."
	case errors.Is(err, oidc.ErrAudience):
		return pre + "le jeton d’identité n’est pas destiné à " + s.cfg.PlatformName + "."
	case errors.Is(err, oidc.ErrExpired):
		return pre + "le jeton d’identité a expiré. Recommencez la connexion."
	case errors.Is(err, oidc.ErrNonce):
		return pre + "le jeton d’identité ne correspond pas à cette demande de connexion (nonce)."
	case errors.Is(err, oidc.ErrIssuer), errors.Is(err, oidc.ErrSignature):
		return pre + "le jeton d’identité n’est pas authentique."
	case errors.Is(err, oidc.ErrSubject):
		if p.Mode() == oidc.ModeCPS {
			return pre + "le service n’a pas transmis votre identifiant national (SubjectNameID)."
		}
		return pre + "le service n’a pas transmis votre identifiant."
	}
	return "Le service « " + p.Label() + " » n’a pas pu confirmer votre identité. Réessayez plus tard."
}

// pendingIdentity is an identity waiting for « Associer » or « Créer mon
// compte ».
type pendingIdentity struct {
	Mode     string
	Next     string
	Identity *oidc.Identity
}

// oidcPending keeps the identity server-side for a quarter of an hour and
// shows the association page.
func (s *Server) oidcPending(w http.ResponseWriter, r *http.Request, p *oidc.Provider, id *oidc.Identity, next string) {
	ctx := r.Context()
	body, err := json.Marshal(pendingIdentity{Mode: p.Mode(), Next: next, Identity: id})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	tok, now := randomToken(), s.cfg.Now().Unix()
	err = s.cfg.St.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM oidc_pending WHERE expires_at < ?`, now); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO oidc_pending (id, provider, subject, identity, expires_at) VALUES (?, ?, ?, ?, ?)`,
			hashToken(tok), p.Mode(), id.Subject, string(body), now+oidcPendingTTL)
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.cfg.Audit.Login(ctx, "web-"+p.Mode(), "", clientIP(r), "unknown", "identity not associated: "+truncate(id.Subject, 100))
	http.SetCookie(w, &http.Cookie{Name: oidcPendingCookie, Value: tok, Path: "/connexion/", MaxAge: oidcPendingTTL,
		HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/connexion/associer", http.StatusSeeOther)
}

// pending returns the browser's pending identity, or nil.
func (s *Server) pending(r *http.Request) (*pendingIdentity, string, error) {
	c, err := r.Cookie(oidcPendingCookie)
	if err != nil || c.Value == "" {
		return nil, "", nil
	}
	var body string
	err = s.cfg.St.QueryRow(r.Context(), `SELECT identity FROM oidc_pending WHERE id = ? AND expires_at > ?`,
		hashToken(c.Value), s.cfg.Now().Unix()).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("load pending identity: %w", err)
	}
	var pi pendingIdentity
	if err := json.Unmarshal([]byte(body), &pi); err != nil || pi.Identity == nil {
		return nil, "", fmt.Errorf("pending identity: %v", err)
	}
	return &pi, hashToken(c.Value), nil
}

// endPending forgets the pending identity once used.
func (s *Server) endPending(w http.ResponseWriter, r *http.Request, id string) {
	s.cfg.St.Tx(r.Context(), func(tx *store.Tx) error {
		_, err := tx.Exec(r.Context(), `DELETE FROM oidc_pending WHERE id = ?`, id)
		return err
	})
	http.SetCookie(w, &http.Cookie{Name: oidcPendingCookie, Path: "/connexion/", MaxAge: -1, HttpOnly: true,
		Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
}

// associateData is what templates/oidc_associer.html shows.
type associateData struct {
	Mode, Label string
	Identity    *oidc.Identity
	Login       string
	// CanJoin offers « Créer mon compte » (CPS only).
	CanJoin bool
	// Request is set once a join request has been transmitted.
	Request bool
}

func (s *Server) renderAssociate(w http.ResponseWriter, r *http.Request, pi *pendingIdentity, status int, d associateData, errs map[string]string) {
	d.Mode, d.Label, d.Identity = pi.Mode, oidc.Label(pi.Mode), pi.Identity
	d.CanJoin = pi.Mode == oidc.ModeCPS && pi.Identity.FirstName != "" && pi.Identity.LastName != ""
	s.render(w, r, nil, "oidc_associer", status, &view{Title: "Associer « " + d.Label + " »", Data: d, Errors: errs})
}

func (s *Server) noPending(w http.ResponseWriter, r *http.Request) {
	s.loginError(w, r, http.StatusBadRequest, "", "Aucune connexion par carte CPS / e-CPS ou PASS n’est en attente, ou elle a expiré : recommencez la connexion.")
}

func (s *Server) oidcAssociateShow(w http.ResponseWriter, r *http.Request) {
	pi, _, err := s.pending(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if pi == nil {
		s.noPending(w, r)
		return
	}
	s.renderAssociate(w, r, pi, http.StatusOK, associateData{}, nil)
}

// oidcAssociate proves an account with its password, once, then
// associates the pending identity with it and logs the person in.
func (s *Server) oidcAssociate(w http.ResponseWriter, r *http.Request) {
	pi, pid, err := s.pending(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if pi == nil {
		s.noPending(w, r)
		return
	}
	p := s.loginMode(pi.Mode)
	if p == nil {
		s.noPending(w, r)
		return
	}
	ctx, ip := r.Context(), clientIP(r)
	login := strings.TrimSpace(r.FormValue("login"))
	d := associateData{Login: login}
	if login == "" || r.FormValue("password") == "" {
		s.renderAssociate(w, r, pi, http.StatusBadRequest, d, map[string]string{"login": "Saisissez votre adresse et votre mot de passe."})
		return
	}
	att, ok := s.tryPassword(r, login)
	if !ok {
		s.cfg.Audit.Login(ctx, "web", login, ip, "throttled", "association")
		s.renderAssociate(w, r, pi, http.StatusTooManyRequests, d, map[string]string{"": "Trop de tentatives de connexion. Réessayez dans quelques minutes."})
		return
	}
	a, err := s.cfg.Accounts.AuthenticatePassword(ctx, login, r.FormValue("password"))
	if err != nil {
		if !errors.Is(err, account.ErrBadLogin) {
			att.drop(ctx)
			s.fail(w, r, err)
			return
		}
		s.cfg.Audit.Login(ctx, "web", login, ip, "failed", "association: "+err.Error())
		s.renderAssociate(w, r, pi, http.StatusUnauthorized, d, map[string]string{"": "Adresse ou mot de passe incorrect."})
		return
	}
	att.succeed(ctx)
	err = s.cfg.Accounts.Associate(ctx, a.ID, pi.Mode, pi.Identity.Subject)
	if errors.Is(err, account.ErrDuplicate) {
		s.renderAssociate(w, r, pi, http.StatusConflict, d, map[string]string{"": "Ce compte est déjà associé à une autre identité « " +
			p.Label() + " ». Connectez-vous avec votre mot de passe et dissociez-la dans « Identifiants de connexion »."})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.endPending(w, r, pid)
	s.log.Info("web: login mode associated after password proof", "mode", pi.Mode, "account", a.Login)
	s.oidcLogin(w, r, p, a, pi.Next, "Mode de connexion « "+p.Label()+" » associé à votre compte : vous pourrez désormais vous connecter avec.")
}

// oidcJoin creates a PER account from the Pro Santé Connect claims in the
// structure matching the activity's FINESS, or transmits a request to the
// platform operators (SPEC §4, joining).
func (s *Server) oidcJoin(w http.ResponseWriter, r *http.Request) {
	pi, pid, err := s.pending(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if pi == nil {
		s.noPending(w, r)
		return
	}
	p := s.loginMode(pi.Mode)
	if p == nil || pi.Mode != oidc.ModeCPS {
		http.NotFound(w, r)
		return
	}
	id := pi.Identity
	claims, _ := json.Marshal(id.Claims)
	res, err := s.cfg.Accounts.JoinWithCard(r.Context(), account.CardJoin{Provider: pi.Mode, Subject: id.Subject, NationalID: id.NationalID,
		FirstName: id.FirstName, LastName: id.LastName, Profession: id.Profession, Email: id.Email, FINESS: id.FINESS, SIRET: id.SIRET,
		RaisonSociale: id.RaisonSociale, Claims: string(claims)}, s.cfg.JoinPolicy)
	switch {
	case errors.Is(err, account.ErrDuplicate):
		s.renderAssociate(w, r, pi, http.StatusConflict, associateData{}, map[string]string{"join": "Un compte est déjà associé à cette carte : connectez-vous avec elle."})
		return
	case errors.Is(err, account.ErrInvalid):
		s.renderAssociate(w, r, pi, http.StatusBadRequest, associateData{}, map[string]string{"join": "Les informations transmises par Pro Santé Connect " +
			"ne permettent pas de créer votre compte. Contactez le support."})
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.endPending(w, r, pid)
	if res.Account == nil {
		s.log.Info("web: card join request transmitted", "request", res.Request, "already", res.Already)
		s.renderAssociate(w, r, pi, http.StatusOK, associateData{Request: true}, nil)
		return
	}
	a := res.Account
	s.log.Info("web: account created by card join", "account", a.Login, "mss", a.MSS, "structure", a.Structure)
	s.oidcLogin(w, r, p, a, "/", "Votre compte a été créé dans la structure « "+a.Structure+" » : adresse "+s.cfg.PlatformName+" "+a.Login+
		", adresse MSSanté "+a.MSS+".")
}

package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/hygie-sante/hygie/internal/account"
)

// « Gérer mon compte » — Identifiants de connexion (SPEC §2.2): A. password
// reset by mail; C. accessible accounts, the default account and the
// per-box notification choice. (B, login modes, comes with CPS / PASS.)
// For an organisational box the page shows its associated address and its
// login accounts (SPEC §3).

func init() {
	register("GET /a/{acct}/compte/identifiants", func(s *Server) sessionHandler { return s.credentialsShow })
	register("POST /a/{acct}/compte/identifiants", func(s *Server) sessionHandler { return s.credentialsSave })
	register("POST /a/{acct}/compte/identifiants/reinitialisation", func(s *Server) sessionHandler { return s.credentialsReset })
}

// credentialsData is what templates/credentials_identifiants.html shows.
type credentialsData struct {
	// Default is the id of the account that opens after login.
	Default int64
	Boxes   []account.BoxAccess
	// Members are a box's login accounts (box pages only); Typed is the
	// address typed in « Ajouter », shown again after a refusal.
	Members []*account.Account
	Typed   string
	// Modes is the B block, login modes (person pages only; oidc_modes.go).
	Modes *loginModesBlock
}

func (s *Server) credentialsShow(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	s.renderCredentials(w, r, sess, a, http.StatusOK, nil)
}

func (s *Server) renderCredentials(w http.ResponseWriter, r *http.Request, sess *Session, a *account.Account, status int, errs map[string]string) {
	ctx := r.Context()
	var d credentialsData
	var err error
	if a.IsBox() {
		d.Members, err = s.cfg.Accounts.Members(ctx, a.ID)
		d.Typed = r.FormValue("membre")
	} else {
		if d.Default, err = s.cfg.Accounts.DefaultAccount(ctx, a.ID); err == nil {
			d.Boxes, err = s.cfg.Accounts.BoxAccesses(ctx, a.ID)
		}
		if err == nil {
			d.Modes, err = s.loginModesOf(ctx, a)
		}
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, sess, "credentials_identifiants", status, &view{Title: "Identifiants de connexion", Acting: a,
		Section: "identifiants", Errors: errs, Data: d})
}

// credentialsSave saves « Comptes accessibles »: the default account and,
// per box, « recevoir les notifications sur mon adresse individuelle ».
// These are the person's own choices, so they are saved for the session's
// person, whatever box it is acting for.
func (s *Server) credentialsSave(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	if a.IsBox() {
		http.NotFound(w, r)
		return
	}
	ctx := r.Context()
	boxes, err := s.cfg.Accounts.BoxAccesses(ctx, a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	def, err := strconv.ParseInt(r.FormValue("default"), 10, 64)
	if err != nil {
		s.renderCredentials(w, r, sess, a, http.StatusBadRequest, map[string]string{"default": "Choisissez le compte par défaut."})
		return
	}
	notify := make(map[int64]bool, len(boxes))
	for _, b := range boxes {
		notify[b.Box.ID] = r.FormValue("notify_"+itoa(b.Box.ID)) == "1"
	}
	if err := s.cfg.Accounts.SaveAccess(ctx, a.ID, def, notify); err != nil {
		if isInvalid(err) {
			s.renderCredentials(w, r, sess, a, http.StatusBadRequest, map[string]string{"default": "Ce compte ne fait pas partie de vos comptes accessibles."})
			return
		}
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: accessible accounts saved", "account", a.Login, "default", def)
	redirectFlash(w, r, "/a/"+itoa(a.ID)+"/compte/identifiants", "Modifications enregistrées")
}

// credentialsReset is « Demander la réinitialisation du mot de passe »: a
// single-use link valid one hour, mailed to the person's notification
// address (the session's person: a box has no password).
func (s *Server) credentialsReset(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	if a.IsBox() {
		http.NotFound(w, r)
		return
	}
	sent, err := s.sendReset(r.Context(), sess.User)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !sent {
		s.renderCredentials(w, r, sess, a, http.StatusConflict, map[string]string{"reset": "Aucune adresse de notification n’est associée à votre compte : le lien ne peut pas vous être envoyé. " +
			"Contactez l’administrateur " + s.cfg.PlatformName + " de votre structure."})
		return
	}
	redirectFlash(w, r, "/a/"+itoa(a.ID)+"/compte/identifiants",
		"Un message contenant un lien de réinitialisation a été envoyé à votre adresse de notification "+sess.User.Notify+". Le lien est valable une heure.")
}

func isInvalid(err error) bool { return errors.Is(err, account.ErrInvalid) }

package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/outmail"
	"github.com/hygie-sante/hygie/internal/store"
)

// Sign-up requests (issue 5, point 4; the guide: « Si vous n'avez pas de
// compte Medimail, il faut en créer un »): a public form for a MED account,
// the person's own address confirmed by a mailed link, then the decision
// of the structure's administrators in the console.
//
// The form asks for two addresses: the platform address wanted (the login;
// it does not exist yet, so no link could be read there) and the person's
// personal address outside the platform, which confirms the request,
// receives the decision and the link to set a password, and becomes the
// account's notification address (SPEC §1: notifications go to an
// ordinary mailbox outside the platform).
//
// The answer is the same whether the wanted address is free or taken, and
// whatever the personal address: nothing about existing accounts leaks.
// Requests are throttled per IP.

// passwordSetValidity is how long the link that sets the first password
// of an accepted sign-up works (longer than a reset: the person may read
// the mail days later).
const passwordSetValidity = 7 * 24 * time.Hour

func init() {
	registerPlain("GET /inscription", func(s *Server) http.HandlerFunc { return s.signupShow })
	registerPlain("POST /inscription", func(s *Server) http.HandlerFunc { return s.signupSend })
	registerPlain("GET /inscription/confirmation", func(s *Server) http.HandlerFunc { return s.signupConfirmShow })
	registerPlain("POST /inscription/confirmation", func(s *Server) http.HandlerFunc { return s.signupConfirm })
}

type signupData struct {
	Structures []account.Structure
	Form       map[string]string
	Sent       bool
	Token      string
	Confirmed  bool
	Structure  string
}

func (s *Server) signupStructures(ctx context.Context) ([]account.Structure, error) {
	all, err := s.cfg.Accounts.Structures(ctx)
	if err != nil {
		return nil, err
	}
	var out []account.Structure
	for _, st := range all {
		if !st.Disabled {
			out = append(out, st)
		}
	}
	return out, nil
}

func (s *Server) renderSignup(w http.ResponseWriter, r *http.Request, status int, d signupData, errs map[string]string) {
	if !d.Sent && d.Token == "" && !d.Confirmed {
		var err error
		if d.Structures, err = s.signupStructures(r.Context()); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	if d.Form == nil {
		d.Form = map[string]string{}
	}
	s.render(w, r, nil, "signup", status, &view{Title: "Créer un compte", Data: d, Errors: errs})
}

func (s *Server) signupShow(w http.ResponseWriter, r *http.Request) {
	s.renderSignup(w, r, http.StatusOK, signupData{}, nil)
}

var signupFields = []string{"last_name", "first_name", "login", "email", "structure", "profession"}

func (s *Server) signupSend(w http.ResponseWriter, r *http.Request) {
	form := map[string]string{}
	for _, f := range signupFields {
		form[f] = strings.TrimSpace(r.FormValue(f))
	}
	key := "signup-ip|" + clientIP(r)
	if !s.countRequest(r, key, "") { // each request counts
		s.renderSignup(w, r, http.StatusTooManyRequests, signupData{Form: form},
			map[string]string{"": "Trop de demandes. Réessayez dans quelques minutes."})
		return
	}
	sid, _ := strconv.ParseInt(form["structure"], 10, 64)
	f := account.SignupForm{FirstName: form["first_name"], LastName: form["last_name"], Login: form["login"], Email: form["email"],
		StructureID: sid, Profession: form["profession"]}
	var domains []string
	if s.cfg.Router != nil {
		domains = s.cfg.Router.Domains
	}
	tok := randomToken()
	err := s.cfg.Accounts.SubmitSignup(r.Context(), f, domains, clientIP(r), tok, func(tx *store.Tx, f account.SignupForm) error {
		link := s.cfg.PublicURL + "/inscription/confirmation?jeton=" + tok
		text := fmt.Sprintf("Bonjour,\n\nUne demande de création de compte %s a été faite avec cette adresse personnelle, "+
			"pour l'adresse %s.\nPour confirmer votre adresse et transmettre la demande aux administrateurs de votre structure, "+
			"ouvrez ce lien dans les %d heures :\n\n%s\n\nSi vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n",
			s.cfg.PlatformName, f.Login, int(account.SignupConfirmValidity.Hours()), link)
		return outmail.Enqueue(r.Context(), tx, outmail.Mail{To: f.Email, Subject: s.cfg.PlatformName + " : confirmez votre demande de compte",
			Text: text, Kind: "signup-confirm"})
	})
	if err != nil {
		var ae account.AdminError
		if errors.As(err, &ae) {
			errs := map[string]string{}
			for _, p := range ae {
				errs[p.Field] = adminProblemText(p)
			}
			s.renderSignup(w, r, http.StatusBadRequest, signupData{Form: form}, errs)
			return
		}
		s.fail(w, r, err)
		return
	}
	s.wake()
	s.renderSignup(w, r, http.StatusOK, signupData{Sent: true, Form: form}, nil)
}

func (s *Server) signupConfirmShow(w http.ResponseWriter, r *http.Request) {
	s.renderSignup(w, r, http.StatusOK, signupData{Token: r.URL.Query().Get("jeton")}, nil)
}

// signupConfirm confirms the personal address (a button, not the GET of
// the link, so that a mail scanner opening links confirms nothing).
func (s *Server) signupConfirm(w http.ResponseWriter, r *http.Request) {
	req, err := s.cfg.Accounts.ConfirmSignup(r.Context(), r.FormValue("jeton"))
	if errors.Is(err, account.ErrNotFound) {
		s.renderSignup(w, r, http.StatusGone, signupData{Token: "-"},
			map[string]string{"": "Ce lien de confirmation n'est plus valable (déjà utilisé ou expiré). Faites une nouvelle demande."})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderSignup(w, r, http.StatusOK, signupData{Confirmed: true, Structure: req.Structure}, nil)
}

// signupAccept creates the account of a confirmed request and mails the
// person a link to set its password.
func (s *Server) signupAccept(w http.ResponseWriter, r *http.Request, sess *Session) {
	_, st, ok := s.adminStructureOf(w, r, sess)
	if !ok {
		return
	}
	rid, err := strconv.ParseInt(r.PathValue("rid"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	back := fmt.Sprintf("/admin/s/%d/", st.ID)
	ctx := r.Context()
	a, err := s.cfg.Accounts.AcceptSignup(ctx, actor(sess), st.ID, rid, func(tx *store.Tx, a *account.Account, req *account.SignupRequest) error {
		tok := randomToken()
		now := s.cfg.Now()
		if _, err := tx.Exec(ctx, `INSERT INTO password_resets (id, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			hashToken(tok), a.ID, now.Unix(), now.Add(passwordSetValidity).Unix()); err != nil {
			return err
		}
		text := fmt.Sprintf("Bonjour,\n\nVotre demande de compte %s a été acceptée par les administrateurs de %s.\n"+
			"Votre adresse %s est : %s\n\nPour définir votre mot de passe, ouvrez ce lien dans les 7 jours :\n\n%s/reinitialisation?jeton=%s\n\n"+
			"Ce lien ne sert qu'une fois.\n", s.cfg.PlatformName, st.Name, s.cfg.PlatformName, a.Login, s.cfg.PublicURL, tok)
		return outmail.Enqueue(ctx, tx, outmail.Mail{To: req.Email, Subject: s.cfg.PlatformName + " : votre compte est créé",
			Text: text, Kind: "signup-accepted"})
	})
	if err != nil {
		if errs, ok := adminErrors(err); ok {
			msg := errs[""]
			if m, ok := errs["login"]; ok {
				msg = m
			}
			if errors.Is(err, account.ErrNotFound) {
				msg = "Cette demande a déjà été traitée."
			}
			redirectFlash(w, r, back, "Demande non acceptée : "+msg)
			return
		}
		s.fail(w, r, err)
		return
	}
	s.wake()
	redirectFlash(w, r, back, "Demande acceptée : compte "+a.Login+" créé ; un lien pour définir le mot de passe a été envoyé.")
}

// signupRefuse refuses a confirmed request and tells the person.
func (s *Server) signupRefuse(w http.ResponseWriter, r *http.Request, sess *Session) {
	_, st, ok := s.adminStructureOf(w, r, sess)
	if !ok {
		return
	}
	rid, err := strconv.ParseInt(r.PathValue("rid"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	back := fmt.Sprintf("/admin/s/%d/", st.ID)
	ctx := r.Context()
	err = s.cfg.Accounts.RefuseSignup(ctx, actor(sess), st.ID, rid, func(tx *store.Tx, req *account.SignupRequest) error {
		text := fmt.Sprintf("Bonjour,\n\nVotre demande de compte %s (adresse %s) n'a pas été acceptée par les administrateurs de %s.\n"+
			"Pour plus d'informations, adressez-vous à votre structure.\n", s.cfg.PlatformName, req.Login, st.Name)
		return outmail.Enqueue(ctx, tx, outmail.Mail{To: req.Email, Subject: s.cfg.PlatformName + " : votre demande de compte",
			Text: text, Kind: "signup-refused"})
	})
	if errors.Is(err, account.ErrNotFound) {
		redirectFlash(w, r, back, "Cette demande a déjà été traitée.")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.wake()
	redirectFlash(w, r, back, "Demande refusée ; la personne en est informée.")
}

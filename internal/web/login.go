package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store"
)

type loginData struct{ Login, Next string }

func (s *Server) loginShow(w http.ResponseWriter, r *http.Request) {
	if sess, _ := s.session(r); sess != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, r, nil, "login", http.StatusOK, &view{Title: "Connexion", Data: loginData{Next: r.URL.Query().Get("suite")}})
}

// loginCheck checks the password, throttled per address and per IP, and
// records every attempt in the audit trail.
func (s *Server) loginCheck(w http.ResponseWriter, r *http.Request) {
	login := strings.TrimSpace(r.FormValue("login"))
	next := r.FormValue("suite")
	data := loginData{Login: login, Next: next}
	ip := clientIP(r)
	fail := func(status int, msg string) {
		s.render(w, r, nil, "login", status, &view{Title: "Connexion", Data: data, Errors: map[string]string{"": msg}})
	}
	if login == "" || r.FormValue("password") == "" {
		s.render(w, r, nil, "login", http.StatusBadRequest, &view{Title: "Connexion", Data: data,
			Errors: map[string]string{"login": "Saisissez votre adresse et votre mot de passe."}})
		return
	}
	att, ok := s.tryPassword(r, login)
	if !ok {
		s.cfg.Audit.Login(r.Context(), "web", login, ip, "throttled", "")
		fail(http.StatusTooManyRequests, "Trop de tentatives de connexion. Réessayez dans quelques minutes.")
		return
	}
	a, err := s.cfg.Accounts.AuthenticatePassword(r.Context(), login, r.FormValue("password"))
	if err != nil {
		if !errors.Is(err, account.ErrBadLogin) {
			att.drop(r.Context())
			s.fail(w, r, err)
			return
		}
		s.cfg.Audit.Login(r.Context(), "web", login, ip, "failed", err.Error())
		fail(http.StatusUnauthorized, "Adresse ou mot de passe incorrect.")
		return
	}
	att.succeed(r.Context())
	s.cfg.Audit.Login(r.Context(), "web", a.Login, ip, "ok", "")
	if err := s.startSession(r.Context(), w, r, a); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, localRedirect(next, "/"), http.StatusSeeOther)
}

// logout ends the session in the database and clears the cookie.
func (s *Server) logout(w http.ResponseWriter, r *http.Request, sess *Session) {
	err := s.cfg.St.Tx(r.Context(), func(tx *store.Tx) error {
		_, err := tx.Exec(r.Context(), `DELETE FROM web_sessions WHERE id = ?`, sess.ID)
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.cfg.SecureCookies, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, "/connexion", http.StatusSeeOther)
}

// home opens the default account (SPEC §2, Identifiants C.1), or the one
// chosen in the account switcher.
func (s *Server) home(w http.ResponseWriter, r *http.Request, sess *Session) {
	if c := r.URL.Query().Get("compte"); c != "" {
		http.Redirect(w, r, "/a/"+urlPathEscape(c)+"/mail/", http.StatusSeeOther)
		return
	}
	id, err := s.cfg.Accounts.DefaultAccount(r.Context(), sess.User.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/a/"+itoa(id)+"/mail/", http.StatusSeeOther)
}

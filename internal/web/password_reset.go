package web

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/auth"
	"github.com/hygie-sante/hygie/internal/outmail"
	"github.com/hygie-sante/hygie/internal/store"
)

// resetValidity is how long a password-reset link works (issue: one hour).
const resetValidity = time.Hour

// sendReset creates a single-use reset token for a and mails its link to
// the account's notification address (the person's ordinary mailbox: the
// platform mailbox cannot be read without the password). It reports
// whether a mail was queued.
func (s *Server) sendReset(ctx context.Context, a *account.Account) (bool, error) {
	if a.Notify == "" || a.IsBox() || a.Disabled {
		s.log.Warn("web: password reset not sent", "account", a.Login, "reason", "no notification address or not a person")
		return false, nil
	}
	tok := randomToken()
	now := s.cfg.Now()
	link := s.cfg.PublicURL + "/reinitialisation?jeton=" + tok
	text := fmt.Sprintf("Bonjour,\n\nUne réinitialisation du mot de passe de votre compte %s (%s) a été demandée.\n"+
		"Pour définir un nouveau mot de passe, ouvrez ce lien dans l'heure qui vient :\n\n%s\n\n"+
		"Ce lien ne sert qu'une fois. Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.\n",
		s.cfg.PlatformName, a.Login, link)
	err := s.cfg.St.Tx(ctx, func(tx *store.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO password_resets (id, account_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			hashToken(tok), a.ID, now.Unix(), now.Add(resetValidity).Unix()); err != nil {
			return err
		}
		return outmail.Enqueue(ctx, tx, outmail.Mail{To: a.Notify, Subject: s.cfg.PlatformName + " : réinitialisation du mot de passe",
			Text: text, Kind: "password-reset"})
	})
	if err != nil {
		return false, fmt.Errorf("password reset: %w", err)
	}
	s.wake()
	return true, nil
}

type forgotData struct {
	Login string
	Sent  bool
}

func (s *Server) forgotShow(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, nil, "forgot", http.StatusOK, &view{Title: "Mot de passe oublié ?", Data: forgotData{}})
}

// forgotSend answers the same whatever the address, so that it reveals
// nothing about which accounts exist; it is throttled per IP.
func (s *Server) forgotSend(w http.ResponseWriter, r *http.Request) {
	login := strings.TrimSpace(r.FormValue("login"))
	if login == "" {
		s.render(w, r, nil, "forgot", http.StatusBadRequest, &view{Title: "Mot de passe oublié ?", Data: forgotData{},
			Errors: map[string]string{"login": "Saisissez l'adresse de votre compte."}})
		return
	}
	// Each request counts, per IP and per person, so that nobody floods a
	// mailbox with resets.
	if !s.countRequest(r, "forgot-ip|"+clientIP(r), "forgot|"+s.cfg.Accounts.LoginKey(r.Context(), login)) {
		s.render(w, r, nil, "forgot", http.StatusTooManyRequests, &view{Title: "Mot de passe oublié ?", Data: forgotData{Login: login},
			Errors: map[string]string{"": "Trop de demandes. Réessayez dans quelques minutes."}})
		return
	}
	if a, err := s.cfg.Accounts.ByAddress(r.Context(), login); err == nil {
		if _, err := s.sendReset(r.Context(), a); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.render(w, r, nil, "forgot", http.StatusOK, &view{Title: "Mot de passe oublié ?", Data: forgotData{Sent: true}})
}

type resetData struct{ Token string }

// resetAccount returns the account of a valid, unused, unexpired token.
func (s *Server) resetAccount(ctx context.Context, tok string) (int64, error) {
	var id, expires, used int64
	err := s.cfg.St.QueryRow(ctx, `SELECT account_id, expires_at, used_at FROM password_resets WHERE id = ?`, hashToken(tok)).Scan(&id, &expires, &used)
	if errors.Is(err, sql.ErrNoRows) || err == nil && (used != 0 || s.cfg.Now().Unix() >= expires) {
		return 0, errBadToken
	}
	return id, err
}

var errBadToken = errors.New("bad token")

const badTokenMsg = "Ce lien de réinitialisation n'est plus valable (déjà utilisé ou expiré). Faites une nouvelle demande."

func (s *Server) resetShow(w http.ResponseWriter, r *http.Request) {
	tok := r.URL.Query().Get("jeton")
	if _, err := s.resetAccount(r.Context(), tok); err != nil {
		if !errors.Is(err, errBadToken) {
			s.fail(w, r, err)
			return
		}
		s.render(w, r, nil, "reset", http.StatusGone, &view{Title: "Nouveau mot de passe", Errors: map[string]string{"": badTokenMsg}})
		return
	}
	s.render(w, r, nil, "reset", http.StatusOK, &view{Title: "Nouveau mot de passe", Data: resetData{Token: tok}})
}

// resetSave sets the new password, uses up the token and ends every other
// session of the account, in one transaction.
func (s *Server) resetSave(w http.ResponseWriter, r *http.Request) {
	tok := r.FormValue("jeton")
	v := &view{Title: "Nouveau mot de passe", Data: resetData{Token: tok}}
	pw, confirm := r.FormValue("password"), r.FormValue("confirm")
	if err := auth.CheckPasswordPolicy(pw); err != nil {
		v.Errors = map[string]string{"password": fmt.Sprintf("Le mot de passe doit compter au moins %d caractères.", auth.MinPasswordLength)}
		s.render(w, r, nil, "reset", http.StatusBadRequest, v)
		return
	}
	if pw != confirm {
		v.Errors = map[string]string{"confirm": "Les deux saisies ne sont pas identiques."}
		s.render(w, r, nil, "reset", http.StatusBadRequest, v)
		return
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	keep := ""
	if sess, _ := s.session(r); sess != nil {
		keep = sess.ID
	}
	ctx := r.Context()
	err = s.cfg.St.Tx(ctx, func(tx *store.Tx) error {
		var id int64
		var expires, used int64
		err := tx.QueryRow(ctx, `SELECT account_id, expires_at, used_at FROM password_resets WHERE id = ?`, hashToken(tok)).Scan(&id, &expires, &used)
		if errors.Is(err, sql.ErrNoRows) || err == nil && (used != 0 || s.cfg.Now().Unix() >= expires) {
			return errBadToken
		}
		if err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE password_resets SET used_at = ? WHERE id = ?`, s.cfg.Now().Unix(), hashToken(tok)); err != nil {
			return err
		}
		if err := account.SetPasswordHashTx(ctx, tx, id, hash); err != nil {
			return err
		}
		return EndSessions(ctx, tx, id, keep)
	})
	if errors.Is(err, errBadToken) {
		v.Errors = map[string]string{"": badTokenMsg}
		s.render(w, r, nil, "reset", http.StatusGone, v)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirectFlash(w, r, "/connexion", "Votre mot de passe a été modifié. Connectez-vous avec le nouveau mot de passe.")
}

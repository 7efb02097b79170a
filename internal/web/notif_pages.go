package web

import (
	"errors"
	"net/http"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/notify"
)

// « Gérer mon compte » — Notifications (SPEC §2.5): A. reception
// notifications (one per message received; a daily one), B. opening
// notifications, and the notification address they go to. The rules of
// what is sent live in package notify.

func init() {
	register("GET /a/{acct}/compte/notifications", func(s *Server) sessionHandler { return s.notifShow })
	register("POST /a/{acct}/compte/notifications", func(s *Server) sessionHandler { return s.notifSave })
}

type notifData struct {
	S notify.Settings
}

func (s *Server) notifShow(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	st, err := notify.LoadSettings(r.Context(), s.cfg.St, a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderNotif(w, r, sess, a, st, http.StatusOK, nil)
}

func (s *Server) renderNotif(w http.ResponseWriter, r *http.Request, sess *Session, a *account.Account, st notify.Settings, status int, errs map[string]string) {
	s.render(w, r, sess, "notif_settings", status, &view{Title: "Notifications", Acting: a, Section: "notifications",
		Errors: errs, Data: notifData{S: st}})
}

// notifSave stores the three choices and, for a person, its notification
// address; a box's associated address is shown but set by an administrator.
func (s *Server) notifSave(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	st := notify.Settings{Each: r.FormValue("notify_each") == "1", Daily: r.FormValue("notify_daily") == "1",
		Open: r.FormValue("notify_open") == "1", Notify: r.FormValue("notify")}
	setAddress := !a.IsBox()
	if !setAddress {
		st.Notify = a.Notify
	}
	err := notify.SaveSettings(r.Context(), s.cfg.St, s.cfg.Accounts, a.ID, st, setAddress)
	var msg string
	switch {
	case err == nil:
		s.log.Info("web: notification settings saved", "account", a.Login, "each", st.Each, "daily", st.Daily,
			"open", st.Open, "by", sess.User.Login)
		s.boxSettingsSaved(r, sess, a, "Notifications")
		redirectFlash(w, r, "/a/"+itoa(a.ID)+"/compte/notifications", "Modifications enregistrées")
		return
	case errors.Is(err, notify.ErrNoAddress):
		msg = "Saisissez l’adresse de messagerie (Outlook, Gmail…) qui recevra les notifications."
	case errors.Is(err, notify.ErrBadAddress):
		msg = "Cette adresse de messagerie n’est pas valide (exemple : prenom.nom@exemple.fr)."
	case errors.Is(err, notify.ErrPlatformAddress):
		msg = "Indiquez une adresse de messagerie ordinaire (Outlook, Gmail…) et non une adresse " + s.cfg.PlatformName +
			" : les notifications sont envoyées en dehors de la messagerie sécurisée."
	default:
		s.fail(w, r, err)
		return
	}
	s.renderNotif(w, r, sess, a, st, http.StatusBadRequest, map[string]string{"notify": msg})
}

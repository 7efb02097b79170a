package web

import (
	"errors"
	"html/template"
	"net/http"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/htmlsafe"
)

// « Gérer mon compte » — Réponse automatique (SPEC §2.4): « Activer la
// réponse automatique », start and end dates, « Objet » and a rich-text
// body. The replies themselves are sent by the delivery pipeline
// (internal/autoreply).

func init() {
	register("GET /a/{acct}/compte/reponse-automatique", func(s *Server) sessionHandler { return s.autoreplyShow })
	register("POST /a/{acct}/compte/reponse-automatique", func(s *Server) sessionHandler { return s.autoreplySave })
}

// autoreplyData is what templates/autoreply_settings.html shows.
type autoreplyData struct {
	Enabled             bool
	Start, End, Subject string
	HTML                template.HTML
}

// Editor is the rich-text editor of the body.
func (d autoreplyData) Editor() richText {
	return richText{ID: "autoreply-body", Name: "html", Label: "Corps du message", HTML: d.HTML}
}

func (s *Server) autoreplyShow(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	ar, err := s.cfg.Accounts.AutoReplyOf(r.Context(), a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := autoreplyData{Enabled: ar.Enabled, Start: ar.Start, End: ar.End, Subject: ar.Subject, HTML: template.HTML(htmlsafe.Sanitize(ar.HTML))}
	s.render(w, r, sess, "autoreply_settings", http.StatusOK, &view{Title: "Réponse automatique", Acting: a, Section: "reponse-automatique", Data: d})
}

func (s *Server) autoreplySave(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	// The form (up to the sanitiser's limits, images inline) was already
	// read by the CSRF check, within net/http's 10 MB bound.
	if err := r.ParseForm(); err != nil {
		http.Error(w, "Formulaire trop volumineux : réduisez la taille des images.", http.StatusRequestEntityTooLarge)
		return
	}
	ar := account.AutoReply{Enabled: r.PostFormValue("enabled") == "1", Start: r.PostFormValue("start"), End: r.PostFormValue("end"),
		Subject: r.PostFormValue("subject"), HTML: r.PostFormValue("html")}
	saved, err := s.cfg.Accounts.SaveAutoReply(r.Context(), a.ID, ar)
	if err != nil {
		field, msg := autoreplyMessage(err)
		if msg == "" {
			s.fail(w, r, err)
			return
		}
		d := autoreplyData{Enabled: ar.Enabled, Start: ar.Start, End: ar.End, Subject: ar.Subject, HTML: template.HTML(htmlsafe.Sanitize(ar.HTML))}
		s.render(w, r, sess, "autoreply_settings", http.StatusBadRequest, &view{Title: "Réponse automatique", Acting: a,
			Section: "reponse-automatique", Data: d, Errors: map[string]string{field: msg}})
		return
	}
	s.log.Info("web: automatic reply saved", "account", a.Login, "enabled", saved.Enabled, "start", saved.Start, "end", saved.End,
		"period", saved.Period, "by", sess.User.Login)
	s.boxSettingsSaved(r, sess, a, "Réponse automatique")
	redirectFlash(w, r, "/a/"+itoa(a.ID)+"/compte/reponse-automatique", "Modifications enregistrées")
}

// autoreplyMessage is the field and French reason of a refused automatic
// reply, or "" for an internal error.
func autoreplyMessage(err error) (field, msg string) {
	switch {
	case errors.Is(err, account.ErrAutoReplyDateOrder):
		return "end", "La date de fin doit être postérieure ou égale à la date de début."
	case errors.Is(err, account.ErrAutoReplyStartDate):
		return "start", "La date de début n’est pas une date valide."
	case errors.Is(err, account.ErrAutoReplyEndDate):
		return "end", "La date de fin n’est pas une date valide."
	case errors.Is(err, account.ErrAutoReplySubject):
		return "subject", "L’objet ne peut dépasser 200 caractères ni contenir de retour à la ligne."
	case errors.Is(err, account.ErrAutoReplyTooLarge):
		return "html", "Le message est trop volumineux (512 Ko au plus, images comprises) : réduisez ou retirez des images."
	}
	return "", ""
}

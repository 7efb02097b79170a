package web

import (
	"errors"
	"html/template"
	"net/http"
	"strconv"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/htmlsafe"
)

// « Gérer mon compte » — Signatures (SPEC §2.3): any number of signatures,
// each with « Intitulé », rich-text « contenu » and « Signature par
// défaut »; « Ajouter une signature »; delete with the cross. The editor is
// static/richtext.js; the server sanitises (htmlsafe) before storing and
// before showing.

func init() {
	register("GET /a/{acct}/compte/signatures", func(s *Server) sessionHandler { return s.signatureShow })
	register("POST /a/{acct}/compte/signatures", func(s *Server) sessionHandler { return s.signatureSave })
	register("POST /a/{acct}/compte/signatures/{id}/supprimer", func(s *Server) sessionHandler { return s.signatureDelete })
}

// signatureForm is one signature's form.
type signatureForm struct {
	ID    int64
	Label string
	// HTML is sanitised before it becomes template.HTML.
	HTML    template.HTML
	Default bool
	Errors  map[string]string
}

// signatureData is what templates/signature_list.html shows.
type signatureData struct {
	Forms []signatureForm
	// Box is set for an organisational box: the label is visible to its
	// members, not private.
	Box bool
}

func (s *Server) signatureShow(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	s.renderSignatures(w, r, sess, a, http.StatusOK, nil, r.URL.Query().Get("ajout") != "")
}

// renderSignatures shows the signatures of a; failed, when not nil, is a
// refused form shown again with its errors in place of the stored one (or
// after them, for a new signature); blank adds an empty form for « Ajouter
// une signature ».
func (s *Server) renderSignatures(w http.ResponseWriter, r *http.Request, sess *Session, a *account.Account, status int, failed *signatureForm, blank bool) {
	sigs, err := s.cfg.Accounts.Signatures(r.Context(), a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := signatureData{Box: a.IsBox()}
	for _, sig := range sigs {
		f := signatureForm{ID: sig.ID, Label: sig.Label, HTML: template.HTML(htmlsafe.Sanitize(sig.HTML)), Default: sig.Default}
		if failed != nil && failed.ID == sig.ID {
			f = *failed
		}
		d.Forms = append(d.Forms, f)
	}
	switch {
	case failed != nil && failed.ID == 0:
		d.Forms = append(d.Forms, *failed)
	case blank || len(sigs) == 0:
		d.Forms = append(d.Forms, signatureForm{})
	}
	s.render(w, r, sess, "signature_list", status, &view{Title: "Signatures", Acting: a, Section: "signatures", Data: d})
}

func (s *Server) signatureSave(w http.ResponseWriter, r *http.Request, sess *Session) {
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
	var id int64
	if v := r.PostFormValue("id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			http.NotFound(w, r)
			return
		}
		id = n
	}
	sig := account.Signature{ID: id, Label: r.PostFormValue("label"), HTML: r.PostFormValue("html"), Default: r.PostFormValue("default") == "1"}
	saved, err := s.cfg.Accounts.SaveSignature(r.Context(), a.ID, sig)
	if errors.Is(err, account.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		field, msg := signatureMessage(err)
		if msg == "" {
			s.fail(w, r, err)
			return
		}
		f := &signatureForm{ID: id, Label: sig.Label, HTML: template.HTML(htmlsafe.Sanitize(sig.HTML)), Default: sig.Default,
			Errors: map[string]string{field: msg}}
		s.renderSignatures(w, r, sess, a, http.StatusBadRequest, f, false)
		return
	}
	s.log.Info("web: signature saved", "account", a.Login, "signature", saved.ID, "default", saved.Default, "by", sess.User.Login)
	s.boxLog(r.Context(), a, sess.User, account.JournalSettings, "a enregistré la signature « "+saved.Label+" »")
	redirectFlash(w, r, "/a/"+itoa(a.ID)+"/compte/signatures#signature-"+itoa(saved.ID), "Modifications enregistrées")
}

// signatureMessage is the field and French reason of a refused signature,
// or "" for an internal error.
func signatureMessage(err error) (field, msg string) {
	switch {
	case errors.Is(err, account.ErrSignatureLabelRequired):
		return "label", "Renseignez le champ « Intitulé »."
	case errors.Is(err, account.ErrSignatureLabelTooLong):
		return "label", "L’intitulé ne peut dépasser " + strconv.Itoa(account.MaxSignatureLabelLen) + " caractères."
	case errors.Is(err, account.ErrSignatureTooLarge):
		return "html", "La signature est trop volumineuse (512 Ko au plus, images comprises) : réduisez ou retirez des images."
	case errors.Is(err, account.ErrInvalid):
		return "label", "L’intitulé contient des caractères non autorisés."
	}
	return "", ""
}

func (s *Server) signatureDelete(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	err = s.cfg.Accounts.DeleteSignature(r.Context(), a.ID, id)
	if errors.Is(err, account.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: signature deleted", "account", a.Login, "signature", id, "by", sess.User.Login)
	s.boxLog(r.Context(), a, sess.User, account.JournalSettings, "a supprimé une signature")
	redirectFlash(w, r, "/a/"+itoa(a.ID)+"/compte/signatures", "Signature supprimée")
}

// richText is what the "richtext" template (templates/_richtext.html)
// needs: the editor's id, the hidden field that carries its HTML, the
// sanitised HTML to start from and the editor's accessible name.
type richText struct {
	ID, Name, Label string
	HTML            template.HTML
}

// Source is the HTML as text, for the hidden field's initial value.
func (t richText) Source() string { return string(t.HTML) }

// Editor is the rich-text editor of the form's « contenu ».
func (f signatureForm) Editor() richText {
	id := "new"
	if f.ID != 0 {
		id = itoa(f.ID)
	}
	return richText{ID: "content-" + id, Name: "html", Label: "Contenu", HTML: f.HTML}
}

// Key names the form's fields uniquely in the page ("new" for a new one).
func (f signatureForm) Key() string {
	if f.ID == 0 {
		return "new"
	}
	return itoa(f.ID)
}

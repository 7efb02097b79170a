package web

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/hygie-sante/hygie/internal/account"
)

// « Gérer mon compte » — Informations personnelles (SPEC §2.1): A. données
// personnelles, B. activité (with the account type explained), C.
// visibilité dans les annuaires. Each part is its own form with its own
// « Enregistrer ».

func init() {
	register("GET /a/{acct}/compte/informations", func(s *Server) sessionHandler { return s.profileShow })
	register("POST /a/{acct}/compte/informations", func(s *Server) sessionHandler { return s.profileSave })
}

// profileData is what templates/profile_informations.html shows.
type profileData struct {
	P *account.Profile
	// Box holds a box's fields that only an administrator changes (FINESS,
	// responsable du compte, description), shown read-only.
	Box *account.BoxDetails
}

// accountMenu is « Gérer mon compte » (reached by clicking one's name): the
// section menu, opened on Informations personnelles.
func (s *Server) accountMenu(w http.ResponseWriter, r *http.Request, sess *Session) {
	s.profileShow(w, r, sess)
}

func (s *Server) profileShow(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	p, err := s.cfg.Accounts.Profile(r.Context(), a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderProfile(w, r, sess, a, p, http.StatusOK, nil)
}

func (s *Server) renderProfile(w http.ResponseWriter, r *http.Request, sess *Session, a *account.Account, p *account.Profile, status int, errs map[string]string) {
	d := profileData{P: p}
	if a.IsBox() {
		box, err := s.cfg.Accounts.BoxDetails(r.Context(), a.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.Box = box
	}
	s.render(w, r, sess, "profile_informations", status, &view{Title: "Informations personnelles", Acting: a,
		Section: "informations", Errors: errs, Data: d})
}

// profileSave saves the part named by the form's « partie »: données,
// activité or visibilité. Refused fields are shown again, as typed, with
// French messages next to them.
func (s *Server) profileSave(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	ctx := r.Context()
	p, err := s.cfg.Accounts.Profile(ctx, a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch r.FormValue("partie") {
	case "donnees":
		pd := account.PersonalData{FirstName: r.FormValue("first_name"), LastName: r.FormValue("last_name"),
			Phone: r.FormValue("phone"), PostalAddress: r.FormValue("postal_address")}
		err = s.cfg.Accounts.UpdatePersonalData(ctx, a.ID, pd)
		p.FirstName, p.LastName, p.Phone, p.PostalAddress = pd.FirstName, pd.LastName, pd.Phone, pd.PostalAddress
	case "activite":
		act := account.Activity{RaisonSociale: r.FormValue("raison_sociale"), Profession: r.FormValue("profession"),
			Specialite: r.FormValue("specialite")}
		if a.IsBox() {
			// A box's form has only the raison sociale.
			act.Profession, act.Specialite = p.Profession, p.Specialite
		}
		err = s.cfg.Accounts.UpdateActivity(ctx, a.ID, act)
		p.RaisonSociale, p.Profession, p.Specialite = act.RaisonSociale, act.Profession, act.Specialite
	case "visibilite":
		err = s.cfg.Accounts.SetVisibility(ctx, a.ID, r.FormValue("visible_login") == "1", r.FormValue("visible_mss") == "1")
	default:
		http.Error(w, "Formulaire inconnu.", http.StatusBadRequest)
		return
	}
	var bad account.InvalidFields
	if errors.As(err, &bad) {
		s.renderProfile(w, r, sess, a, p, http.StatusBadRequest, fieldMessages(bad))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: profile saved", "account", a.Login, "by", sess.User.Login, "part", r.FormValue("partie"))
	s.boxSettingsSaved(r, sess, a, "Informations personnelles")
	redirectFlash(w, r, "/a/"+itoa(a.ID)+"/compte/informations", "Modifications enregistrées")
}

// fieldMessages translates refused fields into French messages by field.
func fieldMessages(bad account.InvalidFields) map[string]string {
	out := map[string]string{}
	for _, f := range bad {
		out[f.Field] = fieldMessage(f)
	}
	return out
}

func fieldMessage(f account.FieldError) string {
	switch f.Problem {
	case account.ProblemRequired:
		switch f.Field {
		case "last_name":
			return "Saisissez votre nom."
		case "first_name":
			return "Saisissez votre prénom."
		}
		return "Ce champ est obligatoire."
	case account.ProblemTooLong:
		return fmt.Sprintf("Ce champ ne peut pas dépasser %d caractères.", f.Max)
	case account.ProblemPhone:
		return fmt.Sprintf("Numéro de téléphone invalide : chiffres et espaces uniquement, précédés éventuellement de « + » (de 4 à %d chiffres).", account.MaxPhoneDigits)
	case account.ProblemControl:
		return "Ce champ contient des caractères non autorisés."
	}
	return "Valeur invalide."
}

package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store"
)

// The administration console (SPEC §1, issue 5): structure administrators
// manage their own structure's accounts and boxes; platform operators
// manage structures and their administrators, and see the outbound queue,
// the trust space and the card joins (admin_operator.go). Every handler
// checks the role first: a person without any role gets 404 (the console
// is not revealed), an administrator outside its structures 404, a
// structure administrator on an operator page 403. Every change is
// recorded in the journal (account.RecordChangeTx).

func init() {
	register("GET /admin/{$}", func(s *Server) sessionHandler { return s.adminHome })
	register("GET /admin/journal", func(s *Server) sessionHandler { return s.adminJournal })
	register("GET /admin/s/{sid}/{$}", func(s *Server) sessionHandler { return s.adminStructure })
	register("POST /admin/s/{sid}/comptes", func(s *Server) sessionHandler { return s.adminCreateAccount })
	register("GET /admin/s/{sid}/comptes/{id}", func(s *Server) sessionHandler { return s.adminAccount })
	register("POST /admin/s/{sid}/comptes/{id}", func(s *Server) sessionHandler { return s.adminAccountSave })
	register("POST /admin/s/{sid}/comptes/{id}/etat", func(s *Server) sessionHandler { return s.adminAccountState })
	register("POST /admin/s/{sid}/comptes/{id}/reinitialisation", func(s *Server) sessionHandler { return s.adminAccountReset })
	register("POST /admin/s/{sid}/comptes/{id}/membres", func(s *Server) sessionHandler { return s.adminMemberAdd })
	register("POST /admin/s/{sid}/comptes/{id}/membres/{mid}/retirer", func(s *Server) sessionHandler { return s.adminMemberRemove })
	register("POST /admin/s/{sid}/inscriptions/{rid}/accepter", func(s *Server) sessionHandler { return s.signupAccept })
	register("POST /admin/s/{sid}/inscriptions/{rid}/refuser", func(s *Server) sessionHandler { return s.signupRefuse })
}

// actor is the journal's name for the session's person.
func actor(sess *Session) account.Actor {
	return account.Actor{ID: sess.User.ID, Login: sess.User.Login}
}

// adminRoles returns the person's roles, answering 404 to a person
// without any.
func (s *Server) adminRoles(w http.ResponseWriter, r *http.Request, sess *Session) (account.Roles, bool) {
	roles, err := s.cfg.Accounts.RolesOf(r.Context(), sess.User.ID)
	if err != nil {
		s.fail(w, r, err)
		return roles, false
	}
	if !roles.IsAdmin() {
		http.NotFound(w, r)
		return roles, false
	}
	return roles, true
}

// adminStructureOf checks the role and returns the structure named by
// {sid} when the person administers it; otherwise 404.
func (s *Server) adminStructureOf(w http.ResponseWriter, r *http.Request, sess *Session) (account.Roles, *account.Structure, bool) {
	roles, ok := s.adminRoles(w, r, sess)
	if !ok {
		return roles, nil, false
	}
	sid, err := strconv.ParseInt(r.PathValue("sid"), 10, 64)
	if err != nil || !roles.Administers(sid) {
		http.NotFound(w, r)
		return roles, nil, false
	}
	st, err := s.cfg.Accounts.StructureByID(r.Context(), sid)
	if err != nil {
		http.NotFound(w, r)
		return roles, nil, false
	}
	return roles, st, true
}

// adminAccountOf returns the structure and the account {id} in it.
func (s *Server) adminAccountOf(w http.ResponseWriter, r *http.Request, sess *Session) (account.Roles, *account.Structure, *account.Account, bool) {
	roles, st, ok := s.adminStructureOf(w, r, sess)
	if !ok {
		return roles, nil, nil, false
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return roles, nil, nil, false
	}
	a, err := s.cfg.Accounts.ByID(r.Context(), id)
	if err != nil || a.StructureID != st.ID {
		http.NotFound(w, r)
		return roles, nil, nil, false
	}
	return roles, st, a, true
}

type adminHomeData struct {
	Roles      account.Roles
	Structures []account.Structure
	// Name and FINESS are the structure creation form as typed.
	Name, FINESS string
}

func (s *Server) adminHome(w http.ResponseWriter, r *http.Request, sess *Session) {
	roles, ok := s.adminRoles(w, r, sess)
	if !ok {
		return
	}
	s.renderAdminHome(w, r, sess, roles, http.StatusOK, nil)
}

// renderAdminHome shows the structures; after a refused creation, the
// form as typed (r's name and finess values) with the errors.

func (s *Server) renderAdminHome(w http.ResponseWriter, r *http.Request, sess *Session, roles account.Roles, status int, errs map[string]string) {
	all, err := s.cfg.Accounts.Structures(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := adminHomeData{Roles: roles}
	if errs != nil {
		d.Name, d.FINESS = r.FormValue("name"), r.FormValue("finess")
	}
	for _, st := range all {
		if roles.Administers(st.ID) {
			d.Structures = append(d.Structures, st)
		}
	}
	s.render(w, r, sess, "admin_home", status, &view{Title: "Administration", Errors: errs, Data: d})
}

type adminStructureData struct {
	Roles     account.Roles
	Structure *account.Structure
	Accounts  []*account.Account
	Admins    []*account.Account
	Signups   []*account.SignupRequest
	// Form is the account creation form as typed, after a refusal.
	Form map[string]string
}

func (s *Server) adminStructure(w http.ResponseWriter, r *http.Request, sess *Session) {
	roles, st, ok := s.adminStructureOf(w, r, sess)
	if !ok {
		return
	}
	s.renderAdminStructure(w, r, sess, roles, st, http.StatusOK, nil, nil)
}

func (s *Server) renderAdminStructure(w http.ResponseWriter, r *http.Request, sess *Session, roles account.Roles,
	st *account.Structure, status int, errs, form map[string]string) {
	ctx := r.Context()
	d := adminStructureData{Roles: roles, Structure: st, Form: form}
	var err error
	if d.Accounts, err = s.cfg.Accounts.ListByStructure(ctx, st.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Admins, err = s.cfg.Accounts.StructureAdmins(ctx, st.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Signups, err = s.cfg.Accounts.SignupRequests(ctx, st.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	if d.Form == nil {
		d.Form = map[string]string{"kind": "MED"}
	}
	s.render(w, r, sess, "admin_structure", status, &view{Title: "Administration — " + st.Name, Errors: errs, Data: d})
}

// adminProblemText is the French message of a refused field.
func adminProblemText(p account.AdminProblem) string {
	switch p.Code {
	case "required":
		if p.Field == "structure" {
			return "Choisissez une structure dans la liste."
		}
		return "Ce champ est obligatoire."
	case "address":
		return "Cette adresse n'est pas valable (exemple : prenom.nom@exemple.fr)."
	case "taken":
		return "Cette adresse est déjà utilisée par un compte."
	case "digits":
		if p.Field == "rpps" {
			return "Le numéro RPPS compte 11 chiffres."
		}
		return "Le numéro FINESS compte 9 chiffres."
	case "box_kind":
		return "Une boîte organisationnelle reste de type ORG, et un compte individuel ne peut pas devenir une boîte."
	case "mss_required":
		return "Les comptes PER et INT et les boîtes organisationnelles ont une adresse MSSanté : saisissez-la."
	case "too_long":
		return "Ce texte est trop long."
	case "domain":
		return "Cette adresse doit être dans un domaine de la plateforme."
	case "platform":
		return "Indiquez votre adresse personnelle actuelle, hors de la plateforme."
	}
	return "Valeur refusée."
}

// adminErrors turns a refusal into French messages per field; ok is false
// for an internal error.
func adminErrors(err error) (map[string]string, bool) {
	var ae account.AdminError
	if errors.As(err, &ae) {
		m := map[string]string{}
		for _, p := range ae {
			m[p.Field] = adminProblemText(p)
		}
		return m, true
	}
	switch {
	case errors.Is(err, account.ErrDuplicate):
		return map[string]string{"": "Cette adresse est déjà utilisée par un compte, ou ce rôle est déjà attribué."}, true
	case errors.Is(err, account.ErrNotFound):
		return map[string]string{"": "Aucun compte ne correspond à cette adresse."}, true
	case errors.Is(err, account.ErrDisabled):
		return map[string]string{"": "Cette structure est désactivée."}, true
	case errors.Is(err, account.ErrInvalid):
		return map[string]string{"": createProblem(err.Error())}, true
	}
	return nil, false
}

// createProblem translates the reasons account.NewAccount gives.
func createProblem(msg string) string {
	for _, t := range []struct{ in, out string }{
		{"MSSanté address", "L'adresse MSSanté n'est pas valable."},
		{"notification address", "L'adresse de notification n'est pas valable."},
		{"address:", "L'adresse n'est pas valable (exemple : prenom.nom@exemple.fr)."},
		{"MED account has no MSSanté", "Un compte MED n'a pas d'adresse MSSanté."},
		{"MED account is for professionals without RPPS", "Un compte MED est pour un professionnel sans RPPS : choisissez PER."},
		{"box needs a name", "Une boîte organisationnelle a un nom (raison sociale)."},
		{"box needs an MSSanté", "Une boîte organisationnelle a une adresse MSSanté."},
		{"first and last names", "Le nom et le prénom sont obligatoires."},
		{"RPPS must be", "Le numéro RPPS compte 11 chiffres."},
		{"FINESS must be", "Le numéro FINESS compte 9 chiffres."},
		{"structure name is empty", "Le nom de la structure est obligatoire."},
		{"not an organisational box", "Ce compte n'est pas une boîte organisationnelle."},
		{"box cannot be a member", "Une boîte ne peut pas être membre d'une boîte."},
		{"organisational box, not a person", "Seul un compte individuel peut recevoir ce rôle."},
		{"last", "Une boîte garde au moins un compte de connexion."},
	} {
		if strings.Contains(msg, t.in) {
			return t.out
		}
	}
	return "Valeur refusée."
}

var adminCreateFields = []string{"kind", "login", "mss", "first_name", "last_name", "label", "rpps", "finess", "notify"}

func (s *Server) adminCreateAccount(w http.ResponseWriter, r *http.Request, sess *Session) {
	roles, st, ok := s.adminStructureOf(w, r, sess)
	if !ok {
		return
	}
	form := map[string]string{}
	for _, f := range adminCreateFields {
		form[f] = strings.TrimSpace(r.FormValue(f))
	}
	kind, err := account.ParseKind(form["kind"])
	errs := map[string]string{}
	if err != nil {
		errs["kind"] = "Choisissez un type de compte."
	} else {
		n := account.NewAccount{Structure: st.Name, Kind: kind, Login: form["login"], MSS: form["mss"], FirstName: form["first_name"],
			LastName: form["last_name"], Label: form["label"], RPPS: form["rpps"], FINESS: form["finess"], Notify: form["notify"]}
		var a *account.Account
		if a, err = s.cfg.Accounts.AdminCreate(r.Context(), actor(sess), n); err == nil {
			redirectFlash(w, r, fmt.Sprintf("/admin/s/%d/comptes/%d", st.ID, a.ID), "Compte créé : "+a.Login)
			return
		}
		m, ok := adminErrors(err)
		if !ok {
			s.fail(w, r, err)
			return
		}
		errs = m
	}
	s.renderAdminStructure(w, r, sess, roles, st, http.StatusBadRequest, errs, form)
}

type adminAccountData struct {
	Roles     account.Roles
	Structure *account.Structure
	A         *account.Account
	F         account.AdminFields
	Members   []*account.Account
	Kinds     []account.Kind
}

func (s *Server) adminAccount(w http.ResponseWriter, r *http.Request, sess *Session) {
	roles, st, a, ok := s.adminAccountOf(w, r, sess)
	if !ok {
		return
	}
	f, err := s.cfg.Accounts.AdminFieldsOf(r.Context(), a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.renderAdminAccount(w, r, sess, roles, st, a, f, http.StatusOK, nil)
}

func (s *Server) renderAdminAccount(w http.ResponseWriter, r *http.Request, sess *Session, roles account.Roles, st *account.Structure,
	a *account.Account, f account.AdminFields, status int, errs map[string]string) {
	d := adminAccountData{Roles: roles, Structure: st, A: a, F: f, Kinds: []account.Kind{account.MED, account.PER, account.INT}}
	if a.IsBox() {
		d.Kinds = []account.Kind{account.ORG}
		var err error
		if d.Members, err = s.cfg.Accounts.Members(r.Context(), a.ID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.render(w, r, sess, "admin_account", status, &view{Title: "Administration — " + a.Login, Errors: errs, Data: d})
}

func (s *Server) adminAccountSave(w http.ResponseWriter, r *http.Request, sess *Session) {
	roles, st, a, ok := s.adminAccountOf(w, r, sess)
	if !ok {
		return
	}
	f := account.AdminFields{Kind: account.Kind(strings.ToUpper(strings.TrimSpace(r.FormValue("kind")))), MSS: r.FormValue("mss"),
		RPPS: r.FormValue("rpps"), FINESS: r.FormValue("finess"), Responsable: r.FormValue("responsable"), Description: r.FormValue("description")}
	err := s.cfg.Accounts.AdminUpdate(r.Context(), actor(sess), a.ID, f)
	if err == nil {
		redirectFlash(w, r, r.URL.Path, "Modifications enregistrées")
		return
	}
	errs, ok := adminErrors(err)
	if !ok {
		s.fail(w, r, err)
		return
	}
	s.renderAdminAccount(w, r, sess, roles, st, a, f, http.StatusBadRequest, errs)
}

func (s *Server) adminAccountState(w http.ResponseWriter, r *http.Request, sess *Session) {
	_, st, a, ok := s.adminAccountOf(w, r, sess)
	if !ok {
		return
	}
	disable := r.FormValue("desactiver") == "1"
	if a.ID == sess.User.ID && disable {
		redirectFlash(w, r, fmt.Sprintf("/admin/s/%d/comptes/%d", st.ID, a.ID), "Vous ne pouvez pas désactiver votre propre compte.")
		return
	}
	if err := s.cfg.Accounts.AdminSetDisabled(r.Context(), actor(sess), a.ID, disable); err != nil {
		s.fail(w, r, err)
		return
	}
	msg := "Compte réactivé"
	if disable {
		msg = "Compte désactivé"
	}
	redirectFlash(w, r, fmt.Sprintf("/admin/s/%d/comptes/%d", st.ID, a.ID), msg)
}

// adminAccountReset mails the person a password-reset link (the same as
// « Demander la réinitialisation du mot de passe »).
func (s *Server) adminAccountReset(w http.ResponseWriter, r *http.Request, sess *Session) {
	_, st, a, ok := s.adminAccountOf(w, r, sess)
	if !ok {
		return
	}
	back := fmt.Sprintf("/admin/s/%d/comptes/%d", st.ID, a.ID)
	sent, err := s.sendReset(r.Context(), a)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !sent {
		redirectFlash(w, r, back, "Aucun lien envoyé : le compte n'a pas d'adresse de notification, est désactivé ou est une boîte.")
		return
	}
	err = s.cfg.St.Tx(r.Context(), func(tx *store.Tx) error {
		return account.RecordChangeTx(r.Context(), tx, actor(sess), a.StructureID, a.Login, "password_reset_sent", "", a.Notify)
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirectFlash(w, r, back, "Un lien de réinitialisation du mot de passe a été envoyé à "+a.Notify)
}

func (s *Server) adminMemberAdd(w http.ResponseWriter, r *http.Request, sess *Session) {
	roles, st, a, ok := s.adminAccountOf(w, r, sess)
	if !ok {
		return
	}
	login := strings.TrimSpace(r.FormValue("member"))
	err := s.cfg.Accounts.AdminAddMember(r.Context(), actor(sess), a.ID, login)
	if err == nil {
		redirectFlash(w, r, fmt.Sprintf("/admin/s/%d/comptes/%d", st.ID, a.ID), "Compte de connexion ajouté : "+login)
		return
	}
	errs, ok := adminErrors(err)
	if !ok {
		s.fail(w, r, err)
		return
	}
	errs["member"] = errs[""]
	delete(errs, "")
	f, ferr := s.cfg.Accounts.AdminFieldsOf(r.Context(), a.ID)
	if ferr != nil {
		s.fail(w, r, ferr)
		return
	}
	s.renderAdminAccount(w, r, sess, roles, st, a, f, http.StatusBadRequest, errs)
}

func (s *Server) adminMemberRemove(w http.ResponseWriter, r *http.Request, sess *Session) {
	_, st, a, ok := s.adminAccountOf(w, r, sess)
	if !ok {
		return
	}
	back := fmt.Sprintf("/admin/s/%d/comptes/%d", st.ID, a.ID)
	mid, err := strconv.ParseInt(r.PathValue("mid"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if err := s.cfg.Accounts.AdminRemoveMember(r.Context(), actor(sess), a.ID, mid); err != nil {
		if errors.Is(err, account.ErrLastMember) {
			redirectFlash(w, r, back, "Retrait refusé : impossible de retirer le dernier compte de connexion, la boîte organisationnelle ne serait plus accessible. Ajoutez d’abord un autre compte de connexion.")
			return
		}
		if errs, ok := adminErrors(err); ok {
			redirectFlash(w, r, back, "Retrait refusé : "+errs[""])
			return
		}
		s.fail(w, r, err)
		return
	}
	redirectFlash(w, r, back, "Compte de connexion retiré")
}

// changeLabels names the journal's actions in French.
var changeLabels = map[string]string{
	"create": "Création du compte", "type": "Type de compte", "mss": "Adresse MSSanté", "rpps": "RPPS", "finess": "FINESS",
	"responsable": "Responsable du compte", "description": "Description", "disabled": "État du compte",
	"member_add": "Ajout d'un compte de connexion", "password": "Mot de passe", "member_remove": "Retrait d'un compte de connexion",
	"password_reset_sent": "Lien de réinitialisation envoyé", "role_grant": "Attribution d'un rôle", "role_revoke": "Retrait d'un rôle",
	"structure_create": "Création de la structure", "structure_disable": "Désactivation de la structure",
	"signup_accept": "Demande d'inscription acceptée", "signup_refuse": "Demande d'inscription refusée",
	"join_accept": "Demande d'adhésion acceptée", "join_refuse": "Demande d'adhésion refusée",
	"queue_retry": "Relance d'un envoi", "queue_drop": "Suppression d'un envoi",
}

type journalData struct {
	Operator bool
	Rows     []journalRow
}

type journalRow struct {
	account.Change
	Label string
}

func (s *Server) adminJournal(w http.ResponseWriter, r *http.Request, sess *Session) {
	roles, ok := s.adminRoles(w, r, sess)
	if !ok {
		return
	}
	cs, err := s.cfg.Accounts.Changes(r.Context(), roles, 500)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	rows := make([]journalRow, len(cs))
	for i, c := range cs {
		l := changeLabels[c.Action]
		if l == "" {
			l = c.Action
		}
		rows[i] = journalRow{c, l}
	}
	s.render(w, r, sess, "admin_journal", http.StatusOK, &view{Title: "Journal des modifications",
		Data: journalData{Operator: roles.Operator, Rows: rows}})
}

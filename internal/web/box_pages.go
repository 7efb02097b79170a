package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store"
)

// Organisational boxes (SPEC §3, issue 5): the login accounts of a box
// (« Identifiants de connexion » B: « Ajouter » by the address of a
// platform account, the cross to remove one, never the last), and the
// box's « Journal »: which member did what in the box. Membership is
// checked at every request (s.acting, the device API, IMAP at each
// command), so a change takes effect at once everywhere.

func init() {
	register("POST /a/{acct}/compte/identifiants/membres", func(s *Server) sessionHandler { return s.boxMemberAdd })
	register("POST /a/{acct}/compte/identifiants/membres/{member}/supprimer", func(s *Server) sessionHandler { return s.boxMemberRemove })
	register("GET /a/{acct}/compte/journal", func(s *Server) sessionHandler { return s.boxJournalShow })
	funcs["journalAction"] = journalAction
	funcs["journalDate"] = func(t time.Time) string { return t.In(paris).Format("02/01/2006 15:04:05") }
}

// boxActing is the acting account when it is a box (404 otherwise).
func (s *Server) boxActing(w http.ResponseWriter, r *http.Request, sess *Session) (*account.Account, bool) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return nil, false
	}
	if !a.IsBox() {
		http.NotFound(w, r)
		return nil, false
	}
	return a, true
}

// boxLog writes to the journal of a, when a is a box, that member did
// action; a failure is logged, never shown (the action is done).
func (s *Server) boxLog(ctx context.Context, a, member *account.Account, action, detail string) {
	if a == nil || !a.IsBox() || member == nil {
		return
	}
	if err := s.cfg.Accounts.RecordBoxAction(ctx, a.ID, member, action, detail); err != nil {
		s.log.Error("web: box journal not written", "box", a.Login, "member", member.Login, "action", action, "err", err)
	}
}

// boxRead journals a message of box a read by member.
func (s *Server) boxRead(ctx context.Context, a, member *account.Account, subject, folder string) {
	if !a.IsBox() {
		return
	}
	if subject == "" {
		subject = "(sans objet)"
	}
	s.boxLog(ctx, a, member, account.JournalRead, "a lu « "+subject+" » dans le dossier "+folderName(folder))
}

// boxTrashedTx journals, inside the transaction that did it, n messages of
// folder of box a moved to the Trash or, permanently, deleted by member.
func boxTrashedTx(ctx context.Context, tx *store.Tx, a, member *account.Account, folder string, n int, permanently bool) error {
	if !a.IsBox() || n == 0 {
		return nil
	}
	action, what := account.JournalMove, "a mis à la corbeille"
	if permanently {
		action, what = account.JournalDelete, "a supprimé définitivement"
	}
	return account.RecordBoxActionTx(ctx, tx, a.ID, member, action, fmt.Sprintf("%s %d message(s) du dossier %s", what, n, folderName(folder)))
}

// boxTrashed is boxTrashedTx in a transaction of its own.
func (s *Server) boxTrashed(ctx context.Context, a, member *account.Account, folder string, n int) {
	err := s.cfg.St.Tx(ctx, func(tx *store.Tx) error { return boxTrashedTx(ctx, tx, a, member, folder, n, false) })
	if err != nil {
		s.log.Error("web: box journal not written", "box", a.Login, "member", member.Login, "err", err)
	}
}

// folderName is a folder's French name for the journal.
func folderName(name string) string {
	if l := folderLabels[name]; l != "" {
		return "« " + l + " »"
	}
	return "« " + name + " »"
}

// boxSettingsSaved journals a saved section of « Gérer mon compte » of a
// box (no-op for a person).
func (s *Server) boxSettingsSaved(r *http.Request, sess *Session, a *account.Account, section string) {
	s.boxLog(r.Context(), a, sess.User, account.JournalSettings, "a modifié « "+section+" »")
}

// boxMemberAdd is « Ajouter » in « Comptes de connexion ».
func (s *Server) boxMemberAdd(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.boxActing(w, r, sess)
	if !ok {
		return
	}
	addr := r.FormValue("membre")
	m, err := s.cfg.Accounts.AddBoxMember(r.Context(), a.ID, addr)
	if err != nil {
		msg := s.boxMemberMessage(err)
		if msg == "" {
			s.fail(w, r, err)
			return
		}
		s.renderBoxCredentials(w, r, sess, a, http.StatusBadRequest, map[string]string{"membre": msg})
		return
	}
	s.log.Info("web: box member added", "box", a.Login, "member", m.Login, "by", sess.User.Login)
	s.boxLog(r.Context(), a, sess.User, account.JournalMemberAdd, "a ajouté le compte de connexion "+m.Login)
	redirectFlash(w, r, "/a/"+itoa(a.ID)+"/compte/identifiants", "Modifications enregistrées")
}

// boxMemberRemove is the cross next to a login account. Removing oneself
// leads back to one's own account, which the box no longer is.
func (s *Server) boxMemberRemove(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.boxActing(w, r, sess)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("member"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	m, err := s.cfg.Accounts.RemoveBoxMember(r.Context(), a.ID, id)
	switch {
	case errors.Is(err, account.ErrLastMember):
		s.renderBoxCredentials(w, r, sess, a, http.StatusConflict, map[string]string{"membres": "Impossible de supprimer le dernier compte de connexion : " +
			"la boîte organisationnelle ne serait plus accessible. Ajoutez d’abord un autre compte de connexion."})
		return
	case errors.Is(err, account.ErrNotFound):
		http.NotFound(w, r)
		return
	case err != nil:
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: box member removed", "box", a.Login, "member", m.Login, "by", sess.User.Login)
	s.boxLog(r.Context(), a, sess.User, account.JournalMemberRemove, "a retiré le compte de connexion "+m.Login)
	if m.ID == sess.User.ID {
		redirectFlash(w, r, "/a/"+itoa(sess.User.ID)+"/mail/", "Vous n’avez plus accès à la boîte "+a.DisplayName()+".")
		return
	}
	redirectFlash(w, r, "/a/"+itoa(a.ID)+"/compte/identifiants", "Modifications enregistrées")
}

// renderBoxCredentials shows « Identifiants de connexion » of a box again
// with a refusal; renderCredentials keeps the address typed (the form's
// « membre »).
func (s *Server) renderBoxCredentials(w http.ResponseWriter, r *http.Request, sess *Session, a *account.Account, status int, errs map[string]string) {
	s.renderCredentials(w, r, sess, a, status, errs)
}

// boxMemberMessage is the French reason of a refused login account, or ""
// for an internal error.
func (s *Server) boxMemberMessage(err error) string {
	p := s.cfg.PlatformName
	switch {
	case errors.Is(err, account.ErrNotFound):
		return "Aucun compte " + p + " ne correspond à cette adresse : seul un compte " + p + " existant peut être ajouté comme compte de connexion."
	case errors.Is(err, account.ErrNotPerson):
		return "Cette adresse est celle d’une boîte organisationnelle : seul un compte individuel peut être ajouté comme compte de connexion."
	case errors.Is(err, account.ErrDisabled):
		return "Ce compte " + p + " est désactivé : il ne peut pas être ajouté."
	case errors.Is(err, account.ErrDuplicate):
		return "Ce compte a déjà accès à la boîte organisationnelle."
	case errors.Is(err, account.ErrInvalid):
		return "Adresse mail invalide : saisissez une adresse de la forme prenom.nom@domaine."
	}
	return ""
}

// boxJournalData is what templates/box_journal.html shows.
type boxJournalData struct {
	Entries []account.JournalEntry
}

// boxJournalShow is the « Journal » of a box: its members see who did what.
func (s *Server) boxJournalShow(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.boxActing(w, r, sess)
	if !ok {
		return
	}
	entries, err := s.cfg.Accounts.BoxJournal(r.Context(), a.ID, 200)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, sess, "box_journal", http.StatusOK, &view{Title: "Journal", Acting: a, Section: "journal",
		Data: boxJournalData{Entries: entries}})
}

// journalAction is the French name of a journal action.
func journalAction(action string) string {
	switch action {
	case account.JournalRead:
		return "Lecture"
	case account.JournalSend:
		return "Envoi"
	case account.JournalMove:
		return "Déplacement"
	case account.JournalDelete:
		return "Suppression"
	case account.JournalFlags:
		return "Marquage"
	case account.JournalSettings:
		return "Paramètres"
	case account.JournalMemberAdd:
		return "Ajout d’un compte de connexion"
	case account.JournalMemberRemove:
		return "Retrait d’un compte de connexion"
	case account.JournalCopy:
		return "Copie"
	case account.JournalAppend:
		return "Dépôt"
	}
	return action
}

package web

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/hygie-sante/hygie/internal/account"
)

// « Gérer mon compte » — Délégations (SPEC §2.6): add a delegate by the
// address of another platform account (« Ajouter la délégation »), remove
// it with the cross. The copies themselves are made by the delivery
// pipeline (mail.DelegationCopies).

func init() {
	register("GET /a/{acct}/compte/delegations", func(s *Server) sessionHandler { return s.delegationShow })
	register("POST /a/{acct}/compte/delegations", func(s *Server) sessionHandler { return s.delegationAdd })
	register("POST /a/{acct}/compte/delegations/{delegate}/supprimer", func(s *Server) sessionHandler { return s.delegationRemove })
}

// delegationData is what templates/delegation_list.html shows.
type delegationData struct {
	Delegations []account.Delegation
	// Address is what was typed, shown again after a refusal.
	Address string
}

func (s *Server) delegationShow(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	s.renderDelegations(w, r, sess, a, http.StatusOK, "", nil)
}

func (s *Server) renderDelegations(w http.ResponseWriter, r *http.Request, sess *Session, a *account.Account, status int, typed string, errs map[string]string) {
	list, err := s.cfg.Accounts.Delegations(r.Context(), a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, sess, "delegation_list", status, &view{Title: "Délégations", Acting: a, Section: "delegations",
		Errors: errs, Data: delegationData{Delegations: list, Address: typed}})
}

func (s *Server) delegationAdd(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	addr := strings.TrimSpace(r.FormValue("address"))
	if addr == "" {
		s.renderDelegations(w, r, sess, a, http.StatusBadRequest, addr,
			map[string]string{"address": "Saisissez l’adresse d’un utilisateur " + s.cfg.PlatformName + "."})
		return
	}
	d, err := s.cfg.Accounts.AddDelegation(r.Context(), a.ID, addr)
	if err != nil {
		msg := s.delegationMessage(err)
		if msg == "" {
			s.fail(w, r, err)
			return
		}
		s.renderDelegations(w, r, sess, a, http.StatusBadRequest, addr, map[string]string{"address": msg})
		return
	}
	s.log.Info("web: delegation added", "account", a.Login, "delegate", d.Login, "by", sess.User.Login)
	s.boxSettingsSaved(r, sess, a, "Délégations : ajout de "+d.Login)
	redirectFlash(w, r, "/a/"+itoa(a.ID)+"/compte/delegations", "Modifications enregistrées")
}

// delegationMessage is the French reason of a refused delegation, or ""
// for an internal error.
func (s *Server) delegationMessage(err error) string {
	p := s.cfg.PlatformName
	switch {
	case errors.Is(err, account.ErrNotPlatformUser):
		return "Seuls les utilisateurs de " + p + " peuvent recevoir une délégation : cette adresse ne correspond à aucun compte " + p + "."
	case errors.Is(err, account.ErrSelfDelegation):
		return "Vous ne pouvez pas déléguer ce compte à lui-même : saisissez l’adresse d’un autre utilisateur " + p + "."
	case errors.Is(err, account.ErrDuplicate):
		return "Une délégation vers ce compte existe déjà."
	case errors.Is(err, account.ErrDisabled):
		return "Ce compte " + p + " est désactivé : il ne peut pas recevoir de délégation."
	case errors.Is(err, account.ErrTooManyDelegations):
		return fmt.Sprintf("Un compte ne peut pas avoir plus de %d délégations.", account.MaxDelegations)
	case errors.Is(err, account.ErrInvalid):
		return "Adresse mail invalide : saisissez une adresse de la forme prenom.nom@domaine."
	}
	return ""
}

// delegationRemove is the cross next to a delegate. The delegation is
// looked up with the acting account: another account's delegation is 404.
func (s *Server) delegationRemove(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("delegate"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if err := s.cfg.Accounts.RemoveDelegation(r.Context(), a.ID, id); err != nil {
		if errors.Is(err, account.ErrNotFound) {
			http.NotFound(w, r)
			return
		}
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: delegation removed", "account", a.Login, "delegate", id, "by", sess.User.Login)
	s.boxSettingsSaved(r, sess, a, "Délégations : suppression")
	redirectFlash(w, r, "/a/"+itoa(a.ID)+"/compte/delegations", "Modifications enregistrées")
}

package web

import "net/http"

// « Gérer mon compte » — Dématérialisation (SPEC §2.7): « accepte la
// dématérialisation totale des échanges », checked by default and published
// with the directory entry for hospital software.

func init() {
	register("GET /a/{acct}/compte/dematerialisation", func(s *Server) sessionHandler { return s.dematShow })
	register("POST /a/{acct}/compte/dematerialisation", func(s *Server) sessionHandler { return s.dematSave })
}

func (s *Server) dematShow(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	p, err := s.cfg.Accounts.Profile(r.Context(), a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, sess, "demat_settings", http.StatusOK, &view{Title: "Dématérialisation", Acting: a,
		Section: "dematerialisation", Data: profileData{P: p}})
}

func (s *Server) dematSave(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	on := r.FormValue("dematerialisation") == "1"
	if err := s.cfg.Accounts.SetDematerialisation(r.Context(), a.ID, on); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("web: dematerialisation saved", "account", a.Login, "accepted", on, "by", sess.User.Login)
	s.boxSettingsSaved(r, sess, a, "Dématérialisation")
	redirectFlash(w, r, "/a/"+itoa(a.ID)+"/compte/dematerialisation", "Modifications enregistrées")
}

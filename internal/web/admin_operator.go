package web

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
)

// Platform operators' pages of the administration console: structures and
// their administrators, the outbound queue (remote deliveries), the
// trust-space whitelist status and the pending card joins. A structure
// administrator gets 403 here, anybody else 404.

func init() {
	register("POST /admin/structures", func(s *Server) sessionHandler { return s.opStructureCreate })
	register("POST /admin/s/{sid}/desactiver", func(s *Server) sessionHandler { return s.opStructureDisable })
	register("POST /admin/s/{sid}/administrateurs", func(s *Server) sessionHandler { return s.opAdminAdd })
	register("POST /admin/s/{sid}/administrateurs/{aid}/retirer", func(s *Server) sessionHandler { return s.opAdminRemove })
	register("GET /admin/file", func(s *Server) sessionHandler { return s.opQueue })
	register("POST /admin/file/{job}/relancer", func(s *Server) sessionHandler { return s.opQueueRetry })
	register("POST /admin/file/{job}/supprimer", func(s *Server) sessionHandler { return s.opQueueDrop })
	register("GET /admin/confiance", func(s *Server) sessionHandler { return s.opTrust })
	register("GET /admin/adhesions", func(s *Server) sessionHandler { return s.opJoins })
	register("POST /admin/adhesions/{rid}/accepter", func(s *Server) sessionHandler { return s.opJoinAccept })
	register("POST /admin/adhesions/{rid}/refuser", func(s *Server) sessionHandler { return s.opJoinRefuse })
}

// operator checks the platform operator role: 404 for a person without
// any role, 403 for a structure administrator.
func (s *Server) operator(w http.ResponseWriter, r *http.Request, sess *Session) (account.Roles, bool) {
	roles, ok := s.adminRoles(w, r, sess)
	if !ok {
		return roles, false
	}
	if !roles.Operator {
		http.Error(w, "Réservé aux opérateurs de la plateforme.", http.StatusForbidden)
		return roles, false
	}
	return roles, true
}

// operatorStructure is operator plus the structure {sid}.
func (s *Server) operatorStructure(w http.ResponseWriter, r *http.Request, sess *Session) (account.Roles, *account.Structure, bool) {
	roles, ok := s.operator(w, r, sess)
	if !ok {
		return roles, nil, false
	}
	sid, err := strconv.ParseInt(r.PathValue("sid"), 10, 64)
	if err != nil {
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

func (s *Server) opStructureCreate(w http.ResponseWriter, r *http.Request, sess *Session) {
	roles, ok := s.operator(w, r, sess)
	if !ok {
		return
	}
	name, finess := strings.TrimSpace(r.FormValue("name")), strings.TrimSpace(r.FormValue("finess"))
	st, err := s.cfg.Accounts.AdminCreateStructure(r.Context(), actor(sess), name, finess)
	if err == nil {
		redirectFlash(w, r, fmt.Sprintf("/admin/s/%d/", st.ID), "Structure créée : "+st.Name)
		return
	}
	errs, ok := adminErrors(err)
	if !ok {
		s.fail(w, r, err)
		return
	}
	if strings.Contains(err.Error(), "FINESS") {
		errs = map[string]string{"finess": errs[""]}
	} else if strings.Contains(err.Error(), "already exists") {
		errs = map[string]string{"name": "Une structure porte déjà ce nom."}
	} else {
		errs = map[string]string{"name": errs[""]}
	}
	s.renderAdminHome(w, r, sess, roles, http.StatusBadRequest, errs)
}

func (s *Server) opStructureDisable(w http.ResponseWriter, r *http.Request, sess *Session) {
	_, st, ok := s.operatorStructure(w, r, sess)
	if !ok {
		return
	}
	if err := s.cfg.Accounts.AdminDisableStructure(r.Context(), actor(sess), st.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	redirectFlash(w, r, "/admin/", "Structure désactivée : "+st.Name)
}

func (s *Server) opAdminAdd(w http.ResponseWriter, r *http.Request, sess *Session) {
	roles, st, ok := s.operatorStructure(w, r, sess)
	if !ok {
		return
	}
	login := strings.TrimSpace(r.FormValue("admin"))
	err := s.cfg.Accounts.SetStructureAdmin(r.Context(), actor(sess), st.Name, login, true)
	if err == nil {
		redirectFlash(w, r, fmt.Sprintf("/admin/s/%d/", st.ID), login+" administre désormais "+st.Name)
		return
	}
	errs, ok := adminErrors(err)
	if !ok {
		s.fail(w, r, err)
		return
	}
	s.renderAdminStructure(w, r, sess, roles, st, http.StatusBadRequest, map[string]string{"admin": errs[""]}, nil)
}

func (s *Server) opAdminRemove(w http.ResponseWriter, r *http.Request, sess *Session) {
	_, st, ok := s.operatorStructure(w, r, sess)
	if !ok {
		return
	}
	aid, err := strconv.ParseInt(r.PathValue("aid"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	a, err := s.cfg.Accounts.ByID(r.Context(), aid)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if err := s.cfg.Accounts.SetStructureAdmin(r.Context(), actor(sess), st.Name, a.Login, false); err != nil {
		http.NotFound(w, r)
		return
	}
	redirectFlash(w, r, fmt.Sprintf("/admin/s/%d/", st.ID), a.Login+" n'administre plus "+st.Name)
}

// queueRow is a remote delivery waiting in the outbound queue.
type queueRow struct {
	ID        int64
	NextTry   string
	Attempts  int
	LastError string
	Age       string
}

func (s *Server) opQueue(w http.ResponseWriter, r *http.Request, sess *Session) {
	if _, ok := s.operator(w, r, sess); !ok {
		return
	}
	jobs, err := queue.List(r.Context(), s.cfg.St, mail.JobRemote)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	now := s.cfg.Now()
	rows := make([]queueRow, len(jobs))
	for i, j := range jobs {
		rows[i] = queueRow{ID: j.ID, NextTry: j.RunAt.In(paris).Format("02/01/2006 15:04:05"), Attempts: j.Attempts,
			LastError: j.LastError, Age: now.Sub(j.Created).Round(time.Second).String()}
	}
	s.render(w, r, sess, "admin_queue", http.StatusOK, &view{Title: "File d'attente sortante", Data: rows})
}

func (s *Server) opQueueAct(w http.ResponseWriter, r *http.Request, sess *Session, action string,
	fn func(tx *store.Tx, id int64) error, done string) {
	if _, ok := s.operator(w, r, sess); !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("job"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	// Only remote deliveries are shown, and only they may be acted on.
	jobs, err := queue.List(r.Context(), s.cfg.St, mail.JobRemote)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	found := false
	for _, j := range jobs {
		found = found || j.ID == id
	}
	if !found {
		redirectFlash(w, r, "/admin/file", "Cet envoi n'est plus dans la file.")
		return
	}
	// The action and its record commit together.
	gone := false
	err = s.cfg.St.Tx(r.Context(), func(tx *store.Tx) error {
		if err := fn(tx, id); err != nil {
			gone = true
			return err
		}
		return account.RecordChangeTx(r.Context(), tx, actor(sess), 0, fmt.Sprintf("envoi %d", id), action, "", "")
	})
	if gone {
		redirectFlash(w, r, "/admin/file", "Cet envoi n'est plus dans la file.")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.wake()
	redirectFlash(w, r, "/admin/file", done)
}

func (s *Server) opQueueRetry(w http.ResponseWriter, r *http.Request, sess *Session) {
	s.opQueueAct(w, r, sess, "queue_retry", func(tx *store.Tx, id int64) error { return queue.RetryNowTx(r.Context(), tx, id) },
		"L'envoi sera tenté de nouveau tout de suite.")
}

func (s *Server) opQueueDrop(w http.ResponseWriter, r *http.Request, sess *Session) {
	s.opQueueAct(w, r, sess, "queue_drop", func(tx *store.Tx, id int64) error { return queue.DropTx(r.Context(), tx, id) },
		"L'envoi a été supprimé de la file.")
}

type trustData struct {
	Configured bool
	Location   string
	LastLoad   string
	LastTry    string
	LastError  string
	Domains    int
	Generated  string
}

func (s *Server) opTrust(w http.ResponseWriter, r *http.Request, sess *Session) {
	if _, ok := s.operator(w, r, sess); !ok {
		return
	}
	d := trustData{}
	if s.cfg.Trust != nil {
		st := s.cfg.Trust.Status()
		d.Configured, d.Location, d.Domains = st.Location != "", st.Location, st.Domains
		fmtTime := func(t time.Time) string {
			if t.IsZero() {
				return "jamais"
			}
			return t.In(paris).Format("02/01/2006 15:04:05")
		}
		d.LastLoad, d.LastTry, d.Generated = fmtTime(st.LastLoad), fmtTime(st.LastAttempt), fmtTime(st.Generated)
		if st.LastError != nil {
			d.LastError = st.LastError.Error()
		}
	}
	s.render(w, r, sess, "admin_trust", http.StatusOK, &view{Title: "Espace de confiance", Data: d})
}

type joinsData struct {
	Requests   []account.JoinRequest
	Structures []account.Structure
}

func (s *Server) opJoins(w http.ResponseWriter, r *http.Request, sess *Session) {
	if _, ok := s.operator(w, r, sess); !ok {
		return
	}
	reqs, err := s.cfg.Accounts.JoinRequests(r.Context(), "pending")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	all, err := s.cfg.Accounts.Structures(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := joinsData{Requests: reqs}
	for _, st := range all {
		if !st.Disabled {
			d.Structures = append(d.Structures, st)
		}
	}
	s.render(w, r, sess, "admin_joins", http.StatusOK, &view{Title: "Demandes d'adhésion", Data: d})
}

func (s *Server) opJoinAccept(w http.ResponseWriter, r *http.Request, sess *Session) {
	if _, ok := s.operator(w, r, sess); !ok {
		return
	}
	rid, err1 := strconv.ParseInt(r.PathValue("rid"), 10, 64)
	sid, err2 := strconv.ParseInt(r.FormValue("structure"), 10, 64)
	if err1 != nil || err2 != nil {
		redirectFlash(w, r, "/admin/adhesions", "Choisissez la structure du compte.")
		return
	}
	a, err := s.cfg.Accounts.AcceptJoinRequest(r.Context(), actor(sess), rid, sid, s.cfg.JoinPolicy)
	if err != nil {
		s.log.Warn("web: join request not accepted", "request", rid, "err", err)
		redirectFlash(w, r, "/admin/adhesions", "La demande n'a pas pu être acceptée (déjà traitée, ou structure inconnue).")
		return
	}
	redirectFlash(w, r, "/admin/adhesions", "Compte créé : "+a.Login+" ("+a.MSS+")")
}

func (s *Server) opJoinRefuse(w http.ResponseWriter, r *http.Request, sess *Session) {
	if _, ok := s.operator(w, r, sess); !ok {
		return
	}
	rid, err := strconv.ParseInt(r.PathValue("rid"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	if err := s.cfg.Accounts.RefuseJoinRequest(r.Context(), actor(sess), rid); err != nil {
		redirectFlash(w, r, "/admin/adhesions", "Cette demande a déjà été traitée.")
		return
	}
	redirectFlash(w, r, "/admin/adhesions", "Demande refusée")
}

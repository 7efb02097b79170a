package web

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/hygie-sante/hygie/internal/directory"
)

// The platform directory in the webmail (SPEC §4 Directory): « Annuaire »
// searches by name, profession, spécialité, structure and city
// (directory.Search, the same search as the recipient autocomplete) and
// shows contact cards with the visible addresses only.

func init() {
	register("GET /a/{acct}/annuaire", func(s *Server) sessionHandler { return s.directorySearch })
	register("GET /a/{acct}/annuaire/{id}", func(s *Server) sessionHandler { return s.directoryCard })
}

// directoryPageLimit bounds the results of the directory page.
const directoryPageLimit = 50

type directoryData struct {
	Query   string
	Results []directory.Entry
	Card    *directory.Entry
}

func (s *Server) directorySearch(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	q := r.URL.Query().Get("q")
	var res []directory.Entry
	if q != "" {
		var err error
		res, err = directory.Search(r.Context(), s.cfg.St, directory.Query{Text: q, Limit: directoryPageLimit})
		if err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.render(w, r, sess, "directory_search", http.StatusOK, &view{Title: "Annuaire", Acting: a,
		Data: directoryData{Query: q, Results: res}})
}

func (s *Server) directoryCard(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	card, err := directory.Card(r.Context(), s.cfg.St, id)
	if errors.Is(err, directory.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, sess, "directory_card", http.StatusOK, &view{Title: card.Name + " — Annuaire", Acting: a,
		Data: directoryData{Query: r.URL.Query().Get("q"), Card: card}})
}

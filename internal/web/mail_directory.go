package web

import (
	"encoding/json"
	"net/http"

	"github.com/hygie-sante/hygie/internal/directory"
)

// mailDirectoryLimit bounds the suggestions of the recipient autocomplete.
const mailDirectoryLimit = 10

// directoryEntry is one suggestion of the recipient autocomplete.
type directoryEntry struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// mailDirectory answers the recipient autocomplete of the compose form from
// the directory's search (directory.Search, the same as the « Annuaire »
// page): one suggestion per visible address of the best entries.
func (s *Server) mailDirectory(w http.ResponseWriter, r *http.Request, sess *Session) {
	if _, ok := s.acting(w, r, sess); !ok {
		return
	}
	entries, err := directory.Search(r.Context(), s.cfg.St, directory.Query{Text: r.URL.Query().Get("q"), Limit: mailDirectoryLimit})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]directoryEntry, 0, len(entries))
	for _, e := range entries {
		for _, a := range e.Addresses {
			if len(out) < mailDirectoryLimit {
				out = append(out, directoryEntry{Name: e.Name, Address: a.Address})
			}
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}

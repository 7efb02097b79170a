package web

import (
	"encoding/json"
	"net/http"
)

// mailDirectoryLimit bounds the suggestions of the recipient autocomplete.
const mailDirectoryLimit = 10

// directoryEntry is one suggestion of the recipient autocomplete.
type directoryEntry struct {
	Name    string `json:"name"`
	Address string `json:"address"`
}

// mailDirectory answers the recipient autocomplete of the compose form:
// directory entries whose name or address starts with q, only the
// addresses their owners left visible (account.SearchVisible).
func (s *Server) mailDirectory(w http.ResponseWriter, r *http.Request, sess *Session) {
	if _, ok := s.acting(w, r, sess); !ok {
		return
	}
	entries, err := s.cfg.Accounts.SearchVisible(r.Context(), r.URL.Query().Get("q"), mailDirectoryLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	out := make([]directoryEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, directoryEntry{Name: e.Name, Address: e.Address})
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(out)
}

package web

import (
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/directory"
)

// The national publication feed (SPEC §4 Directory, §5 national directory):
// GET /api/annuaire/v1/changes?since=N[&limit=M][&format=fhir] with
// « Authorization: Bearer <feed_token> » (RFC 6750 §2.1). It lists the
// changes of the published MSSanté addresses after cursor N (0: the whole
// published directory): plain JSON by default, a FHIR history Bundle of
// Practitioner / Organization resources with format=fhir. Without a
// configured feed_token the feed does not exist (404).

func init() {
	registerPlain("GET /api/annuaire/v1/changes", func(s *Server) http.HandlerFunc { return s.feedChanges })
}

// feedChange is one change of the plain JSON feed.
type feedChange struct {
	Seq        int64                `json:"seq"`
	Kind       string               `json:"kind"`
	ID         string               `json:"id"`
	At         time.Time            `json:"at"`
	Type       string               `json:"type,omitempty"`
	ListeRouge bool                 `json:"listeRouge,omitempty"`
	Entry      *directory.FeedEntry `json:"entry,omitempty"`
}

// feedPage is the plain JSON answer; next is the cursor of the next call.
type feedPage struct {
	Since   int64        `json:"since"`
	Next    int64        `json:"next"`
	More    bool         `json:"more"`
	Changes []feedChange `json:"changes"`
}

func (s *Server) feedChanges(w http.ResponseWriter, r *http.Request) {
	if s.cfg.FeedToken == "" {
		http.NotFound(w, r)
		return
	}
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.cfg.FeedToken)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="annuaire"`)
		apiJSON(w, http.StatusUnauthorized, apiError{Error: "Jeton d'accès absent ou invalide."})
		return
	}
	q := r.URL.Query()
	since, err := strconv.ParseInt(q.Get("since"), 10, 64)
	if q.Get("since") == "" {
		since, err = 0, nil
	}
	if err != nil || since < 0 {
		apiJSON(w, http.StatusBadRequest, apiError{Error: "Paramètre since invalide."})
		return
	}
	limit, _ := strconv.Atoi(q.Get("limit"))
	changes, more, err := directory.Changes(r.Context(), s.cfg.St, since, limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	next := since
	if len(changes) > 0 {
		next = changes[len(changes)-1].Seq
	}
	switch q.Get("format") {
	case "fhir":
		b := directory.FHIRBundle(changes, next)
		w.Header().Set("Content-Type", "application/fhir+json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		enc.Encode(b)
	case "", "json":
		page := feedPage{Since: since, Next: next, More: more, Changes: make([]feedChange, 0, len(changes))}
		for _, c := range changes {
			page.Changes = append(page.Changes, feedChange{Seq: c.Seq, Kind: c.Kind, ID: strconv.FormatInt(c.AccountID, 10), At: c.At,
				Type: c.Type, ListeRouge: c.ListeRouge, Entry: c.Entry})
		}
		apiJSON(w, http.StatusOK, page)
	default:
		apiJSON(w, http.StatusBadRequest, apiError{Error: "Format inconnu (json ou fhir)."})
	}
}

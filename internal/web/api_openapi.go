package web

import (
	_ "embed"
	"encoding/json"
	"net/http"
)

// openAPIDoc is the OpenAPI 3 description of the device API, served at
// /api/v1/openapi.json with the server's public URL filled in.
//
//go:embed api_openapi.json
var openAPIDoc []byte

func init() {
	registerPlain("GET /api/v1/openapi.json", func(s *Server) http.HandlerFunc { return s.apiOpenAPI })
}

func (s *Server) apiOpenAPI(w http.ResponseWriter, r *http.Request) {
	var doc map[string]any
	if err := json.Unmarshal(openAPIDoc, &doc); err != nil {
		s.apiInternal(w, r, err)
		return
	}
	if s.cfg.PublicURL != "" {
		doc["servers"] = []map[string]string{{"url": s.cfg.PublicURL}}
	}
	w.Header().Set("Access-Control-Allow-Origin", "*")
	apiJSON(w, http.StatusOK, doc)
}

package web

import (
	"net/url"
	"strconv"
)

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func urlPathEscape(s string) string { return url.PathEscape(s) }

// wake tells the job workers that jobs were queued.
func (s *Server) wake() {
	if s.cfg.Pipeline != nil && s.cfg.Pipeline.Wake != nil {
		s.cfg.Pipeline.Wake()
	}
}

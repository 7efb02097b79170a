package web

import (
	"io/fs"
	"net/http"
)

// routes registers every page. Pages acting on an account or box carry its
// id as {acct}; s.acting checks the session may act on it.
func (s *Server) routes() {
	static, _ := fs.Sub(assets, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))

	s.mux.HandleFunc("GET /connexion", s.loginShow)
	s.mux.HandleFunc("POST /connexion", s.loginCheck)
	s.mux.HandleFunc("POST /deconnexion", s.withSession(s.logout))
	s.mux.HandleFunc("GET /mot-de-passe-oublie", s.forgotShow)
	s.mux.HandleFunc("POST /mot-de-passe-oublie", s.forgotSend)
	s.mux.HandleFunc("GET /reinitialisation", s.resetShow)
	s.mux.HandleFunc("POST /reinitialisation", s.resetSave)

	s.mux.HandleFunc("GET /{$}", s.withSession(s.home))
	s.mux.HandleFunc("GET /a/{acct}/compte", s.withSession(s.accountMenu))
	// The compose form is bounded before the session check reads it.
	s.mux.HandleFunc("POST /a/{acct}/mail/envoyer", s.mailLimitBody(s.withSession(s.mailSend)))

	for _, r := range extraRoutes {
		s.mux.HandleFunc(r.pattern, s.withSession(r.handler(s)))
	}
	for _, r := range plainRoutes {
		s.mux.HandleFunc(r.pattern, r.handler(s))
	}
}

// plainRoute is a handler without a browser session (the device API),
// registered by a file of its own (see registerPlain).
type plainRoute struct {
	pattern string
	handler func(*Server) http.HandlerFunc
}

var plainRoutes []plainRoute

// registerPlain adds a handler that does its own authentication (no
// session cookie, no CSRF token), such as the bearer-token device API.
func registerPlain(pattern string, h func(*Server) http.HandlerFunc) {
	plainRoutes = append(plainRoutes, plainRoute{pattern, h})
}

// route is a page registered by a file of its own (see register).
type route struct {
	pattern string
	handler func(*Server) sessionHandler
}

var extraRoutes []route

// register adds a logged-in page; files that add pages call it from init,
// so each section of the application stays in its own files.
func register(pattern string, h func(*Server) sessionHandler) {
	extraRoutes = append(extraRoutes, route{pattern, h})
}

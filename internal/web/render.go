package web

import (
	"bytes"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/hygie-sante/hygie/internal/account"
)

// pages holds one template set per page: the layout plus the page.
type pages struct{ t map[string]*template.Template }

var funcs = template.FuncMap{
	"eq64": func(a, b int64) bool { return a == b },
}

func loadPages() (*pages, error) {
	p := &pages{t: map[string]*template.Template{}}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" || strings.HasPrefix(base, "_") {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/_*.html", n)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", n, err)
		}
		p.t[strings.TrimSuffix(base, ".html")] = t
	}
	return p, nil
}

// view is what every page template receives.
type view struct {
	Title    string
	Platform string
	Support  string
	User     *account.Account
	// Acting is the account or box the page is about.
	Acting *account.Account
	// Accounts lists what the switcher offers: the person, then its boxes.
	Accounts []*account.Account
	CSRF     string
	Flash    string
	// Errors holds a French message per form field name ("" for the form).
	Errors map[string]string
	// Section names the current « Gérer mon compte » section.
	Section string
	Data    any
	// LoginModes are the OpenID Connect buttons of the login page
	// (pages without a session; see oidc_login.go).
	LoginModes []LoginModeLink
	// Admin shows the « Administration » link (structure administrators
	// and platform operators; see admin_console.go).
	Admin bool
}

// render writes page with v, filling the common fields from the session.
func (s *Server) render(w http.ResponseWriter, r *http.Request, sess *Session, page string, status int, v *view) {
	t, ok := s.pages.t[page]
	if !ok {
		s.fail(w, r, fmt.Errorf("no page %q", page))
		return
	}
	v.Platform, v.Support = s.cfg.PlatformName, s.cfg.SupportURL
	if sess != nil {
		v.User, v.CSRF = sess.User, sess.CSRF
		boxes, err := s.cfg.Accounts.Boxes(r.Context(), sess.User.ID)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		v.Accounts = append([]*account.Account{sess.User}, boxes...)
		if roles, err := s.cfg.Accounts.RolesOf(r.Context(), sess.User.ID); err == nil {
			v.Admin = roles.IsAdmin()
		}
		if v.Acting == nil {
			v.Acting = sess.User
		}
	} else {
		v.LoginModes = s.loginModeLinks()
	}
	if v.Flash == "" {
		if c, err := r.Cookie("hygie_flash"); err == nil {
			if f, err := url.QueryUnescape(c.Value); err == nil {
				v.Flash = f
			}
			http.SetCookie(w, &http.Cookie{Name: "hygie_flash", Path: "/", MaxAge: -1})
		}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

// redirectFlash redirects after a successful POST, with a message shown
// once on the next page (« Modifications enregistrées »).
func redirectFlash(w http.ResponseWriter, r *http.Request, to, flash string) {
	http.SetCookie(w, &http.Cookie{Name: "hygie_flash", Value: url.QueryEscape(flash), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// fail answers an internal error without revealing it.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("web: internal error", "path", r.URL.Path, "err", err)
	http.Error(w, "Erreur interne. Réessayez plus tard.", http.StatusInternalServerError)
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// localRedirect keeps only same-site paths, against open redirects.
func localRedirect(to, fallback string) string {
	if !strings.HasPrefix(to, "/") || strings.HasPrefix(to, "//") || strings.HasPrefix(to, "/\\") {
		return fallback
	}
	return to
}

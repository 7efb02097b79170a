package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store"
)

const sessionCookie = "hygie_session"

// Session is a logged-in browser. Sessions live in the database: they
// survive a restart, are shared by every node, and can be ended.
type Session struct {
	ID   string // SHA-256 of the cookie token
	User *account.Account
	// CSRF is the token every form of the session carries.
	CSRF     string
	LastSeen time.Time
}

// sessionHandler is a handler that runs with a valid session.
type sessionHandler func(w http.ResponseWriter, r *http.Request, sess *Session)

func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

func hashToken(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

// startSession creates a session for a and sets its cookie.
func (s *Server) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, a *account.Account) error {
	tok := randomToken()
	now := s.cfg.Now()
	err := s.cfg.St.Tx(ctx, func(tx *store.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO web_sessions (id, account_id, csrf, created_at, last_seen, expires_at, remote_ip, user_agent)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, hashToken(tok), a.ID, randomToken(), now.Unix(), now.Unix(),
			now.Add(s.cfg.SessionIdle).Unix(), clientIP(r), truncate(r.UserAgent(), 300))
		return err
	})
	if err != nil {
		return fmt.Errorf("start session: %w", err)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: tok, Path: "/", HttpOnly: true, Secure: s.cfg.SecureCookies,
		SameSite: http.SameSiteLaxMode})
	return nil
}

// session returns the request's valid session, or nil.
func (s *Server) session(r *http.Request) (*Session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	id := hashToken(c.Value)
	var accountID, lastSeen, expires int64
	var csrf string
	err = s.cfg.St.QueryRow(r.Context(), `SELECT account_id, csrf, last_seen, expires_at FROM web_sessions WHERE id = ?`, id).
		Scan(&accountID, &csrf, &lastSeen, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	now := s.cfg.Now()
	if now.Unix() >= expires {
		return nil, nil
	}
	user, err := s.cfg.Accounts.ByID(r.Context(), accountID)
	if err != nil || user.Disabled || user.IsBox() {
		return nil, nil
	}
	sess := &Session{ID: id, User: user, CSRF: csrf, LastSeen: time.Unix(lastSeen, 0)}
	// Slide the expiry, at most once a minute to keep pages read-only.
	if now.Unix()-lastSeen >= 60 {
		s.cfg.St.Tx(r.Context(), func(tx *store.Tx) error {
			_, err := tx.Exec(r.Context(), `UPDATE web_sessions SET last_seen = ?, expires_at = ? WHERE id = ?`,
				now.Unix(), now.Add(s.cfg.SessionIdle).Unix(), id)
			return err
		})
	}
	return sess, nil
}

// withSession runs h with the session, redirecting to the login page when
// there is none, and refusing a state-changing request whose form lacks the
// session's CSRF token.
func (s *Server) withSession(h sessionHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.session(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if sess == nil {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, "/connexion?suite="+urlQueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "Session expirée : reconnectez-vous.", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			tok := r.Header.Get("X-CSRF-Token")
			if tok == "" {
				tok = r.FormValue("csrf")
			}
			if subtle.ConstantTimeCompare([]byte(tok), []byte(sess.CSRF)) != 1 {
				http.Error(w, "Formulaire refusé (jeton de sécurité invalide). Rechargez la page.", http.StatusForbidden)
				return
			}
		}
		h(w, r, sess)
	}
}

// EndSessions ends every session of an account but keep (which may be
// empty), for example after a password change.
func EndSessions(ctx context.Context, tx *store.Tx, accountID int64, keep string) error {
	_, err := tx.Exec(ctx, `DELETE FROM web_sessions WHERE account_id = ? AND id <> ?`, accountID, keep)
	return err
}

// acting returns the account or box named by the {acct} path value when the
// session may act on it: the person's own account, or a box it is a member
// of. Otherwise it answers 404 (never revealing whether the id exists).
func (s *Server) acting(w http.ResponseWriter, r *http.Request, sess *Session) (*account.Account, bool) {
	id, err := strconv.ParseInt(r.PathValue("acct"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return nil, false
	}
	if id == sess.User.ID {
		return sess.User, true
	}
	ok, err := s.cfg.Accounts.IsMember(r.Context(), id, sess.User.ID)
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	if !ok {
		http.NotFound(w, r)
		return nil, false
	}
	a, err := s.cfg.Accounts.ByID(r.Context(), id)
	if err != nil {
		http.NotFound(w, r)
		return nil, false
	}
	return a, true
}

// clientIP is the peer address of the request (no proxy headers trusted).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

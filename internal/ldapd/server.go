// Package ldapd serves the platform directory as a read-only LDAP address
// book (RFC 4511) for mail clients such as Thunderbird: StartTLS (RFC 4513
// §3) and implicit TLS (LDAPS), simple bind with a platform address and its
// password or a device credential, and searches over inetOrgPerson entries
// (RFC 2798) named mail=<address>,<base DN>. Entries come from the
// platform directory (package directory), which owns the visibility rule:
// disabled accounts and addresses their owner hid never appear.
package ldapd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
	ber "github.com/lor00x/goldap/message"
	"github.com/vjeantet/ldapserver"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/auth"
	"github.com/hygie-sante/hygie/internal/store"
)

func init() {
	// The library logs every packet in hex to stdout by default.
	ldapserver.Logger = ldapserver.DiscardingLogger
}

// Config is what an LDAP server needs.
type Config struct {
	// Accounts checks binds; St is the store the directory is read from.
	Accounts *account.Service
	St       *store.Store
	Audit    *audit.Log
	// TLS serves StartTLS; LDAPS listeners are wrapped by the caller and
	// declared with ServeTLS.
	TLS *tls.Config
	// BaseDN is the suffix of every entry, e.g. ou=annuaire,dc=hygie,dc=fr.
	BaseDN string
	Log    *slog.Logger
	// Throttle limits failed binds per address and IP; nil disables it.
	Throttle *auth.Throttle
	// MaxResults bounds one search answer (default 500); a client's
	// smaller size limit wins.
	MaxResults int
	// IdleTimeout closes a connection silent for that long (default 5m).
	IdleTimeout time.Duration
}

// Server is a read-only LDAP address book. One Server may serve several
// listeners; Close stops them all.
type Server struct {
	cfg  Config
	base *goldap.DN
	mux  *ldapserver.RouteMux

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	closed  bool
	running []*running
}

type running struct {
	ln   *listener
	done chan struct{}
}

// New returns a server; it fails on an unparsable base DN.
func New(cfg Config) (*Server, error) {
	base, err := goldap.ParseDN(cfg.BaseDN)
	if err != nil || len(base.RDNs) == 0 {
		return nil, fmt.Errorf("ldap base DN %q: invalid (%v)", cfg.BaseDN, err)
	}
	if cfg.MaxResults <= 0 {
		cfg.MaxResults = 500
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	s := &Server{cfg: cfg, base: base}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	m := ldapserver.NewRouteMux()
	m.Bind(s.guard(s.handleBind))
	m.Extended(s.guard(s.handleStartTLS)).RequestName(ldapserver.NoticeOfStartTLS)
	m.Extended(s.guard(s.handleWhoAmI)).RequestName(ldapserver.NoticeOfWhoAmI)
	m.Extended(s.guard(s.handleExtended))
	m.Search(s.guard(s.handleSearch))
	m.Add(s.guard(readOnly(func(r ber.LDAPResult) ber.ProtocolOp { return ber.AddResponse(r) })))
	m.Delete(s.guard(readOnly(func(r ber.LDAPResult) ber.ProtocolOp { return ber.DelResponse(r) })))
	m.Modify(s.guard(readOnly(func(r ber.LDAPResult) ber.ProtocolOp { return ber.ModifyResponse(r) })))
	m.Compare(s.guard(readOnly(func(r ber.LDAPResult) ber.ProtocolOp { return ber.CompareResponse(r) })))
	s.mux = m
	return s, nil
}

// Serve answers LDAP on ln (plain, StartTLS available) until Close.
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln, false) }

// ServeTLS answers LDAP on ln, whose connections are already TLS (LDAPS).
func (s *Server) ServeTLS(ln net.Listener) error { return s.serve(ln, true) }

func (s *Server) serve(ln net.Listener, isTLS bool) error {
	srv := ldapserver.NewServer()
	srv.Handle(s.mux)
	srv.ReadTimeout = s.cfg.IdleTimeout
	srv.WriteTimeout = s.cfg.IdleTimeout
	r := &running{ln: &listener{Listener: ln, tls: isTLS, conns: map[*session]net.Conn{}}, done: make(chan struct{})}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return net.ErrClosed
	}
	s.running = append(s.running, r)
	s.mu.Unlock()
	// The library has no Serve(listener): ListenAndServe binds addr and then
	// runs the options, which swap that throwaway listener for ours. Its
	// accept loop never ends (see listener); Serve returns on Close.
	bound := make(chan error, 1)
	go func() {
		bound <- srv.ListenAndServe("127.0.0.1:0", func(srv *ldapserver.Server) {
			srv.Listener.Close()
			srv.Listener = r.ln
		})
	}()
	select {
	case err := <-bound:
		return fmt.Errorf("ldap: %w", err)
	case <-r.done:
		return nil
	}
}

// Close stops every listener and closes every connection; running
// requests are abandoned.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	rs := s.running
	s.mu.Unlock()
	s.cancel()
	for _, r := range rs {
		r.ln.Close()
		close(r.done)
	}
	return nil
}

// guard recovers a handler's panic (the library would let it kill the
// process) and logs it.
func (s *Server) guard(h ldapserver.HandlerFunc) ldapserver.HandlerFunc {
	return func(w ldapserver.ResponseWriter, m *ldapserver.Message) {
		defer func() {
			if v := recover(); v != nil {
				s.cfg.Log.Error("ldap: handler panic", "op", m.ProtocolOpName(), "panic", v)
				m.Client.GetConn().Close()
			}
		}()
		h(w, m)
	}
}

// readOnly answers a write operation unwillingToPerform.
func readOnly(as func(ber.LDAPResult) ber.ProtocolOp) ldapserver.HandlerFunc {
	return func(w ldapserver.ResponseWriter, m *ldapserver.Message) {
		r := ldapserver.NewResponse(ldapserver.LDAPResultUnwillingToPerform)
		r.SetDiagnosticMessage("the address book is read-only")
		w.Write(as(r))
	}
}

// sessionOf returns the connection's session (every connection is a conn).
func sessionOf(m *ldapserver.Message) *session {
	if c, ok := m.Client.GetConn().(*conn); ok {
		return c.sess
	}
	return &session{}
}

// handleStartTLS upgrades the connection (RFC 4511 §4.14, RFC 4513 §3).
func (s *Server) handleStartTLS(w ldapserver.ResponseWriter, m *ldapserver.Message) {
	sess := sessionOf(m)
	res := ldapserver.NewExtendedResponse(ldapserver.LDAPResultSuccess)
	res.SetResponseName(ldapserver.NoticeOfStartTLS)
	isTLS, _ := sess.state()
	c, ok := m.Client.GetConn().(*conn)
	if isTLS || !ok || s.cfg.TLS == nil {
		res.SetResultCode(ldapserver.LDAPResultOperationsError)
		res.SetDiagnosticMessage("TLS already established or not available")
		w.Write(res)
		return
	}
	w.Write(res)
	tc := tls.Server(c.Conn, s.cfg.TLS)
	tc.SetDeadline(time.Now().Add(30 * time.Second))
	if err := tc.Handshake(); err != nil {
		s.cfg.Log.Info("ldap: StartTLS handshake failed", "ip", sess.RemoteIP(), "err", err)
		c.Conn.Close()
		return
	}
	tc.SetDeadline(time.Time{})
	sess.mu.Lock()
	sess.tls = true
	sess.mu.Unlock()
	// The new conn shares the session, which the listener still tracks
	// with the TCP connection.
	m.Client.SetConn(&conn{Conn: tc, sess: sess, ln: c.ln})
}

// handleWhoAmI answers RFC 4532's « Who am I? » with success (the library
// cannot encode the response value).
func (s *Server) handleWhoAmI(w ldapserver.ResponseWriter, m *ldapserver.Message) {
	w.Write(ldapserver.NewExtendedResponse(ldapserver.LDAPResultSuccess))
}

func (s *Server) handleExtended(w ldapserver.ResponseWriter, m *ldapserver.Message) {
	res := ldapserver.NewExtendedResponse(ldapserver.LDAPResultProtocolError)
	res.SetDiagnosticMessage("extended operation not supported")
	w.Write(res)
}

// handleBind checks a simple bind (RFC 4513 §5.1): anonymous binds are
// accepted but may not search; a name without password is refused; a
// password is accepted only over TLS. The name is a platform address or a
// DN whose first RDN is mail= or uid= with the address. Every attempt is
// audited; failures are throttled per address and IP.
func (s *Server) handleBind(w ldapserver.ResponseWriter, m *ldapserver.Message) {
	sess := sessionOf(m)
	r := m.GetBindRequest()
	res := ldapserver.NewBindResponse(ldapserver.LDAPResultSuccess)
	// Whatever happens, the previous identity is gone (RFC 4511 §4.2.1).
	sess.setUser(nil)
	if r.AuthenticationChoice() != "simple" {
		res.SetResultCode(ldapserver.LDAPResultAuthMethodNotSupported)
		res.SetDiagnosticMessage("only simple bind is supported")
		w.Write(res)
		return
	}
	name, password := string(r.Name()), string(r.AuthenticationSimple())
	if name == "" && password == "" {
		w.Write(res) // anonymous: allowed, but searches are refused
		return
	}
	if password == "" {
		res.SetResultCode(ldapserver.LDAPResultUnwillingToPerform)
		res.SetDiagnosticMessage("unauthenticated bind refused")
		w.Write(res)
		return
	}
	if isTLS, _ := sess.state(); !isTLS {
		res.SetResultCode(ldapserver.LDAPResultConfidentialityRequired)
		res.SetDiagnosticMessage("use StartTLS or LDAPS before sending a password")
		w.Write(res)
		return
	}
	login := bindLogin(name)
	if len(login) > 320 {
		login = login[:320]
	}
	att, ok := s.cfg.Throttle.Try(s.ctx, s.cfg.Accounts.LoginKey(s.ctx, login)+"|"+sess.RemoteIP())
	if !ok {
		s.audit(login, sess.RemoteIP(), "throttled", "")
		res.SetResultCode(ldapserver.LDAPResultUnwillingToPerform)
		res.SetDiagnosticMessage("too many failed binds, try again later")
		w.Write(res)
		return
	}
	acc, err := s.cfg.Accounts.Authenticate(s.ctx, login, password)
	if err != nil {
		detail := err.Error()
		if !errors.Is(err, account.ErrBadLogin) {
			s.cfg.Log.Error("ldap bind", "user", login, "ip", sess.RemoteIP(), "err", err)
			detail = "internal error"
			att.Drop(s.ctx) // not a guess
		}
		s.audit(login, sess.RemoteIP(), "failed", detail)
		res.SetResultCode(ldapserver.LDAPResultInvalidCredentials)
		w.Write(res)
		return
	}
	att.Succeed(s.ctx)
	if !s.audit(acc.Login, sess.RemoteIP(), "ok", "") {
		// No trace, no access.
		res.SetResultCode(ldapserver.LDAPResultUnavailable)
		res.SetDiagnosticMessage("bind temporarily unavailable")
		w.Write(res)
		return
	}
	sess.setUser(acc)
	s.cfg.Log.Info("ldap bind", "user", acc.Login, "ip", sess.RemoteIP())
	w.Write(res)
}

// bindLogin extracts the address from a bind name: the name itself, or
// the value of a leading mail=, uid= or cn= RDN that holds an address.
func bindLogin(name string) string {
	name = strings.TrimSpace(name)
	if !strings.Contains(name, "=") {
		return name
	}
	dn, err := goldap.ParseDN(name)
	if err != nil || len(dn.RDNs) == 0 {
		return name
	}
	for _, a := range dn.RDNs[0].Attributes {
		switch strings.ToLower(a.Type) {
		case "mail", "uid", "cn", "rfc822mailbox", "email", "emailaddress":
			if strings.Contains(a.Value, "@") {
				return a.Value
			}
		}
	}
	return name
}

// audit records a bind attempt, reporting whether it was recorded.
func (s *Server) audit(user, ip, result, detail string) bool {
	if s.cfg.Audit == nil {
		return true
	}
	if err := s.cfg.Audit.Login(s.ctx, "ldap", user, ip, result, detail); err != nil {
		s.cfg.Log.Error("ldap bind: audit", "user", user, "ip", ip, "err", err)
		return false
	}
	return true
}

// Package imapd serves the message store over IMAP4rev1 (RFC 3501) and
// IMAP4rev2 (RFC 9051), on top of go-imap's imapserver. It is a thin adapter:
// folders, flags and messages are read and written through package mailbox,
// people and boxes through package account.
//
// Names: a person's own folders are at the top level (INBOX, Sent, Drafts,
// Trash and their own), delimiter "/". Each organisational box the person is
// a member of appears under the shared namespace (RFC 2342) as
// "Partagé/<box login>/<folder>", for instance "Partagé/cardio@clinique.example/INBOX".
// Membership is checked again at every command that touches a box folder.
package imapd

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/auth"
	"github.com/hygie-sante/hygie/internal/store"
)

// DefaultMaxMessageSize bounds APPEND when Config.MaxMessageSize is zero.
const DefaultMaxMessageSize = 50 << 20

// Config is what a Server needs.
type Config struct {
	Accounts *account.Service
	St       *store.Store
	Audit    *audit.Log
	// TLS serves STARTTLS (RFC 9051 §6.2.1) and ServeTLS. Without it no
	// client can log in, unless InsecureAuth is set.
	TLS *tls.Config
	Log *slog.Logger
	// InsecureAuth allows LOGIN and AUTHENTICATE without TLS. For tests
	// only: passwords would cross the network in clear.
	InsecureAuth bool
	// MaxMessageSize bounds APPEND (APPENDLIMIT, RFC 7889); zero means
	// DefaultMaxMessageSize.
	MaxMessageSize uint32
	// Opened, when set, is told of each message a client marks \Seen that
	// was not seen before (STORE, or FETCH of a body section): reader is the
	// person, or the box whose folder it is (opening notifications).
	Opened func(ctx context.Context, reader *account.Account, messageID int64)
	// Tokens validates the access tokens of AUTHENTICATE XOAUTH2 and
	// OAUTHBEARER (RFC 7628); nil: the mechanisms are not offered.
	Tokens account.TokenValidator
	// Throttle slows down repeated failed logins (password and token); nil
	// disables it.
	Throttle *auth.Throttle
	// BoxAction, when set, is told inside the transaction of the change of
	// what a member did in a folder of a box (STORE adding \Deleted,
	// EXPUNGE, MOVE and COPY from or to it, APPEND to it): action is an
	// account.Journal* code, detail says it in French. An error cancels the
	// change: no trace, no change.
	BoxAction func(ctx context.Context, tx *store.Tx, box, member *account.Account, action, detail string) error
}

// Server is an IMAP server.
type Server struct {
	cfg     Config
	log     *slog.Logger
	imap    *imapserver.Server
	folders *registry

	// ctx ends with Close; every session's context derives from it.
	ctx    context.Context
	cancel context.CancelFunc
}

// capabilities advertised once logged in (RFC 9051 §7.2.2). IDLE, UNSELECT,
// ENABLE, SASL-IR and LITERAL- are added by imapserver.
var capabilities = imap.CapSet{
	imap.CapIMAP4rev1:    {},
	imap.CapIMAP4rev2:    {},
	imap.CapNamespace:    {}, // RFC 2342
	imap.CapUIDPlus:      {}, // RFC 4315
	imap.CapESearch:      {}, // RFC 4731
	imap.CapSearchRes:    {}, // RFC 5182
	imap.CapListExtended: {}, // RFC 5258
	imap.CapListStatus:   {}, // RFC 5819
	imap.CapMove:         {}, // RFC 6851
	imap.CapStatusSize:   {}, // RFC 8438
	imap.CapChildren:     {}, // RFC 3348
	imap.CapSpecialUse:   {}, // RFC 6154
	imap.CapLiteralPlus:  {}, // RFC 7888
	imap.CapBinary:       {}, // RFC 3516
}

// New returns a server; call Serve or ServeTLS to accept clients.
func New(cfg Config) *Server {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = DefaultMaxMessageSize
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:     cfg,
		log:     cfg.Log.With("service", "imap"),
		folders: newRegistry(),
		ctx:     ctx,
		cancel:  cancel,
	}
	s.imap = imapserver.New(&imapserver.Options{
		NewSession:   s.newSession,
		Caps:         capabilities,
		Logger:       printfLogger{s.log},
		TLSConfig:    cfg.TLS,
		InsecureAuth: cfg.InsecureAuth,
	})
	return s
}

// Serve accepts clients on a plain listener (port 143): they are offered
// STARTTLS and may log in only once it is done.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.imap.Serve(ln); err != nil {
		return fmt.Errorf("imap: %w", err)
	}
	return nil
}

// ServeTLS accepts clients on a listener whose connections it wraps in TLS
// itself (implicit TLS, port 993, RFC 8314). Do not pass a listener that
// tls.NewListener already wraps: give that one to Serve, which recognises
// *tls.Conn connections as secure.
func (s *Server) ServeTLS(ln net.Listener) error {
	if s.cfg.TLS == nil {
		return fmt.Errorf("imap: ServeTLS needs Config.TLS")
	}
	return s.Serve(tls.NewListener(ln, s.cfg.TLS))
}

// Close stops the listeners, cancels the sessions' database work and closes
// every connection; Serve and ServeTLS then return nil.
func (s *Server) Close() error {
	s.cancel()
	if err := s.imap.Close(); err != nil {
		return fmt.Errorf("imap: %w", err)
	}
	return nil
}

// newSession is imapserver's hook for a new connection. Panics in command
// handlers are recovered per connection by imapserver (Conn.serve), which
// logs them and closes that connection only.
func (s *Server) newSession(c *imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
	if s.ctx.Err() != nil {
		return nil, nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Server shutting down"}
	}
	sess := &session{srv: s, conn: c, remoteIP: remoteIP(c.NetConn().RemoteAddr())}
	sess.ctx, sess.cancel = context.WithCancel(s.ctx)
	return sess, nil, nil
}

func remoteIP(a net.Addr) string {
	if a == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

// printfLogger adapts slog to imapserver.Logger: recovered panics are
// errors, the rest (mostly clients dropping connections) warnings.
type printfLogger struct{ l *slog.Logger }

func (p printfLogger) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if strings.HasPrefix(msg, "panic") {
		p.l.Error(msg)
		return
	}
	p.l.Warn(msg)
}

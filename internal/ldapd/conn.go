package ldapd

import (
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
)

// maxMessage is the largest LDAP request accepted, in bytes. The
// ldapserver library reads a request through a 4 KiB bufio.Reader with
// single Read calls, so a larger request would be read short; clients'
// bind and search requests are a few hundred bytes.
const maxMessage = 4000

// errFraming ends a connection whose bytes are not an LDAP message.
var errFraming = errors.New("ldap: malformed or oversized message")

// session is the state of one LDAP connection: whether it is protected by
// TLS (LDAPS or after StartTLS) and who bound.
type session struct {
	// peer is the connection; its address is read once, when first needed
	// (RemoteIP), never in the accept loop: behind a TCP balancer it waits
	// for the PROXY header.
	peer   net.Conn
	ipOnce sync.Once
	ip     string

	mu   sync.Mutex
	tls  bool
	user *account.Account
}

// RemoteIP is the client's address.
func (s *session) RemoteIP() string {
	s.ipOnce.Do(func() {
		s.ip = s.peer.RemoteAddr().String()
		if h, _, err := net.SplitHostPort(s.ip); err == nil {
			s.ip = h
		}
	})
	return s.ip
}

func (s *session) state() (bool, *account.Account) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tls, s.user
}

func (s *session) setUser(a *account.Account) {
	s.mu.Lock()
	s.user = a
	s.mu.Unlock()
}

// conn frames the bytes the ldapserver library reads: each Read hands out
// bytes of one whole, checked LDAP message (a BER SEQUENCE of at most
// maxMessage bytes). The library panics on a first byte other than 0x30
// and trusts the announced length; checking here first keeps a hostile or
// broken client from crashing the process or reserving memory. It also
// carries the connection's session.
type conn struct {
	net.Conn
	sess    *session
	pending []byte
	ln      *listener // nil once upgraded by StartTLS
}

func (c *conn) Read(p []byte) (int, error) {
	if len(c.pending) == 0 {
		msg, err := readMessage(c.Conn)
		if err != nil {
			return 0, err
		}
		c.pending = msg
	}
	n := copy(p, c.pending)
	c.pending = c.pending[n:]
	return n, nil
}

// readMessage reads one BER-encoded LDAPMessage (RFC 4511 §4.1.1: a
// SEQUENCE, definite length) from r without reading past it.
func readMessage(r io.Reader) ([]byte, error) {
	hdr := make([]byte, 2, 6)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return nil, err
	}
	if hdr[0] != 0x30 {
		return nil, errFraming
	}
	length := int(hdr[1])
	if length&0x80 != 0 {
		n := length & 0x7f
		if n == 0 || n > 3 {
			return nil, errFraming // indefinite or absurd length
		}
		lb := make([]byte, n)
		if _, err := io.ReadFull(r, lb); err != nil {
			return nil, err
		}
		hdr = append(hdr, lb...)
		length = 0
		for _, b := range lb {
			length = length<<8 | int(b)
		}
	}
	if len(hdr)+length > maxMessage {
		return nil, fmt.Errorf("%w: %d bytes", errFraming, len(hdr)+length)
	}
	msg := make([]byte, len(hdr)+length)
	copy(msg, hdr)
	if _, err := io.ReadFull(r, msg[len(hdr):]); err != nil {
		return nil, err
	}
	return msg, nil
}

// Close forgets the connection in its listener and closes it.
func (c *conn) Close() error {
	if c.ln != nil {
		c.ln.forget(c.sess)
	}
	return c.Conn.Close()
}

// listener wraps accepted connections in conn and keeps them, so that
// Close can end them. It also shields the ldapserver accept loop, which
// dereferences the connection even when Accept fails: errors are retried,
// and once the listener is closed Accept never returns. (The library's own
// Stop races with connections closing at the same time and may panic with
// a send on a closed channel, so it is never called: its accept goroutine
// stays parked instead.)
type listener struct {
	net.Listener
	tls bool // connections are already TLS (LDAPS)

	mu     sync.Mutex
	closed bool
	conns  map[*session]net.Conn
}

func (l *listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err == nil {
			sess := &session{peer: c, tls: l.tls}
			l.mu.Lock()
			if l.closed {
				l.mu.Unlock()
				c.Close()
				continue
			}
			l.conns[sess] = c
			l.mu.Unlock()
			return &conn{Conn: c, sess: sess, ln: l}, nil
		}
		l.mu.Lock()
		closed := l.closed
		l.mu.Unlock()
		if closed || errors.Is(err, net.ErrClosed) {
			select {} // see the type's comment
		}
		// A transient failure (too many open files…): pause, retry.
		time.Sleep(50 * time.Millisecond)
	}
}

func (l *listener) forget(sess *session) {
	l.mu.Lock()
	delete(l.conns, sess)
	l.mu.Unlock()
}

// Close stops accepting and closes every connection.
func (l *listener) Close() error {
	l.mu.Lock()
	l.closed = true
	conns := l.conns
	l.conns = map[*session]net.Conn{}
	l.mu.Unlock()
	err := l.Listener.Close()
	for _, c := range conns {
		c.Close()
	}
	return err
}

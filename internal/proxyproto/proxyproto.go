// Package proxyproto reads the PROXY protocol header (HAProxy, versions 1
// and 2: https://www.haproxy.org/download/2.9/doc/proxy-protocol.txt) that
// a TCP load balancer puts in front of each connection it forwards, so that
// the mail listeners see the client's address rather than the balancer's:
// for the login throttles and the audit trail.
//
// Only connections from trusted peers are read that way, and they must
// carry the header; any other peer is served as it is, so that nobody can
// choose the address the platform records.
package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sigV2 starts a version 2 header (§2.2).
var sigV2 = []byte("\r\n\r\n\x00\r\nQUIT\n")

// ErrBadHeader is returned by a connection from a trusted peer whose PROXY
// header is missing or malformed; the connection is then closed.
var ErrBadHeader = errors.New("proxy protocol: missing or malformed header")

// Listener accepts connections and, for those from Trusted, reads the
// PROXY header on first use (Read or RemoteAddr), within Timeout (or the
// read deadline set before, if sooner): Accept itself never waits for a
// balancer, but a server must not call RemoteAddr in its accept loop.
type Listener struct {
	net.Listener
	Trusted []netip.Prefix
	Timeout time.Duration
}

// NewListener wraps ln; timeout bounds the wait for a header (default 5s).
func NewListener(ln net.Listener, trusted []netip.Prefix, timeout time.Duration) net.Listener {
	if len(trusted) == 0 {
		return ln
	}
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	return &Listener{Listener: ln, Trusted: trusted, Timeout: timeout}
}

// Accept returns the next connection, wrapped when it comes from a trusted
// peer.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	peer, ok := c.RemoteAddr().(*net.TCPAddr)
	if !ok || !l.trusted(peer.AddrPort().Addr()) {
		return c, nil
	}
	return &Conn{Conn: c, timeout: l.Timeout, br: bufio.NewReaderSize(c, 256)}, nil
}

func (l *Listener) trusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range l.Trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Conn is a connection from a trusted balancer: its header is read once,
// on first use; bytes after it are the client's stream.
type Conn struct {
	net.Conn
	timeout time.Duration
	br      *bufio.Reader

	once   sync.Once
	remote net.Addr
	err    error

	mu sync.Mutex
	// deadline is the read deadline the server set, restored after the
	// header.
	deadline time.Time
}

func (c *Conn) readHeader() {
	c.once.Do(func() {
		c.mu.Lock()
		server := c.deadline
		c.mu.Unlock()
		d := time.Now().Add(c.timeout)
		if !server.IsZero() && server.Before(d) {
			d = server
		}
		c.Conn.SetReadDeadline(d)
		c.remote, c.err = parse(c.br, c.Conn.RemoteAddr())
		c.mu.Lock()
		c.Conn.SetReadDeadline(c.deadline)
		c.mu.Unlock()
		if c.err != nil {
			c.Conn.Close()
		}
	})
}

// SetDeadline sets the read and write deadlines (kept for after the
// header).
func (c *Conn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.Conn.SetDeadline(t)
}

// SetReadDeadline sets the read deadline (kept for after the header).
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.deadline = t
	return c.Conn.SetReadDeadline(t)
}

// Read reads the client's stream, after the header.
func (c *Conn) Read(b []byte) (int, error) {
	c.readHeader()
	if c.err != nil {
		return 0, c.err
	}
	return c.br.Read(b)
}

// RemoteAddr is the client's address as the balancer saw it (the
// balancer's own for a LOCAL or UNKNOWN header, e.g. its health checks).
func (c *Conn) RemoteAddr() net.Addr {
	c.readHeader()
	if c.remote == nil {
		return c.Conn.RemoteAddr()
	}
	return c.remote
}

// parse reads one header from r; peer stands for the client when the
// header names none.
func parse(r *bufio.Reader, peer net.Addr) (net.Addr, error) {
	start, err := r.Peek(1)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadHeader, err)
	}
	if start[0] == sigV2[0] {
		return parseV2(r, peer)
	}
	return parseV1(r, peer)
}

// parseV1 reads "PROXY TCP4|TCP6 src dst sport dport\r\n" or "PROXY UNKNOWN…\r\n"
// (§2.1: at most 107 bytes).
func parseV1(r *bufio.Reader, peer net.Addr) (net.Addr, error) {
	var line []byte
	for len(line) < 107 {
		b, err := r.ReadByte()
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadHeader, err)
		}
		line = append(line, b)
		if b == '\n' {
			break
		}
	}
	s, ok := strings.CutSuffix(string(line), "\r\n")
	if !ok {
		return nil, ErrBadHeader
	}
	f := strings.Split(s, " ")
	if len(f) < 2 || f[0] != "PROXY" {
		return nil, ErrBadHeader
	}
	if f[1] == "UNKNOWN" {
		return peer, nil
	}
	if len(f) != 6 || (f[1] != "TCP4" && f[1] != "TCP6") {
		return nil, ErrBadHeader
	}
	var addrs [2]netip.Addr
	for i, s := range f[2:4] {
		a, err := netip.ParseAddr(s)
		if err != nil || a.Is4() != (f[1] == "TCP4") || a.Zone() != "" {
			return nil, ErrBadHeader
		}
		addrs[i] = a
	}
	var ports [2]uint16
	for i, s := range f[4:6] {
		p, err := strconv.ParseUint(s, 10, 16)
		if err != nil || (len(s) > 1 && s[0] == '0') {
			return nil, ErrBadHeader
		}
		ports[i] = uint16(p)
	}
	return net.TCPAddrFromAddrPort(netip.AddrPortFrom(addrs[0], ports[0])), nil
}

// parseV2 reads the binary header (§2.2): signature, version and command,
// family, length, addresses, then TLVs (skipped).
func parseV2(r *bufio.Reader, peer net.Addr) (net.Addr, error) {
	var hdr [16]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadHeader, err)
	}
	if !bytes.Equal(hdr[:12], sigV2) || hdr[12]>>4 != 2 {
		return nil, ErrBadHeader
	}
	n := int(binary.BigEndian.Uint16(hdr[14:16]))
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadHeader, err)
	}
	switch hdr[12] & 0x0f {
	case 0x0: // LOCAL: the balancer speaking for itself
		return peer, nil
	case 0x1: // PROXY
	default:
		return nil, ErrBadHeader
	}
	// Only TCP is served here: UDP and UNIX stream families are refused.
	switch hdr[13] {
	case 0x11: // TCP over IPv4
		if n < 12 {
			return nil, ErrBadHeader
		}
		src := netip.AddrFrom4([4]byte(body[0:4]))
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[8:10]))), nil
	case 0x21: // TCP over IPv6
		if n < 36 {
			return nil, ErrBadHeader
		}
		src := netip.AddrFrom16([16]byte(body[0:16]))
		return net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, binary.BigEndian.Uint16(body[32:34]))), nil
	case 0x00: // UNSPEC
		return peer, nil
	default:
		return nil, ErrBadHeader
	}
}

package proxyproto

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"
)

// v2 builds a version 2 header: cmd 0 LOCAL or 1 PROXY, fam 0x11 or 0x21,
// src and sport the client, then one TLV to be skipped.
func v2(cmd, fam byte, src netip.Addr, sport uint16) []byte {
	var addrs []byte
	switch fam {
	case 0x11:
		s, d := src.As4(), netip.MustParseAddr("127.0.0.1").As4()
		addrs = append(append(addrs, s[:]...), d[:]...)
	case 0x21:
		s, d := src.As16(), netip.MustParseAddr("::1").As16()
		addrs = append(append(addrs, s[:]...), d[:]...)
	}
	if fam != 0 {
		addrs = binary.BigEndian.AppendUint16(addrs, sport)
		addrs = binary.BigEndian.AppendUint16(addrs, 587)
	}
	addrs = append(addrs, 0x04, 0x00, 0x01, 0xAA) // a TLV (PP2_TYPE_NOOP)
	h := append([]byte{}, sigV2...)
	h = append(h, 0x20|cmd, fam)
	h = binary.BigEndian.AppendUint16(h, uint16(len(addrs)))
	return append(h, addrs...)
}

// serve accepts one connection on a loopback listener trusting trusted,
// after the client wrote send; it returns the connection's RemoteAddr and
// what it read (up to 5 bytes) or the read error.
func serve(t *testing.T, trusted string, send []byte, wait time.Duration) (string, string, error) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ln := NewListener(raw, []netip.Prefix{netip.MustParsePrefix(trusted)}, 200*time.Millisecond)
	go func() {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		c.Write(send)
		time.Sleep(wait)
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	remote := c.RemoteAddr().String()
	buf := make([]byte, 5)
	n, err := io.ReadFull(c, buf)
	return remote, string(buf[:n]), err
}

func TestHeaders(t *testing.T) {
	client9 := netip.MustParseAddr("127.0.0.9")
	cases := []struct {
		name, trusted string
		send          []byte
		remote, data  string // remote "" : the real peer 127.0.0.1
	}{
		{"v1 TCP4", "127.0.0.1/32", []byte("PROXY TCP4 127.0.0.9 127.0.0.1 5555 587\r\nHELLO"), "127.0.0.9:5555", "HELLO"},
		{"v1 TCP6", "127.0.0.1/32", []byte("PROXY TCP6 ::9 ::1 5555 587\r\nHELLO"), "[::9]:5555", "HELLO"},
		{"v1 UNKNOWN", "127.0.0.1/32", []byte("PROXY UNKNOWN\r\nHELLO"), "", "HELLO"},
		{"v2 TCP4", "127.0.0.1/32", append(v2(1, 0x11, client9, 5555), "HELLO"...), "127.0.0.9:5555", "HELLO"},
		{"v2 TCP6", "127.0.0.1/32", append(v2(1, 0x21, netip.MustParseAddr("::9"), 5555), "HELLO"...), "[::9]:5555", "HELLO"},
		{"v2 LOCAL", "127.0.0.1/32", append(v2(0, 0x00, netip.Addr{}, 0), "HELLO"...), "", "HELLO"},
		{"untrusted peer: the header is data", "127.0.0.2/32", []byte("PROXY TCP4 127.0.0.9 127.0.0.1 5555 587\r\n"), "", "PROXY"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			remote, data, err := serve(t, c.trusted, c.send, 0)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			if c.remote == "" {
				if host, _, _ := net.SplitHostPort(remote); host != "127.0.0.1" {
					t.Errorf("remote %s, want the peer 127.0.0.1", remote)
				}
			} else if remote != c.remote {
				t.Errorf("remote %s, want %s", remote, c.remote)
			}
			if data != c.data {
				t.Errorf("data %q, want %q", data, c.data)
			}
		})
	}
}

func TestBadHeaders(t *testing.T) {
	bad := map[string][]byte{
		"no header":          []byte("EHLO client.example\r\n"),
		"v1 bad family":      []byte("PROXY UDP4 127.0.0.9 127.0.0.1 5555 587\r\n"),
		"v1 bad address":     []byte("PROXY TCP4 ::9 127.0.0.1 5555 587\r\n"),
		"v1 no CRLF":         []byte("PROXY TCP4 127.0.0.9 127.0.0.1 5555 587\n"),
		"v1 bad destination": []byte("PROXY TCP4 127.0.0.9 garbage 5555 587\r\n"),
		"v1 bad port":        []byte("PROXY TCP4 127.0.0.9 127.0.0.1 5555 99999\r\n"),
		"v1 mixed families":  []byte("PROXY TCP4 127.0.0.9 ::1 5555 587\r\n"),
		"v2 UDP":             append(append([]byte{}, sigV2...), 0x21, 0x12, 0, 12, 127, 0, 0, 9, 127, 0, 0, 1, 0, 1, 0, 2),
		"v1 too long":        append([]byte("PROXY TCP4 "), make([]byte, 120)...),
		"v2 short":           v2(1, 0x11, netip.MustParseAddr("127.0.0.9"), 5555)[:20],
		"v2 bad version":     append(append([]byte{}, sigV2...), 0x11, 0x11, 0, 0),
		"v2 bad command":     append(append([]byte{}, sigV2...), 0x2F, 0x11, 0, 0),
		"v2 short address":   append(append([]byte{}, sigV2...), 0x21, 0x11, 0, 4, 1, 2, 3, 4),
		"nothing (timeout)":  nil,
	}
	for name, send := range bad {
		t.Run(name, func(t *testing.T) {
			remote, _, err := serve(t, "127.0.0.1/32", send, 400*time.Millisecond)
			if !errors.Is(err, ErrBadHeader) {
				t.Fatalf("read: %v; want ErrBadHeader", err)
			}
			if host, _, _ := net.SplitHostPort(remote); host != "127.0.0.1" {
				t.Errorf("remote %s after a bad header, want the peer", remote)
			}
		})
	}
}

// FuzzParse: any bytes give an address or ErrBadHeader, never a panic.
func FuzzParse(f *testing.F) {
	f.Add([]byte("PROXY TCP4 127.0.0.9 127.0.0.1 5555 587\r\n"))
	f.Add([]byte("PROXY UNKNOWN\r\n"))
	f.Add(v2(1, 0x21, netip.MustParseAddr("::9"), 5555))
	f.Add(v2(0, 0x00, netip.Addr{}, 0))
	peer := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
	f.Fuzz(func(t *testing.T, data []byte) {
		addr, err := parse(bufio.NewReader(bytes.NewReader(data)), peer)
		if err != nil && !errors.Is(err, ErrBadHeader) {
			t.Fatalf("error %v is not ErrBadHeader", err)
		}
		if err == nil && addr == nil {
			t.Fatal("no address and no error")
		}
	})
}

// TestDeadlineKept: a read deadline the server set before the first read
// bounds the wait for the header and still holds after it.
func TestDeadlineKept(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ln := NewListener(raw, []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, 5*time.Second)
	done := make(chan struct{})
	defer close(done)
	go func() {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err != nil {
			return
		}
		defer c.Close()
		c.Write([]byte("PROXY TCP4 127.0.0.9 127.0.0.1 5555 587\r\n"))
		<-done // then silent
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	start := time.Now()
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read: %v; want a timeout", err)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Fatalf("the server's deadline was lost: waited %s", waited)
	}
	if c.RemoteAddr().String() != "127.0.0.9:5555" {
		t.Fatalf("remote %s", c.RemoteAddr())
	}
}

// Package smarthosttest runs a real SMTP server on loopback that plays the
// smarthost in tests, and lets the test read what it received.
package smarthosttest

import (
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
)

// Received is one mail the smarthost accepted.
type Received struct {
	From string
	To   []string
	Data string
}

// Server is a loopback SMTP server that keeps every mail it receives.
type Server struct {
	Addr string
	mu   sync.Mutex
	got  []Received
	cond *sync.Cond
}

// Start runs a smarthost on 127.0.0.1 until the end of the test.
func Start(t testing.TB) *Server {
	t.Helper()
	s := &Server{}
	s.cond = sync.NewCond(&s.mu)
	srv := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return &session{s: s}, nil }))
	srv.Domain = "smarthost.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// All returns the mails received so far.
func (s *Server) All() []Received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Received(nil), s.got...)
}

// To returns the mails received for rcpt so far.
func (s *Server) To(rcpt string) []Received {
	var out []Received
	for _, r := range s.All() {
		for _, to := range r.To {
			if strings.EqualFold(to, rcpt) {
				out = append(out, r)
			}
		}
	}
	return out
}

// WaitFor waits until n mails for rcpt have arrived and returns them.
func (s *Server) WaitFor(t testing.TB, rcpt string, n int, timeout time.Duration) []Received {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got := s.To(rcpt)
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("smarthost: %d mails for %s after %s, want %d", len(got), rcpt, timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type session struct {
	s    *Server
	from string
	to   []string
}

func (x *session) Mail(from string, _ *smtp.MailOptions) error { x.from = from; return nil }
func (x *session) Rcpt(to string, _ *smtp.RcptOptions) error   { x.to = append(x.to, to); return nil }
func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.s.mu.Lock()
	x.s.got = append(x.s.got, Received{From: x.from, To: x.to, Data: string(b)})
	x.s.mu.Unlock()
	return nil
}
func (x *session) Reset()        { x.from, x.to = "", nil }
func (x *session) Logout() error { return nil }

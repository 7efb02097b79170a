package relay

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/trust"
)

// pki is a test CA with the certificates of "us" and of a peer MX.
type pki struct {
	ca         *trust.TestCA
	us, peerMX tls.Certificate
}

var usDN = pkix.Name{CommonName: "mx.hygie.test", Organization: []string{"Hygie"}, Country: []string{"FR"}}

func newPKI(t *testing.T) *pki {
	t.Helper()
	ca, err := trust.NewTestCA("Test IGC-Santé")
	if err != nil {
		t.Fatal(err)
	}
	us, err := ca.TLSCertificate(usDN, []string{"mx.hygie.test"})
	if err != nil {
		t.Fatal(err)
	}
	peer, err := ca.TLSCertificate(pkix.Name{CommonName: "mx.peer.test", Organization: []string{"Pair"}}, []string{"127.0.0.1", "mx.peer.test"})
	if err != nil {
		t.Fatal(err)
	}
	return &pki{ca: ca, us: us, peerMX: peer}
}

// received is a message a fake peer took.
type received struct {
	helo, from, clientDN string
	rcpts                []string
	data                 string
}

// fakePeer is an operator MX: it requires a client certificate from the
// test CA and answers RCPT by local part: ok… 250, later… 451, never… 550.
type fakePeer struct {
	addr string
	mu   sync.Mutex
	got  []received
}

func (f *fakePeer) messages() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.got...)
}

// startPeer listens on 127.0.0.1; tlsCfg nil means no STARTTLS offered.
func startPeer(t *testing.T, tlsCfg *tls.Config) *fakePeer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return servePeer(t, ln, tlsCfg)
}

func servePeer(t *testing.T, ln net.Listener, tlsCfg *tls.Config) *fakePeer {
	t.Helper()
	f := &fakePeer{addr: ln.Addr().String()}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &peerSession{f: f, c: c}, nil
	}))
	s.Domain = "mx.peer.test"
	s.TLSConfig = tlsCfg
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	go s.Serve(ln)
	t.Cleanup(func() { s.Close() })
	return f
}

func peerTLS(p *pki) *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{p.peerMX},
		ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.ca.Pool()}
}

type peerSession struct {
	f   *fakePeer
	c   *smtp.Conn
	cur received
}

func (s *peerSession) Mail(from string, _ *smtp.MailOptions) error {
	s.cur = received{helo: s.c.Hostname(), from: from}
	if st, ok := s.c.TLSConnectionState(); ok && len(st.PeerCertificates) > 0 {
		s.cur.clientDN = trust.DNString(st.PeerCertificates[0].Subject)
	}
	return nil
}

func (s *peerSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	switch {
	case strings.HasPrefix(to, "later"):
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 2, 1}, Message: "mailbox busy, try later"}
	case strings.HasPrefix(to, "never"):
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}
	}
	s.cur.rcpts = append(s.cur.rcpts, to)
	return nil
}

func (s *peerSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = string(b)
	s.f.mu.Lock()
	s.f.got = append(s.f.got, s.cur)
	s.f.mu.Unlock()
	return nil
}

func (s *peerSession) Reset()        { s.cur = received{} }
func (s *peerSession) Logout() error { return nil }

package trust

import (
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

type handshakeResult struct {
	state tls.ConnectionState
	err   error
}

// handshake runs one TLS handshake between an MX server configured with MXServerTLSConfig
// and a client presenting clientCert (none if its Certificate is empty), over 127.0.0.1.
// tweak, if not nil, adjusts the client configuration.
func handshake(t *testing.T, server tls.Certificate, serverCA *TestCA, clientCert tls.Certificate, clientCA *TestCA, tweak func(*tls.Config)) (srv handshakeResult, clientErr error) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ln := tls.NewListener(l, MXServerTLSConfig(server, clientCA.Pool()))
	results := make(chan handshakeResult, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			results <- handshakeResult{err: err}
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
		err = tc.Handshake()
		if err == nil {
			// Prove the session works both ways.
			_, err = tc.Write([]byte("220 ready\r\n"))
		}
		results <- handshakeResult{state: tc.ConnectionState(), err: err}
	}()

	cfg := ClientTLSConfig(clientCert, serverCA.Pool(), "mx.hygie.example")
	if len(clientCert.Certificate) == 0 {
		cfg.Certificates, cfg.GetClientCertificate = nil, nil
	}
	if tweak != nil {
		tweak(cfg)
	}
	d := &net.Dialer{Timeout: 10 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", l.Addr().String(), cfg)
	if err == nil {
		_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
		// With TLS 1.3 a rejected client certificate surfaces on the first read.
		buf := make([]byte, 11)
		_, err = io.ReadFull(conn, buf)
		conn.Close()
	}
	return <-results, err
}

func TestMXHandshake(t *testing.T) {
	igc := newCA(t, "IGC-Santé test")
	other := newCA(t, "Other CA")
	server, err := igc.TLSCertificate(pkix.Name{CommonName: "mx.hygie.example"}, []string{"mx.hygie.example", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	peerSubject := pkix.Name{
		CommonName:         "mx.operateur-a.mssante.fr",
		OrganizationalUnit: []string{"12345678900011"},
		Organization:       []string{"Operateur A"},
		Province:           []string{"Haute-Garonne (31)"},
		Country:            []string{"FR"},
	}
	good, err := igc.TLSCertificate(peerSubject, []string{"mx.operateur-a.mssante.fr"})
	if err != nil {
		t.Fatal(err)
	}
	rogue, err := other.TLSCertificate(peerSubject, []string{"mx.operateur-a.mssante.fr"})
	if err != nil {
		t.Fatal(err)
	}

	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		name := tls.VersionName(version)
		pin := func(c *tls.Config) { c.MinVersion, c.MaxVersion = version, version }
		t.Run(name+"/trusted client", func(t *testing.T) {
			srv, cerr := handshake(t, server, igc, good, igc, pin)
			if srv.err != nil || cerr != nil {
				t.Fatalf("server err %v, client err %v", srv.err, cerr)
			}
			if srv.state.Version != version {
				t.Errorf("version %x", srv.state.Version)
			}
			if len(srv.state.VerifiedChains) == 0 {
				t.Fatal("client certificate not verified")
			}
			peer := srv.state.PeerCertificates[0]
			wl, err := ParseWhitelist(strings.NewReader(string(readSample(t))))
			if err != nil {
				t.Fatal(err)
			}
			d, _ := wl.Lookup("medecin.operateur-a.mssante.fr")
			if !MatchDN(peer, d.CertDN) {
				t.Errorf("peer %s does not match whitelist DN %s", DNString(peer.Subject), d.CertDN)
			}
			d, _ = wl.Lookup("chu-exemple.mssante.fr")
			if MatchDN(peer, d.CertDN) {
				t.Errorf("peer matches another operator's DN")
			}
		})
		t.Run(name+"/client from another CA", func(t *testing.T) {
			srv, cerr := handshake(t, server, igc, rogue, igc, pin)
			if srv.err == nil {
				t.Fatalf("server accepted a client certificate from another CA (peer certs: %d)",
					len(srv.state.PeerCertificates))
			}
			var unknown x509.UnknownAuthorityError
			if !errors.As(srv.err, &unknown) {
				t.Errorf("server error = %v, want unknown authority", srv.err)
			}
			if cerr == nil {
				t.Error("client saw no error")
			}
		})
		t.Run(name+"/no client certificate", func(t *testing.T) {
			srv, cerr := handshake(t, server, igc, tls.Certificate{}, igc, pin)
			if srv.err != nil || cerr != nil {
				t.Fatalf("server err %v, client err %v", srv.err, cerr)
			}
			if len(srv.state.PeerCertificates) != 0 {
				t.Error("unexpected peer certificate")
			}
		})
	}
	t.Run("server from another CA", func(t *testing.T) {
		rogueServer, err := other.TLSCertificate(pkix.Name{CommonName: "mx.hygie.example"}, []string{"mx.hygie.example"})
		if err != nil {
			t.Fatal(err)
		}
		_, cerr := handshake(t, rogueServer, igc, good, igc, nil)
		if cerr == nil || !strings.Contains(cerr.Error(), "unknown authority") {
			t.Errorf("client err = %v, want unknown authority", cerr)
		}
	})
	t.Run("TLS 1.1 refused", func(t *testing.T) {
		srv, cerr := handshake(t, server, igc, good, igc, func(c *tls.Config) {
			c.MinVersion, c.MaxVersion = tls.VersionTLS10, tls.VersionTLS11
		})
		if srv.err == nil || !strings.Contains(srv.err.Error(), "version") {
			t.Errorf("server err = %v, want protocol version error", srv.err)
		}
		if cerr == nil {
			t.Error("TLS 1.1 handshake succeeded")
		}
	})
}

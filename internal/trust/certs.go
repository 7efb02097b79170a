package trust

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// SelfSignedValidity is the validity of certificates made by EnsureSelfSigned.
const SelfSignedValidity = 2 * 365 * 24 * time.Hour

// EnsureSelfSigned makes sure a certificate and its key exist at certPath and keyPath. When
// both files exist it does nothing. When neither exists it generates an ECDSA P-256
// self-signed certificate usable for TLS server and client authentication, whose SANs are
// the DNS names and IP addresses of hosts plus localhost, 127.0.0.1 and ::1, valid two
// years, and writes it in PEM (key as PKCS #8, mode 0600), creating directories. When only
// one of the files exists it returns an error rather than overwrite it. It reports whether a
// certificate was generated.
func EnsureSelfSigned(certPath, keyPath string, hosts []string) (generated bool, err error) {
	certExists, err := fileExists(certPath)
	if err != nil {
		return false, err
	}
	keyExists, err := fileExists(keyPath)
	if err != nil {
		return false, err
	}
	switch {
	case certExists && keyExists:
		return false, nil
	case certExists:
		return false, fmt.Errorf("trust: certificate %s exists but key %s does not; refusing to overwrite", certPath, keyPath)
	case keyExists:
		return false, fmt.Errorf("trust: key %s exists but certificate %s does not; refusing to overwrite", keyPath, certPath)
	}

	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return false, fmt.Errorf("trust: generating key: %w", err)
	}
	tmpl, err := leafTemplate(pkix.Name{}, slices.Concat(hosts, []string{"localhost", "127.0.0.1", "::1"}))
	if err != nil {
		return false, err
	}
	tmpl.Subject.CommonName = firstDNSName(tmpl)
	tmpl.NotAfter = tmpl.NotBefore.Add(SelfSignedValidity)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return false, fmt.Errorf("trust: creating self-signed certificate: %w", err)
	}
	keyPEM, err := encodeKey(key)
	if err != nil {
		return false, err
	}
	if err := writeFileAtomic(keyPath, keyPEM, 0o600, 0o700); err != nil {
		return false, fmt.Errorf("trust: writing key: %w", err)
	}
	if err := writeFileAtomic(certPath, encodeCert(der), 0o644, 0o755); err != nil {
		return false, fmt.Errorf("trust: writing certificate: %w", err)
	}
	return true, nil
}

// LoadCertPool reads a PEM bundle of CA certificates (such as the IGC-Santé chain) into a
// pool. Blocks other than CERTIFICATE are ignored; a bundle without any certificate, or with
// an unparsable one, is an error.
func LoadCertPool(path string) (*x509.CertPool, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("trust: reading CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("trust: CA bundle %s: certificate #%d: %w", path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("trust: CA bundle %s: no PEM certificate found", path)
	}
	return pool, nil
}

// ServerTLSConfig returns a TLS 1.2+ server configuration presenting cert, for client
// software access (IMAP, submission, HTTPS). Go's default cipher suites are all AEAD with
// forward secrecy for TLS 1.2 (RFC 9325 §4.2 recommendations).
func ServerTLSConfig(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
	}
}

// MXServerTLSConfig returns a TLS 1.2+ server configuration for inbound operator SMTP: it
// presents cert and verifies any client certificate against clientCAs. A client certificate
// is requested but not required at the TLS layer (tls.VerifyClientCertIfGiven), so that the
// SMTP layer can answer peers without one; it must then check that the peer's verified
// certificate matches the whitelist entry of the sender's domain (MatchDN).
func MXServerTLSConfig(cert tls.Certificate, clientCAs *x509.CertPool) *tls.Config {
	cfg := ServerTLSConfig(cert)
	cfg.ClientAuth = tls.VerifyClientCertIfGiven
	cfg.ClientCAs = clientCAs
	return cfg
}

// ClientTLSConfig returns a TLS 1.2+ client configuration presenting cert (outbound operator
// SMTP) and verifying the server for serverName against roots (system roots if nil).
//
// The certificate is sent whenever the server requests one, even if its issuer is not among
// the certificate authorities the server lists (RFC 8446 §4.3.2, RFC 5246 §7.4.4), as
// OpenSSL-based MTAs do; Go would otherwise silently withhold it.
func ClientTLSConfig(cert tls.Certificate, roots *x509.CertPool, serverName string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return &cert, nil
		},
		RootCAs:    roots,
		ServerName: serverName,
	}
}

// leafTemplate builds an end-entity template for server and client authentication with a
// random 128-bit serial (RFC 5280 §4.1.2.2) and SANs from hosts (RFC 5280 §4.2.1.6).
func leafTemplate(subject pkix.Name, hosts []string) (*x509.Certificate, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               subject,
		NotBefore:             now.Add(-time.Hour), // tolerate clock skew
		NotAfter:              now.Add(SelfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	seen := make(map[string]bool)
	for _, h := range hosts {
		h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	return tmpl, nil
}

// firstDNSName returns the certificate's first DNS name, or "localhost".
func firstDNSName(c *x509.Certificate) string {
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	return "localhost"
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("trust: generating serial number: %w", err)
	}
	return serial, nil
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func encodeKey(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("trust: encoding key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func fileExists(path string) (bool, error) {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	default:
		return false, fmt.Errorf("trust: %w", err)
	}
}

// writeFileAtomic writes data to path through a temporary file in the same directory,
// renamed into place, creating the directory with dirPerm if needed.
func writeFileAtomic(path string, data []byte, perm, dirPerm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirPerm); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op after a successful rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

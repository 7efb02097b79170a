package trust

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// TestCA is a throw-away certificate authority for tests and local set-ups, standing in for
// IGC-Santé. It is not meant for production use.
type TestCA struct {
	// Cert is the CA certificate.
	Cert *x509.Certificate
	// Key is the CA private key.
	Key *ecdsa.PrivateKey

	certPEM []byte
}

// NewTestCA creates a self-signed ECDSA P-256 CA named commonName, valid for ten years.
func NewTestCA(commonName string) (*TestCA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("trust: generating test CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"Hygie test CA"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("trust: creating test CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("trust: parsing test CA certificate: %w", err)
	}
	return &TestCA{Cert: cert, Key: key, certPEM: encodeCert(der)}, nil
}

// CertPEM returns the CA certificate in PEM.
func (ca *TestCA) CertPEM() []byte {
	return append([]byte(nil), ca.certPEM...)
}

// Pool returns a certificate pool holding only the CA certificate.
func (ca *TestCA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

// Issue issues a leaf certificate for subject, usable for both TLS server and client
// authentication, with hosts as DNS or IP SANs. It returns the certificate and its PKCS #8
// ECDSA P-256 key in PEM.
func (ca *TestCA) Issue(subject pkix.Name, hosts []string) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("trust: generating leaf key: %w", err)
	}
	tmpl, err := leafTemplate(subject, hosts)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("trust: issuing certificate for %s: %w", DNString(subject), err)
	}
	keyPEM, err = encodeKey(key)
	if err != nil {
		return nil, nil, err
	}
	return encodeCert(der), keyPEM, nil
}

// TLSCertificate issues a leaf like Issue and returns it ready for a tls.Config, with Leaf
// set.
func (ca *TestCA) TLSCertificate(subject pkix.Name, hosts []string) (tls.Certificate, error) {
	certPEM, keyPEM, err := ca.Issue(subject, hosts)
	if err != nil {
		return tls.Certificate{}, err
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("trust: loading issued key pair: %w", err)
	}
	return cert, nil
}

// WriteFiles issues a leaf like Issue and writes it to dir/name.crt and its key to
// dir/name.key (mode 0600), creating dir. It returns both paths.
func (ca *TestCA) WriteFiles(dir, name string, subject pkix.Name, hosts []string) (certPath, keyPath string, err error) {
	certPEM, keyPEM, err := ca.Issue(subject, hosts)
	if err != nil {
		return "", "", err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", fmt.Errorf("trust: creating %s: %w", dir, err)
	}
	certPath = filepath.Join(dir, name+".crt")
	keyPath = filepath.Join(dir, name+".key")
	if err := os.WriteFile(keyPath, keyPEM, 0o600); err != nil {
		return "", "", fmt.Errorf("trust: writing key: %w", err)
	}
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		return "", "", fmt.Errorf("trust: writing certificate: %w", err)
	}
	return certPath, keyPath, nil
}

package trust

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestEnsureSelfSigned(t *testing.T) {
	dir := t.TempDir()
	certPath := filepath.Join(dir, "tls", "cert.pem")
	keyPath := filepath.Join(dir, "private", "key.pem")
	hosts := []string{"mail.hygie.example", "192.0.2.10", "localhost"}

	gen, err := EnsureSelfSigned(certPath, keyPath, hosts)
	if err != nil || !gen {
		t.Fatalf("EnsureSelfSigned = %v, %v; want generated", gen, err)
	}
	if len(hosts) != 3 {
		t.Fatal("hosts modified")
	}
	fi, err := os.Stat(keyPath)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("key mode = %o, want 600", perm)
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatalf("LoadX509KeyPair: %v", err)
	}
	cert := pair.Leaf
	if _, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("public key is %T, want ECDSA", cert.PublicKey)
	}
	if cert.Subject.CommonName != "mail.hygie.example" {
		t.Errorf("CN = %q", cert.Subject.CommonName)
	}
	if !slices.Equal(cert.DNSNames, []string{"mail.hygie.example", "localhost"}) {
		t.Errorf("DNSNames = %v", cert.DNSNames)
	}
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	if !slices.Equal(ips, []string{"192.0.2.10", "127.0.0.1", "::1"}) {
		t.Errorf("IPAddresses = %v", ips)
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage = %v", cert.KeyUsage)
	}
	if !slices.Equal(cert.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}) {
		t.Errorf("ExtKeyUsage = %v", cert.ExtKeyUsage)
	}
	if v := cert.NotAfter.Sub(cert.NotBefore); v < 729*24*time.Hour || v > 732*24*time.Hour {
		t.Errorf("validity = %v, want about two years", v)
	}
	if cert.IsCA {
		t.Error("self-signed server certificate must not be a CA")
	}
	if err := cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Error(err)
	}

	// Idempotent: existing files are left alone.
	before, _ := os.ReadFile(certPath)
	gen, err = EnsureSelfSigned(certPath, keyPath, []string{"other.example"})
	if err != nil || gen {
		t.Fatalf("second EnsureSelfSigned = %v, %v; want no-op", gen, err)
	}
	after, _ := os.ReadFile(certPath)
	if !bytes.Equal(before, after) {
		t.Error("certificate rewritten")
	}

	// A lone file is not overwritten.
	os.Remove(certPath)
	if _, err := EnsureSelfSigned(certPath, keyPath, nil); err == nil || !strings.Contains(err.Error(), "refusing") {
		t.Errorf("lone key: err = %v", err)
	}
	if _, err := os.Stat(certPath); err == nil {
		t.Error("certificate created next to an existing key")
	}
	entries, _ := os.ReadDir(filepath.Dir(keyPath))
	if len(entries) != 1 {
		t.Errorf("leftover files: %v", entries)
	}
}

func TestEnsureSelfSignedNoHosts(t *testing.T) {
	dir := t.TempDir()
	gen, err := EnsureSelfSigned(filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"), nil)
	if err != nil || !gen {
		t.Fatal(gen, err)
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if pair.Leaf.Subject.CommonName != "localhost" {
		t.Errorf("CN = %q", pair.Leaf.Subject.CommonName)
	}
}

func TestLoadCertPool(t *testing.T) {
	dir := t.TempDir()
	ca1, ca2 := newCA(t, "CA 1"), newCA(t, "CA 2")
	keyBlock := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}})
	bundle := slices.Concat([]byte("# IGC test bundle\n"), ca1.CertPEM(), keyBlock, ca2.CertPEM())
	path := filepath.Join(dir, "bundle.pem")
	if err := os.WriteFile(path, bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	pool, err := LoadCertPool(path)
	if err != nil {
		t.Fatalf("LoadCertPool: %v", err)
	}
	for _, ca := range []*TestCA{ca1, ca2} {
		leaf := issue(t, ca, pkix.Name{CommonName: "leaf"})
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
			t.Errorf("leaf of %s does not verify: %v", ca.Cert.Subject.CommonName, err)
		}
	}

	cases := map[string][]byte{
		"empty":   nil,
		"no cert": keyBlock,
		"garbage": []byte("not pem at all"),
		"bad der": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}),
	}
	for name, data := range cases {
		p := filepath.Join(dir, name+".pem")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadCertPool(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want error naming the file", name, err)
		}
	}
	if _, err := LoadCertPool(filepath.Join(dir, "missing.pem")); err == nil {
		t.Error("missing file: no error")
	}
}

func TestTLSConfigs(t *testing.T) {
	var c tls.Certificate
	for _, cfg := range []*tls.Config{ServerTLSConfig(c), MXServerTLSConfig(c, nil), ClientTLSConfig(c, nil, "x")} {
		if cfg.MinVersion != tls.VersionTLS12 || len(cfg.Certificates) != 1 {
			t.Errorf("config %+v", cfg)
		}
	}
	if ServerTLSConfig(c).ClientAuth != tls.NoClientCert {
		t.Error("ServerTLSConfig asks for client certificates")
	}
}

func TestTestCAWriteFiles(t *testing.T) {
	ca := newCA(t, "Files CA")
	dir := filepath.Join(t.TempDir(), "sub")
	certPath, keyPath, err := ca.WriteFiles(dir, "mx", pkix.Name{CommonName: "mx.example"}, []string{"mx.example", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	opts := x509.VerifyOptions{Roots: ca.Pool(), DNSName: "mx.example"}
	for _, usage := range []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth} {
		opts.KeyUsages = []x509.ExtKeyUsage{usage}
		if _, err := pair.Leaf.Verify(opts); err != nil {
			t.Errorf("usage %v: %v", usage, err)
		}
	}
	if ip := net.ParseIP("127.0.0.1"); !pair.Leaf.IPAddresses[0].Equal(ip) {
		t.Errorf("IPs = %v", pair.Leaf.IPAddresses)
	}
	if fi, _ := os.Stat(keyPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("key mode %o", fi.Mode().Perm())
	}
}

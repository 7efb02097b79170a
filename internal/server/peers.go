package server

import (
	"crypto/x509"
	"fmt"

	"github.com/hygie-sante/hygie/internal/trust"
)

// peerChecker matches an operator's client certificate against the
// DNCertificatOperateur of the sender domain in the liste blanche (SPEC §5).
type peerChecker struct{ src *trust.Source }

func (p peerChecker) CheckPeer(domain string, cert *x509.Certificate) error {
	wl := p.src.Current()
	if domain != "" {
		d, ok := wl.Lookup(domain)
		if !ok {
			return fmt.Errorf("domain %s is not in the whitelist", domain)
		}
		if !trust.MatchDN(cert, d.CertDN) {
			return fmt.Errorf("DN does not match the whitelist entry of %s (%s)", domain, d.CertDN)
		}
		return nil
	}
	// Null reverse-path (a DSN): the certificate must be some operator's.
	for _, d := range wl.Domains {
		if trust.MatchDN(cert, d.CertDN) {
			return nil
		}
	}
	return fmt.Errorf("DN is not listed for any operator")
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOIDCSettings: [oidc.cps] / [oidc.pass] from TOML and environment;
// an issuer without client_id is refused.
func TestOIDCSettings(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hygie.toml")
	if err := os.WriteFile(path, []byte(`[oidc]
mss_pattern = "{first}.{last}@medecin.{domain}"
[oidc.cps]
issuer = "https://auth.esw.esante.gouv.fr/auth/realms/esante-wallet"
client_id = "hygie"
client_secret = "s3cret"
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path, []string{"HYGIE_OIDC_PASS_ISSUER=https://pass.example", "HYGIE_OIDC_PASS_CLIENT_ID=hygie-pass",
		"HYGIE_OIDC_PASS_SUBJECT_CLAIM=email"})
	if err != nil {
		t.Fatal(err)
	}
	if c.OIDC.CPS.ClientSecret != "s3cret" || c.OIDC.PASS.Issuer != "https://pass.example" || c.OIDC.PASS.SubjectClaim != "email" ||
		c.OIDC.MSSPattern != "{first}.{last}@medecin.{domain}" {
		t.Fatalf("oidc %+v", c.OIDC)
	}
	if _, err := Load("", []string{"HYGIE_OIDC_CPS_ISSUER=https://psc.example"}); err == nil || !strings.Contains(err.Error(), "oidc.cps.client_id") {
		t.Fatalf("issuer without client_id: %v", err)
	}
	if !strings.Contains(Help(), "HYGIE_OIDC_CPS_ISSUER") {
		t.Fatal("help lacks oidc settings")
	}
}

package trust

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"slices"
	"testing"
)

var (
	oidEmail     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 1}
	oidOrgID     = asn1.ObjectIdentifier{2, 5, 4, 97}
	sampleDN     = "CN=mx.operateur-a.mssante.fr,OU=12345678900011,O=Operateur A,ST=Haute-Garonne (31),C=FR"
	sampleSubjet = pkix.Name{
		CommonName:         "mx.operateur-a.mssante.fr",
		OrganizationalUnit: []string{"12345678900011"},
		Organization:       []string{"Operateur A"},
		Province:           []string{"Haute-Garonne (31)"},
		Country:            []string{"FR"},
	}
)

// issue returns a parsed certificate for subject from a fresh test CA.
func issue(t testing.TB, ca *TestCA, subject pkix.Name) *x509.Certificate {
	t.Helper()
	certPEM, _, err := ca.Issue(subject, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(certPEM)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// issueRaw issues a certificate whose subject is exactly rdns, multi-valued RDNs included.
func issueRaw(t testing.TB, ca *TestCA, rdns pkix.RDNSequence) *x509.Certificate {
	t.Helper()
	raw, err := asn1.Marshal(rdns)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := leafTemplate(pkix.Name{}, []string{"localhost"})
	if err != nil {
		t.Fatal(err)
	}
	tmpl.RawSubject = raw
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func newCA(t testing.TB, name string) *TestCA {
	t.Helper()
	ca, err := NewTestCA(name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func TestMatchDN(t *testing.T) {
	ca := newCA(t, "Test CA")
	sample := issue(t, ca, sampleSubjet)
	escaped := issue(t, ca, pkix.Name{
		CommonName:   "smtp.chu.example",
		Organization: []string{"CHU Exemple, site Nord"},
		Country:      []string{"FR"},
		ExtraNames:   []pkix.AttributeTypeAndValue{{Type: oidEmail, Value: "dsi@chu.example"}},
	})
	// Multi-valued RDN: OU and organizationIdentifier in the same SET.
	multi := issueRaw(t, ca, pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 6}, Value: "FR"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: "Op"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 11}, Value: "123"}, {Type: oidOrgID, Value: "NTRFR-123"}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: "mx.op.example"}},
	})

	cases := []struct {
		name string
		cert *x509.Certificate
		dn   string
		want bool
	}{
		{"sample as written", sample, sampleDN, true},
		{"reversed order", sample, "C=FR,ST=Haute-Garonne (31),O=Operateur A,OU=12345678900011,CN=mx.operateur-a.mssante.fr", true},
		{"shuffled", sample, "O=Operateur A,C=FR,CN=mx.operateur-a.mssante.fr,ST=Haute-Garonne (31),OU=12345678900011", true},
		{"spaces and case", sample, " cn = MX.Operateur-A.mssante.FR , ou=12345678900011 ;o=operateur  a, S=haute-garonne (31) ,c=fr ", true},
		{"long names and OID", sample, "commonName=mx.operateur-a.mssante.fr,organizationalUnitName=12345678900011,2.5.4.10=Operateur A,OID.2.5.4.8=Haute-Garonne (31),countryName=FR", true},
		{"hex string value", sample, "CN=#13196d782e6f70657261746575722d612e6d7373616e74652e6672,OU=12345678900011,O=Operateur A,ST=Haute-Garonne (31),C=FR", true},
		{"hex escapes", sample, `CN=mx.operateur-a.mssante.fr,OU=12345678900011,O=Operateur\20A,ST=Haute-Garonne \2831\29,C=FR`, true},
		{"other CN", sample, "CN=mx.operateur-b.mssante.fr,OU=12345678900011,O=Operateur A,ST=Haute-Garonne (31),C=FR", false},
		{"missing attribute", sample, "CN=mx.operateur-a.mssante.fr,OU=12345678900011,O=Operateur A,C=FR", false},
		{"extra attribute", sample, sampleDN + ",L=Toulouse", false},
		{"duplicated attribute", sample, sampleDN + ",C=FR", false},
		{"CN only", sample, "CN=mx.operateur-a.mssante.fr", false},
		{"prefix value", sample, "CN=mx.operateur-a.mssante,OU=12345678900011,O=Operateur A,ST=Haute-Garonne (31),C=FR", false},
		{"type swapped", sample, "CN=mx.operateur-a.mssante.fr,O=12345678900011,OU=Operateur A,ST=Haute-Garonne (31),C=FR", false},
		{"unknown type", sample, sampleDN + ",FOO=bar", false},
		{"empty", sample, "", false},
		{"garbage", sample, "not a dn", false},
		{"escaped comma", escaped, `CN=smtp.chu.example,O=CHU Exemple\, site Nord,C=FR,emailAddress=dsi@chu.example`, true},
		{"escaped comma, E alias, reordered", escaped, `E=DSI@chu.example, C=FR, O = CHU Exemple\2C site Nord, CN=smtp.chu.example`, true},
		{"quoted value", escaped, `CN=smtp.chu.example,O="CHU Exemple, site Nord",C=FR,E=dsi@chu.example`, true},
		{"unescaped comma splits", escaped, `CN=smtp.chu.example,O=CHU Exemple, site Nord,C=FR,E=dsi@chu.example`, false},
		{"email missing", escaped, `CN=smtp.chu.example,O=CHU Exemple\, site Nord,C=FR`, false},
		{"multi-valued RDN", multi, "CN=mx.op.example,OU=123+organizationIdentifier=NTRFR-123,O=Op,C=FR", true},
		{"multi-valued RDN flattened", multi, "CN=mx.op.example,organizationIdentifier=NTRFR-123,OU=123,O=Op,C=FR", true},
		{"multi-valued RDN partial", multi, "CN=mx.op.example,OU=123,O=Op,C=FR", false},
		{"nil cert", nil, sampleDN, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := MatchDN(tc.cert, tc.dn); got != tc.want {
				subj := "<nil>"
				if tc.cert != nil {
					subj = DNString(tc.cert.Subject)
				}
				t.Errorf("MatchDN(%s, %q) = %v, want %v", subj, tc.dn, got, tc.want)
			}
		})
	}
}

func TestParseDN(t *testing.T) {
	got, err := ParseDN(`CN = a\,b\+c ,O=x+OU=y;ST=\ lead\20and trail\  , E=m@x`)
	if err != nil {
		t.Fatal(err)
	}
	want := []DNAttribute{
		{"2.5.4.3", "a,b+c"},
		{"2.5.4.10", "x"},
		{"2.5.4.11", "y"},
		{"2.5.4.8", " lead and trail "},
		{"1.2.840.113549.1.9.1", "m@x"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("ParseDN = %q\nwant %q", got, want)
	}
	if got, err := ParseDN("  "); err != nil || len(got) != 0 {
		t.Errorf("ParseDN(blank) = %v, %v", got, err)
	}
	if got, err := ParseDN("CN=a O=b"); err != nil || !slices.Equal(got, []DNAttribute{{"2.5.4.3", "a O=b"}}) {
		t.Errorf("ParseDN(CN=a O=b) = %v, %v", got, err)
	}
	if got, err := ParseDN("CN="); err != nil || !slices.Equal(got, []DNAttribute{{"2.5.4.3", ""}}) {
		t.Errorf("ParseDN(CN=) = %v, %v", got, err)
	}
	if got, err := ParseDN(`CN=#1e0400e90041`); err != nil || got[0].Value != "éA" {
		t.Errorf("BMPString hex value = %v, %v", got, err)
	}
}

func TestParseDNErrors(t *testing.T) {
	for _, s := range []string{
		"CN", "=x", "CN=a,", "CN=a,,O=b", "CN=a+", "FOO=bar", "1=x", "2.05.4=x", "2..4=x",
		`CN=a\`, `CN=a\q`, `CN=a\4`, `CN=a\4g`, `CN=\ff`, `CN=#zz`, `CN=#`, `CN=#0401`,
		`CN=#130161ff`, `CN="abc`, `CN="abc"x`,
	} {
		if got, err := ParseDN(s); err == nil {
			t.Errorf("ParseDN(%q) = %q, want error", s, got)
		}
	}
}

func TestDNStringRoundTrip(t *testing.T) {
	ca := newCA(t, "Test CA")
	cert := issue(t, ca, pkix.Name{
		CommonName:   " lead#",
		Organization: []string{`A, "B" + <C>; \D = E `},
		Locality:     []string{"#hash"},
		Country:      []string{"FR"},
		ExtraNames:   []pkix.AttributeTypeAndValue{{Type: oidEmail, Value: "line\nbreak@x"}},
	})
	s := DNString(cert.Subject)
	t.Logf("DNString = %s", s)
	if !MatchDN(cert, s) {
		t.Errorf("MatchDN(cert, DNString(cert.Subject)) = false for %q", s)
	}
	for _, c := range s {
		if c < 0x20 {
			t.Errorf("DNString contains control character %q", c)
		}
	}
	if got := DNString(sampleSubjet); got != sampleDN {
		t.Errorf("DNString(unparsed sample) = %q, want %q", got, sampleDN)
	}
	if got := DNString(issue(t, ca, sampleSubjet).Subject); got != sampleDN {
		t.Errorf("DNString(sample) = %q, want %q", got, sampleDN)
	}
}

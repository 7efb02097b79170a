package trust

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

func readSample(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/listeblanche-example.xml")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestParseWhitelistSample(t *testing.T) {
	wl, err := ParseWhitelist(strings.NewReader(string(readSample(t))))
	if err != nil {
		t.Fatalf("ParseWhitelist: %v", err)
	}
	if wl.Len() != 2 {
		t.Fatalf("Len = %d, want 2", wl.Len())
	}
	want := time.Date(2026, 11, 25, 5, 0, 0, 0, time.UTC)
	if !wl.Generated.Equal(want) {
		t.Errorf("Generated = %v, want %v", wl.Generated, want)
	}
	d, ok := wl.Lookup("Medecin.Operateur-A.MSSante.fr.")
	if !ok {
		t.Fatal("Lookup(medecin.operateur-a.mssante.fr) not found")
	}
	wantD := Domain{
		Name:               "medecin.operateur-a.mssante.fr",
		Description:        "Opérateur A — messagerie des médecins",
		CertDN:             "CN=mx.operateur-a.mssante.fr,OU=12345678900011,O=Operateur A,ST=Haute-Garonne (31),C=FR",
		ResponsableContact: "responsable@operateur-a.example",
		SupportContact:     "support@operateur-a.example",
		Updated:            "2026-10-02",
	}
	if d != wantD {
		t.Errorf("Lookup = %+v\nwant %+v", d, wantD)
	}
	if !wl.Contains("CHU-EXEMPLE.mssante.fr") {
		t.Error("Contains(CHU-EXEMPLE.mssante.fr) = false")
	}
	for _, absent := range []string{"operateur-a.mssante.fr", "mssante.fr", "", "x.chu-exemple.mssante.fr"} {
		if wl.Contains(absent) {
			t.Errorf("Contains(%q) = true", absent)
		}
	}
}

func TestParseWhitelistNamespaces(t *testing.T) {
	const doc = `<?xml version="1.0"?>
<Racine xmlns:lb="https://listeblanche.mssante.fr/schema" xmlns:o="urn:other">
  <o:Domaine><o:Nom>other.example</o:Nom></o:Domaine>
  <Domaine><Nom>nonamespace.example</Nom></Domaine>
  <o:Enveloppe>
    <o:Lot>
      <lb:Domaine><lb:Nom>Deep.Example</lb:Nom><lb:DNCertificatOperateur>CN=deep</lb:DNCertificatOperateur>
        <lb:Extension><lb:Nom>ignored.example</lb:Nom></lb:Extension>
      </lb:Domaine>
    </o:Lot>
  </o:Enveloppe>
  <x:Domaine xmlns:x="https://listeblanche.mssante.fr/schema">
    <Nom xmlns="https://listeblanche.mssante.fr/schema">redeclared.example</Nom>
  </x:Domaine>
</Racine>`
	wl, err := ParseWhitelist(strings.NewReader(doc))
	if err != nil {
		t.Fatalf("ParseWhitelist: %v", err)
	}
	if wl.Len() != 2 {
		t.Fatalf("domains = %v, want deep.example and redeclared.example", wl.Domains)
	}
	if d, ok := wl.Lookup("deep.example"); !ok || d.CertDN != "CN=deep" {
		t.Errorf("deep.example = %+v, %v", d, ok)
	}
	if !wl.Contains("redeclared.example") {
		t.Error("redeclared.example missing")
	}
	for _, absent := range []string{"other.example", "nonamespace.example", "ignored.example"} {
		if wl.Contains(absent) {
			t.Errorf("%s should be ignored", absent)
		}
	}
	if !wl.Generated.IsZero() {
		t.Errorf("Generated = %v, want zero", wl.Generated)
	}
}

func TestParseWhitelistErrors(t *testing.T) {
	const ns = `xmlns="https://listeblanche.mssante.fr/schema"`
	cases := map[string]struct{ doc, want string }{
		"empty":            {``, "no root element"},
		"not xml":          {`hello`, "no root element"},
		"truncated":        {`<L ` + ns + `><Domaine><Nom>a.fr</Nom>`, "malformed XML"},
		"mismatched":       {`<L ` + ns + `><Domaine><Nom>a.fr</Domaine></L>`, "malformed XML"},
		"missing Nom":      {`<L ` + ns + `><Domaine><Description>x</Description></Domaine></L>`, "missing Nom"},
		"empty Nom":        {`<L ` + ns + `><Domaine><Nom> </Nom></Domaine></L>`, "empty Nom"},
		"bad char":         {`<L ` + ns + `><Domaine><Nom>a_b.fr</Nom></Domaine></L>`, "invalid domain name"},
		"space inside":     {`<L ` + ns + `><Domaine><Nom>a b.fr</Nom></Domaine></L>`, "invalid domain name"},
		"empty label":      {`<L ` + ns + `><Domaine><Nom>a..fr</Nom></Domaine></L>`, "empty label"},
		"hyphen edge":      {`<L ` + ns + `><Domaine><Nom>-a.fr</Nom></Domaine></L>`, "hyphen"},
		"long label":       {`<L ` + ns + `><Domaine><Nom>` + strings.Repeat("a", 64) + `.fr</Nom></Domaine></L>`, "longer than 63"},
		"long name":        {`<L ` + ns + `><Domaine><Nom>` + strings.Repeat("abcdefghi.", 26) + `fr</Nom></Domaine></L>`, "longer than 253"},
		"non-ascii":        {`<L ` + ns + `><Domaine><Nom>médecin.fr</Nom></Domaine></L>`, "invalid domain name"},
		"kelvin":           {`<L ` + ns + `><Domaine><Nom>&#x212A;.fr</Nom></Domaine></L>`, "invalid domain name"},
		"duplicate Nom":    {`<L ` + ns + `><Domaine><Nom>a.fr</Nom><Nom>b.fr</Nom></Domaine></L>`, "duplicate Nom"},
		"conflicting dup":  {`<L ` + ns + `><Domaine><Nom>a.fr</Nom><Description>1</Description></Domaine><Domaine><Nom>A.fr</Nom></Domaine></L>`, "conflicting duplicate"},
		"bad date":         {`<L ` + ns + `><DateDeGeneration>demain</DateDeGeneration></L>`, "invalid date"},
		"undefined entity": {`<L ` + ns + `><Domaine><Nom>&foo;</Nom></Domaine></L>`, "malformed XML"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			wl, err := ParseWhitelist(strings.NewReader(tc.doc))
			if err == nil {
				t.Fatalf("no error, got %v", wl.Domains)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

func TestParseWhitelistIdenticalDuplicate(t *testing.T) {
	const doc = `<L xmlns="https://listeblanche.mssante.fr/schema"><Domaine><Nom>a.fr</Nom></Domaine><Domaine><Nom>A.FR</Nom></Domaine></L>`
	wl, err := ParseWhitelist(strings.NewReader(doc))
	if err != nil || wl.Len() != 1 {
		t.Fatalf("got %v, %v; want one domain", wl, err)
	}
}

func TestParseWhitelistSizeCap(t *testing.T) {
	head := `<L xmlns="https://listeblanche.mssante.fr/schema"><!--`
	tail := `--></L>`
	pad := MaxWhitelistSize - len(head) - len(tail)
	exact := head + strings.Repeat("x", pad) + tail
	if _, err := ParseWhitelist(strings.NewReader(exact)); err != nil {
		t.Fatalf("input of exactly MaxWhitelistSize refused: %v", err)
	}
	over := head + strings.Repeat("x", pad+1) + tail
	_, err := ParseWhitelist(strings.NewReader(over))
	if !errors.Is(err, ErrWhitelistTooLarge) {
		t.Fatalf("oversized input: err = %v, want ErrWhitelistTooLarge", err)
	}
}

func TestNilWhitelist(t *testing.T) {
	var wl *Whitelist
	if wl.Len() != 0 || wl.Contains("a.fr") {
		t.Error("nil whitelist should be empty")
	}
}

func TestValidateDomainName(t *testing.T) {
	valid := []string{"a", "a.fr", "0day.example", "x-y.z", strings.Repeat("a", 63) + ".fr",
		strings.Repeat("abcdefghi.", 24) + "abcdefghi123"}
	for _, n := range valid {
		if err := ValidateDomainName(n); err != nil {
			t.Errorf("ValidateDomainName(%q) = %v", n, err)
		}
	}
	invalid := []string{"", ".", "a.", ".a", "A.fr", "a-.fr", "a..b", "a b", "a_b", "a/b", "é.fr",
		strings.Repeat("a", 64), strings.Repeat("abcdefghi.", 25) + "abcd"}
	for _, n := range invalid {
		if err := ValidateDomainName(n); err == nil {
			t.Errorf("ValidateDomainName(%q) = nil, want error", n)
		}
	}
}

func TestParseWhitelistLatin1(t *testing.T) {
	doc := "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n" +
		"<L xmlns=\"https://listeblanche.mssante.fr/schema\"><Domaine><Nom>a.fr</Nom>" +
		"<Description>Op\xe9rateur</Description></Domaine></L>"
	wl, err := ParseWhitelist(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := wl.Lookup("a.fr"); d.Description != "Opérateur" {
		t.Errorf("Description = %q", d.Description)
	}
	_, err = ParseWhitelist(strings.NewReader(`<?xml version="1.0" encoding="EBCDIC"?><L/>`))
	if err == nil || !strings.Contains(err.Error(), "unsupported encoding") {
		t.Errorf("EBCDIC: err = %v", err)
	}
}

package trust

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParseWhitelist(f *testing.F) {
	f.Add(readSample(f))
	f.Add([]byte(oneDomain))
	f.Add([]byte(`<a xmlns:l="https://listeblanche.mssante.fr/schema"><b><l:Domaine><l:Nom>X.fr</l:Nom></l:Domaine></b></a>`))
	f.Add([]byte(`<L xmlns="https://listeblanche.mssante.fr/schema"><Domaine><Nom>a..fr</Nom></Domaine></L>`))
	f.Add([]byte(`<L xmlns="https://listeblanche.mssante.fr/schema"><DateDeGeneration>2026-01-02</DateDeGeneration><Domaine><Nom>a.fr.</Nom><Description><![CDATA[x<y]]></Description></Domaine></L>`))
	f.Add([]byte(`<L><Domaine>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		wl, err := ParseWhitelist(bytes.NewReader(data))
		if err != nil {
			if wl != nil {
				t.Fatal("non-nil whitelist with an error")
			}
			return
		}
		if wl == nil || wl.Domains == nil {
			t.Fatal("nil whitelist without an error")
		}
		for key, d := range wl.Domains {
			if key != strings.ToLower(key) || key != d.Name {
				t.Fatalf("key %q, Name %q", key, d.Name)
			}
			if err := ValidateDomainName(key); err != nil {
				t.Fatalf("invalid key %q: %v", key, err)
			}
			got, ok := wl.Lookup(strings.ToUpper(key) + ".")
			if !ok || got != d {
				t.Fatalf("Lookup(upper %q) = %v, %v", key, got, ok)
			}
		}
		if wl.Len() != len(wl.Domains) {
			t.Fatal("Len mismatch")
		}
	})
}

func FuzzParseDN(f *testing.F) {
	f.Add(sampleDN)
	f.Add("CN=smtp.chu-exemple.mssante.fr,OU=26310000000019,O=CHU Exemple,ST=Herault (34),C=FR")
	f.Add(`CN = a\,b\+c ,O=x+OU=y;ST=\ lead\20and trail\  , E=m@x`)
	f.Add(`CN=#1e0400e90041,OID.2.5.4.97="NTR, FR"`)
	f.Add(`emailAddress=line\0abreak@x,CN=\ lead#,O=A\, \"B\" \+ \<C\>\; \\D \= E\ ,L=\#hash,C=FR`)
	f.Fuzz(func(t *testing.T, s string) {
		attrs, err := ParseDN(s)
		if err != nil {
			return
		}
		name := pkix.Name{}
		for _, a := range attrs {
			if !utf8.ValidString(a.Value) {
				t.Fatalf("invalid UTF-8 value %q", a.Value)
			}
			oid, err := parseOID(a.Type)
			if err != nil {
				t.Fatalf("type %q is not a dotted OID: %v", a.Type, err)
			}
			name.Names = append(name.Names, pkix.AttributeTypeAndValue{Type: oid, Value: a.Value})
		}
		// Reverse so that DNString writes the attributes back in string order.
		slices.Reverse(name.Names)
		out := DNString(name)
		again, err := ParseDN(out)
		if err != nil {
			t.Fatalf("ParseDN(DNString(ParseDN(%q))) = %v; DNString gave %q", s, err, out)
		}
		if !equalDN(attrs, again) {
			t.Fatalf("round trip changed attributes:\n%q\n%q\nvia %q", attrs, again, out)
		}
		if strings.ContainsAny(out, "\r\n") {
			t.Fatalf("DNString output %q contains a line break", out)
		}
	})
}

func parseOID(s string) (asn1.ObjectIdentifier, error) {
	var oid asn1.ObjectIdentifier
	for arc := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(arc)
		if err != nil {
			return nil, err
		}
		oid = append(oid, n)
	}
	return oid, nil
}

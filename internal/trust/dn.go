package trust

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// DNAttribute is one attribute type and value of a distinguished name (RFC 4514 §3
// attributeTypeAndValue). Multi-valued RDNs are flattened: a DN is handled as a multiset of
// DNAttribute.
type DNAttribute struct {
	// Type is the attribute type as a dotted OID, such as "2.5.4.3" for CN.
	Type string
	// Value is the decoded value, escapes removed.
	Value string
}

// MatchDN reports whether the subject of cert equals the DN string want (RFC 4514, as written
// in the whitelist's DNCertificatOperateur). Both are compared as multisets of (type, value)
// pairs regardless of RDN order, since whitelists and certificates order them differently.
// Types are compared by OID, so aliases (ST/S, E/emailAddress, numeric OIDs) are equivalent;
// values are compared case-insensitively after trimming and folding inner white space
// (RFC 4518 §2.6.1 insignificant space handling). An empty or unparsable want never matches.
func MatchDN(cert *x509.Certificate, want string) bool {
	if cert == nil {
		return false
	}
	attrs, err := ParseDN(want)
	if err != nil || len(attrs) == 0 {
		return false
	}
	return equalDN(attrs, nameAttributes(cert.Subject))
}

// nameAttributes returns all the attributes of a name, in RDNSequence order.
func nameAttributes(name pkix.Name) []DNAttribute {
	atvs := flatATVs(name)
	out := make([]DNAttribute, 0, len(atvs))
	for _, atv := range atvs {
		out = append(out, DNAttribute{Type: atv.Type.String(), Value: attributeValueString(atv.Value)})
	}
	return out
}

// flatATVs returns the attributes of a name in RDNSequence order: Names for a name parsed
// from a certificate, otherwise those ToRDNSequence derives from the fields and ExtraNames.
func flatATVs(name pkix.Name) []pkix.AttributeTypeAndValue {
	if len(name.Names) > 0 {
		return name.Names
	}
	var out []pkix.AttributeTypeAndValue
	for _, rdn := range name.ToRDNSequence() {
		out = append(out, rdn...)
	}
	return out
}

// attributeValueString renders a certificate attribute value. crypto/x509 decodes string
// types to Go strings; anything else is rendered as RFC 4514 §2.4 "#" hex of its DER.
func attributeValueString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	der, err := asn1.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return "#" + hex.EncodeToString(der)
}

// equalDN compares two attribute lists as multisets of normalised pairs.
func equalDN(a, b []DNAttribute) bool {
	if len(a) != len(b) {
		return false
	}
	na, nb := normalizeDN(a), normalizeDN(b)
	return slices.Equal(na, nb)
}

// normalizeDN returns the sorted normalised pairs of attrs.
func normalizeDN(attrs []DNAttribute) []DNAttribute {
	out := make([]DNAttribute, len(attrs))
	for i, a := range attrs {
		out[i] = DNAttribute{Type: a.Type, Value: foldValue(a.Value)}
	}
	slices.SortFunc(out, func(x, y DNAttribute) int {
		if c := strings.Compare(x.Type, y.Type); c != 0 {
			return c
		}
		return strings.Compare(x.Value, y.Value)
	})
	return out
}

// foldValue trims a value, replaces runs of white space with one space and lower-cases it.
func foldValue(v string) string {
	return strings.ToLower(strings.Join(strings.FieldsFunc(v, unicode.IsSpace), " "))
}

// attributeOIDs maps lower-case attribute type names (RFC 4514 §3, RFC 4519, RFC 5280
// appendix A and common aliases) to their OIDs.
var attributeOIDs = map[string]string{
	"cn": "2.5.4.3", "commonname": "2.5.4.3",
	"sn": "2.5.4.4", "surname": "2.5.4.4",
	"serialnumber": "2.5.4.5",
	"c":            "2.5.4.6", "countryname": "2.5.4.6",
	"l": "2.5.4.7", "localityname": "2.5.4.7",
	"st": "2.5.4.8", "s": "2.5.4.8", "stateorprovincename": "2.5.4.8",
	"street": "2.5.4.9", "streetaddress": "2.5.4.9",
	"o": "2.5.4.10", "organizationname": "2.5.4.10",
	"ou": "2.5.4.11", "organizationalunitname": "2.5.4.11",
	"title":            "2.5.4.12",
	"businesscategory": "2.5.4.15",
	"postalcode":       "2.5.4.17",
	"name":             "2.5.4.41",
	"givenname":        "2.5.4.42", "gn": "2.5.4.42", "g": "2.5.4.42",
	"initials":               "2.5.4.43",
	"generationqualifier":    "2.5.4.44",
	"x500uniqueidentifier":   "2.5.4.45",
	"dnqualifier":            "2.5.4.46",
	"pseudonym":              "2.5.4.65",
	"organizationidentifier": "2.5.4.97",
	"uid":                    "0.9.2342.19200300.100.1.1", "userid": "0.9.2342.19200300.100.1.1",
	"dc": "0.9.2342.19200300.100.1.25", "domaincomponent": "0.9.2342.19200300.100.1.25",
	"emailaddress": "1.2.840.113549.1.9.1", "email": "1.2.840.113549.1.9.1", "e": "1.2.840.113549.1.9.1",
}

// attributeNames gives the short name DNString writes for an OID.
var attributeNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.4": "SN", "2.5.4.5": "SERIALNUMBER", "2.5.4.6": "C",
	"2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.9": "STREET", "2.5.4.10": "O", "2.5.4.11": "OU",
	"2.5.4.12": "title", "2.5.4.15": "businessCategory", "2.5.4.17": "postalCode",
	"2.5.4.41": "name", "2.5.4.42": "GN", "2.5.4.43": "initials",
	"2.5.4.44": "generationQualifier", "2.5.4.45": "x500UniqueIdentifier",
	"2.5.4.46": "dnQualifier", "2.5.4.65": "pseudonym", "2.5.4.97": "organizationIdentifier",
	"0.9.2342.19200300.100.1.1": "UID", "0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1": "emailAddress",
}

// DNString renders a certificate name as an RFC 4514 string for logs: most specific RDN
// first (CN=…,O=…,C=FR), short names, special and control characters escaped. Multi-valued
// RDNs are written as separate RDNs. ParseDN reads the result back to the same attributes.
func DNString(name pkix.Name) string {
	var b strings.Builder
	atvs := flatATVs(name)
	for i := len(atvs) - 1; i >= 0; i-- {
		atv := atvs[i]
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		oid := atv.Type.String()
		if n, ok := attributeNames[oid]; ok {
			b.WriteString(n)
		} else {
			b.WriteString(oid)
		}
		b.WriteByte('=')
		escapeDNValue(&b, attributeValueString(atv.Value))
	}
	return b.String()
}

// escapeDNValue writes v escaped as RFC 4514 §2.4 requires, plus control characters and
// invalid UTF-8 as hex pairs so that logs stay on one line.
func escapeDNValue(b *strings.Builder, v string) {
	for i := 0; i < len(v); {
		r, size := utf8.DecodeRuneInString(v[i:])
		switch {
		case r == utf8.RuneError && size == 1, r < 0x20, r == 0x7f:
			fmt.Fprintf(b, "\\%02x", v[i])
		case strings.ContainsRune("\"+,;<>\\=", r),
			(r == ' ' || r == '#') && i == 0,
			r == ' ' && i == len(v)-1:
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteString(v[i : i+size])
		}
		i += size
	}
}

// ParseDN parses an RFC 4514 distinguished name string into its attributes, in string order
// with multi-valued RDNs ('+') flattened. It accepts attribute type names case-insensitively
// with common aliases (ST or S, E or emailAddress, …), numeric OIDs with an optional "OID."
// prefix, escapes ("\," and hex pairs), "#" hex-encoded BER values, legacy quoted values,
// ';' as RDN separator and white space around '=', ',' and '+'. Unknown type names, bad
// escapes and values that are not valid UTF-8 are errors. An empty string gives no attribute.
func ParseDN(s string) ([]DNAttribute, error) {
	p := dnParser{s: s}
	p.skipSpaces()
	if p.eof() {
		return nil, nil
	}
	var out []DNAttribute
	for {
		a, err := p.attribute()
		if err != nil {
			return nil, fmt.Errorf("parsing DN %q: %w", s, err)
		}
		out = append(out, a)
		p.skipSpaces()
		if p.eof() {
			return out, nil
		}
		switch c := p.s[p.i]; c {
		case ',', ';', '+':
			p.i++
		default:
			return nil, fmt.Errorf("parsing DN %q: unexpected %q at offset %d", s, c, p.i)
		}
	}
}

// dnParser is a cursor over a DN string.
type dnParser struct {
	s string
	i int
}

func (p *dnParser) eof() bool { return p.i >= len(p.s) }

func (p *dnParser) skipSpaces() {
	for !p.eof() && p.s[p.i] == ' ' {
		p.i++
	}
}

// attribute parses attributeType "=" attributeValue.
func (p *dnParser) attribute() (DNAttribute, error) {
	p.skipSpaces()
	start := p.i
	for !p.eof() && p.s[p.i] != '=' && p.s[p.i] != ' ' {
		p.i++
	}
	typ, err := attributeType(p.s[start:p.i])
	if err != nil {
		return DNAttribute{}, err
	}
	p.skipSpaces()
	if p.eof() || p.s[p.i] != '=' {
		return DNAttribute{}, fmt.Errorf("missing '=' after attribute type at offset %d", p.i)
	}
	p.i++
	p.skipSpaces()
	var val string
	switch {
	case !p.eof() && p.s[p.i] == '#':
		val, err = p.hexValue()
	case !p.eof() && p.s[p.i] == '"':
		val, err = p.quotedValue()
	default:
		val, err = p.stringValue()
	}
	if err != nil {
		return DNAttribute{}, err
	}
	if !utf8.ValidString(val) {
		return DNAttribute{}, fmt.Errorf("value of %s is not valid UTF-8", typ)
	}
	return DNAttribute{Type: typ, Value: val}, nil
}

// attributeType resolves a type name or numeric OID (RFC 4512 §1.4 descr / numericoid).
func attributeType(t string) (string, error) {
	if t == "" {
		return "", fmt.Errorf("empty attribute type")
	}
	if len(t) > 4 && strings.EqualFold(t[:4], "oid.") {
		t = t[4:]
	}
	if t[0] >= '0' && t[0] <= '9' {
		if err := validateNumericOID(t); err != nil {
			return "", err
		}
		return t, nil
	}
	if oid, ok := attributeOIDs[strings.ToLower(t)]; ok {
		return oid, nil
	}
	return "", fmt.Errorf("unknown attribute type %q", t)
}

// validateNumericOID checks number *( "." number ), number without leading zeros
// (RFC 4512 §1.4), at least two arcs, each fitting in 31 bits like encoding/asn1 arcs.
func validateNumericOID(t string) error {
	arcs := strings.Split(t, ".")
	if len(arcs) < 2 {
		return fmt.Errorf("invalid OID %q: fewer than two arcs", t)
	}
	for _, a := range arcs {
		if a == "" || len(a) > 1 && a[0] == '0' || len(a) > 9 {
			return fmt.Errorf("invalid OID %q", t)
		}
		for i := 0; i < len(a); i++ {
			if a[i] < '0' || a[i] > '9' {
				return fmt.Errorf("invalid OID %q", t)
			}
		}
	}
	return nil
}

// isSeparator reports whether c ends an attribute value.
func isSeparator(c byte) bool { return c == ',' || c == ';' || c == '+' }

// stringValue parses an RFC 4514 §3 string value with its escapes, stopping at an unescaped
// separator. Unescaped trailing spaces are dropped.
func (p *dnParser) stringValue() (string, error) {
	var b []byte
	keep := 0 // length of b up to the last significant (non-space or escaped) byte
	for !p.eof() && !isSeparator(p.s[p.i]) {
		c := p.s[p.i]
		if c != '\\' {
			b = append(b, c)
			if c != ' ' {
				keep = len(b)
			}
			p.i++
			continue
		}
		d, err := p.escape()
		if err != nil {
			return "", err
		}
		b = append(b, d)
		keep = len(b)
	}
	return string(b[:keep]), nil
}

// escape decodes "\" followed by a special character or two hex digits (RFC 4514 §3 pair).
func (p *dnParser) escape() (byte, error) {
	p.i++ // backslash
	if p.eof() {
		return 0, fmt.Errorf("dangling '\\' at end of DN")
	}
	c := p.s[p.i]
	if isHex(c) {
		if p.i+1 >= len(p.s) || !isHex(p.s[p.i+1]) {
			return 0, fmt.Errorf("invalid hex escape at offset %d", p.i-1)
		}
		v, _ := hex.DecodeString(p.s[p.i : p.i+2])
		p.i += 2
		return v[0], nil
	}
	if strings.IndexByte(" \"#+,;<=>\\", c) < 0 {
		return 0, fmt.Errorf("invalid escape %q at offset %d", "\\"+string(c), p.i-1)
	}
	p.i++
	return c, nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// quotedValue parses a legacy RFC 1779 quoted value: '"' ... '"' with backslash escapes.
func (p *dnParser) quotedValue() (string, error) {
	start := p.i
	p.i++ // opening quote
	var b []byte
	for {
		if p.eof() {
			return "", fmt.Errorf("unterminated quoted value at offset %d", start)
		}
		c := p.s[p.i]
		switch c {
		case '"':
			p.i++
			return string(b), nil
		case '\\':
			d, err := p.escape()
			if err != nil {
				return "", err
			}
			b = append(b, d)
		default:
			b = append(b, c)
			p.i++
		}
	}
}

// hexValue parses "#" hexstring (RFC 4514 §2.4): the BER encoding of the value. String types
// are decoded; other types keep the "#hex" form, lower-cased, as DNString writes them.
func (p *dnParser) hexValue() (string, error) {
	start := p.i
	p.i++ // '#'
	for !p.eof() && isHex(p.s[p.i]) {
		p.i++
	}
	digits := p.s[start+1 : p.i]
	der, err := hex.DecodeString(digits)
	if err != nil || len(der) == 0 {
		return "", fmt.Errorf("invalid hexstring value at offset %d", start)
	}
	var raw asn1.RawValue
	rest, err := asn1.Unmarshal(der, &raw)
	if err != nil || len(rest) > 0 {
		return "", fmt.Errorf("hexstring value at offset %d is not a single BER element", start)
	}
	if raw.Class == asn1.ClassUniversal && !raw.IsCompound {
		switch raw.Tag {
		case asn1.TagUTF8String, asn1.TagPrintableString, asn1.TagIA5String, asn1.TagT61String,
			asn1.TagNumericString:
			return string(raw.Bytes), nil
		case asn1.TagBMPString:
			if len(raw.Bytes)%2 != 0 {
				return "", fmt.Errorf("invalid BMPString at offset %d", start)
			}
			u := make([]uint16, len(raw.Bytes)/2)
			for i := range u {
				u[i] = uint16(raw.Bytes[2*i])<<8 | uint16(raw.Bytes[2*i+1])
			}
			return string(utf16.Decode(u)), nil
		}
	}
	return "#" + strings.ToLower(digits), nil
}

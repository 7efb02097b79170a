package trust

import (
	"bufio"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// Namespace is the XML namespace of the MSSanté operators' whitelist.
const Namespace = "https://listeblanche.mssante.fr/schema"

// MaxWhitelistSize caps the number of bytes ParseWhitelist reads. The national whitelist
// counts a few thousand domains, far below this limit.
const MaxWhitelistSize = 32 << 20

// ErrWhitelistTooLarge is returned (wrapped) when the input exceeds MaxWhitelistSize.
var ErrWhitelistTooLarge = errors.New("whitelist exceeds maximum size")

// Domain is one <Domaine> entry of the whitelist: a mail domain of the MSSanté space and the
// operator serving it.
type Domain struct {
	// Name is the lower-cased mail domain (<Nom>).
	Name string
	// Description is the free-text description (<Description>).
	Description string
	// CertDN is the subject DN of the operator's certificate (<DNCertificatOperateur>),
	// as an RFC 4514 string; compare it with MatchDN.
	CertDN string
	// ResponsableContact is the operator's responsible contact (<ResponsableContact>).
	ResponsableContact string
	// SupportContact is the operator's support contact (<SupportContact>).
	SupportContact string
	// Updated is the raw last-update date of the entry (<DateMAJ>).
	Updated string
}

// Whitelist is a parsed operators' whitelist. It must not be modified once published: a
// Source hands the same value to concurrent readers.
type Whitelist struct {
	// Generated is the generation date (<DateDeGeneration>), zero when absent.
	Generated time.Time
	// Domains maps lower-cased domain names to their entries.
	Domains map[string]Domain
}

// Lookup returns the entry of domain, compared case-insensitively (a trailing dot is ignored).
func (w *Whitelist) Lookup(domain string) (Domain, bool) {
	if w == nil {
		return Domain{}, false
	}
	d, ok := w.Domains[normalizeDomain(domain)]
	return d, ok
}

// Contains reports whether domain is listed, compared case-insensitively.
func (w *Whitelist) Contains(domain string) bool {
	_, ok := w.Lookup(domain)
	return ok
}

// Len returns the number of listed domains.
func (w *Whitelist) Len() int {
	if w == nil {
		return 0
	}
	return len(w.Domains)
}

// ParseWhitelist reads an operators' whitelist. Every <Domaine> element in Namespace is read,
// wherever it sits in the document; the root element's name is not verified, and elements in
// other namespaces are ignored. It reads at most MaxWhitelistSize bytes and refuses malformed
// XML, a Domaine without Nom, an invalid domain name and conflicting duplicate entries.
//
// The XML signature of the published whitelist is not verified here.
func ParseWhitelist(r io.Reader) (*Whitelist, error) {
	lr := &limitedReader{r: r, left: MaxWhitelistSize}
	dec := xml.NewDecoder(lr)
	dec.CharsetReader = charsetReader
	wl := &Whitelist{Domains: make(map[string]Domain)}
	sawRoot := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("whitelist: malformed XML: %w", err)
		}
		start, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		sawRoot = true
		if start.Name.Space != Namespace {
			continue
		}
		switch start.Name.Local {
		case "Domaine":
			line, _ := dec.InputPos()
			d, err := parseDomaine(dec)
			if err != nil {
				return nil, fmt.Errorf("whitelist: Domaine at line %d: %w", line, err)
			}
			if prev, dup := wl.Domains[d.Name]; dup && prev != d {
				return nil, fmt.Errorf("whitelist: Domaine at line %d: conflicting duplicate entry for %q", line, d.Name)
			}
			wl.Domains[d.Name] = d
		case "DateDeGeneration":
			text, err := elementText(dec)
			if err != nil {
				return nil, fmt.Errorf("whitelist: DateDeGeneration: %w", err)
			}
			if !wl.Generated.IsZero() {
				continue
			}
			t, err := parseDate(text)
			if err != nil {
				return nil, fmt.Errorf("whitelist: DateDeGeneration: %w", err)
			}
			wl.Generated = t
		}
	}
	if !sawRoot {
		return nil, errors.New("whitelist: malformed XML: no root element")
	}
	return wl, nil
}

// parseDomaine reads the children of a <Domaine> element whose start tag was just consumed.
// Children are accepted in Namespace or without a namespace; unknown children are skipped.
func parseDomaine(dec *xml.Decoder) (Domain, error) {
	var d Domain
	seen := make(map[string]bool)
	for {
		tok, err := dec.Token()
		if err != nil {
			return Domain{}, fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.EndElement:
			if !seen["Nom"] {
				return Domain{}, errors.New("missing Nom")
			}
			if err := d.finish(); err != nil {
				return Domain{}, err
			}
			return d, nil
		case xml.StartElement:
			var field *string
			if t.Name.Space == Namespace || t.Name.Space == "" {
				field = d.field(t.Name.Local)
			}
			if field == nil {
				if err := dec.Skip(); err != nil {
					return Domain{}, fmt.Errorf("malformed XML: %w", err)
				}
				continue
			}
			if seen[t.Name.Local] {
				return Domain{}, fmt.Errorf("duplicate %s", t.Name.Local)
			}
			seen[t.Name.Local] = true
			text, err := elementText(dec)
			if err != nil {
				return Domain{}, fmt.Errorf("%s: %w", t.Name.Local, err)
			}
			*field = strings.TrimSpace(text)
		}
	}
	// Unreachable: the loop returns on the Domaine end element or on error.
}

// field returns the Domain field named by a child element's local name, or nil.
func (d *Domain) field(local string) *string {
	switch local {
	case "Nom":
		return &d.Name
	case "Description":
		return &d.Description
	case "DNCertificatOperateur":
		return &d.CertDN
	case "ResponsableContact":
		return &d.ResponsableContact
	case "SupportContact":
		return &d.SupportContact
	case "DateMAJ":
		return &d.Updated
	}
	return nil
}

// finish normalises and validates a Domain read from XML.
func (d *Domain) finish() error {
	d.Name = normalizeDomain(d.Name)
	if d.Name == "" {
		return errors.New("empty Nom")
	}
	if err := ValidateDomainName(d.Name); err != nil {
		return fmt.Errorf("Nom: %w", err)
	}
	return nil
}

// elementText returns the character data of the element whose start tag was just consumed,
// up to and including its end tag. Character data of nested elements is included.
func elementText(dec *xml.Decoder) (string, error) {
	var b strings.Builder
	depth := 1
	for depth > 0 {
		tok, err := dec.Token()
		if err != nil {
			return "", fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.CharData:
			b.Write(t)
		case xml.StartElement:
			depth++
		case xml.EndElement:
			depth--
		}
	}
	return b.String(), nil
}

// parseDate accepts the date formats seen in the whitelist: an RFC 3339 timestamp, with or
// without a zone, or a plain date.
func parseDate(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid date %q", s)
}

// limitedReader reads at most left bytes from r and fails with ErrWhitelistTooLarge beyond.
type limitedReader struct {
	r    io.Reader
	left int64
}

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// Probe for one more byte to tell an input of exactly the limit from a larger one.
		var one [1]byte
		n, err := l.r.Read(one[:])
		if n > 0 {
			return 0, fmt.Errorf("%w (%d bytes)", ErrWhitelistTooLarge, MaxWhitelistSize)
		}
		return 0, err
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	return n, err
}

// charsetReader lets the decoder read documents declared in ISO-8859-1 or US-ASCII besides
// UTF-8 (XML 1.0 §4.3.3); other encodings are refused.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "us-ascii", "ascii":
		return &latin1Reader{r: bufio.NewReader(input)}, nil
	}
	return nil, fmt.Errorf("unsupported encoding %q", charset)
}

// latin1Reader converts ISO-8859-1 (hence US-ASCII) bytes to UTF-8.
type latin1Reader struct {
	r       *bufio.Reader
	pending []byte
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(l.pending) > 0 {
			c := copy(p[n:], l.pending)
			l.pending = l.pending[c:]
			n += c
			continue
		}
		b, err := l.r.ReadByte()
		if err != nil {
			if n > 0 {
				return n, nil
			}
			return 0, err
		}
		l.pending = utf8.AppendRune(l.pending[:0], rune(b))
	}
	return n, nil
}

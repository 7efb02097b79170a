package ldapd

import (
	"slices"
	"strings"
	"unicode"

	ber "github.com/lor00x/goldap/message"

	"github.com/hygie-sante/hygie/internal/directory"
)

// aliases maps attribute names (lower case) to the names entries use.
var aliases = map[string]string{
	"commonname":       "cn",
	"surname":          "sn",
	"gn":               "givenname",
	"organizationname": "o",
	"rfc822mailbox":    "mail",
	"emailaddress":     "mail",
	"email":            "mail",
	"telephone":        "telephonenumber",
}

// canonical returns the lower-case attribute name without options
// (RFC 4512 §2.5: cn;lang-fr is cn).
func canonical(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if i := strings.IndexByte(name, ';'); i >= 0 {
		name = name[:i]
	}
	if a, ok := aliases[name]; ok {
		return a
	}
	return name
}

// fold is the matching rule of every attribute: case- and
// accent-insensitive (caseIgnoreMatch, RFC 4517 §4.2.11, widened to
// accents like the platform directory: « Hél » finds « Hélène » and
// « hel » too), surrounding spaces ignored. Punctuation is kept, so that
// mail equality stays exact.
func fold(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		if r < 0x80 {
			if 'A' <= r && r <= 'Z' {
				r += 'a' - 'A'
			}
			b.WriteRune(r)
			continue
		}
		if f := directory.Fold(string(r)); strings.TrimSpace(f) != "" {
			b.WriteString(f)
		} else if !unicode.Is(unicode.Mn, r) {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// matches evaluates filter on e (RFC 4511 §4.5.1.7). Unknown attributes
// and extensible matches are Undefined, which here is false, also under
// not (an approximation of the three-valued logic that never widens a
// result).
func matches(f ber.Filter, e *entry) bool {
	v, ok := eval(f, e)
	return ok && v
}

// eval returns the filter's value and whether it is defined.
func eval(f ber.Filter, e *entry) (bool, bool) {
	switch f := f.(type) {
	case ber.FilterAnd:
		res, def := true, true
		for _, c := range f {
			v, ok := eval(c, e)
			if ok && !v {
				return false, true
			}
			def = def && ok
		}
		return res, def
	case ber.FilterOr:
		def := true
		for _, c := range f {
			v, ok := eval(c, e)
			if ok && v {
				return true, true
			}
			def = def && ok
		}
		return false, def
	case ber.FilterNot:
		v, ok := eval(f.Filter, e)
		return !v, ok
	case ber.FilterPresent:
		_, has := e.attrs[canonical(string(f))]
		return has, true
	case ber.FilterEqualityMatch:
		return compare(e, string(f.AttributeDesc()), string(f.AssertionValue()), func(v, a string) bool { return v == a })
	case ber.FilterApproxMatch:
		return compare(e, string(f.AttributeDesc()), string(f.AssertionValue()), func(v, a string) bool { return v == a })
	case ber.FilterGreaterOrEqual:
		return compare(e, string(f.AttributeDesc()), string(f.AssertionValue()), func(v, a string) bool { return v >= a })
	case ber.FilterLessOrEqual:
		return compare(e, string(f.AttributeDesc()), string(f.AssertionValue()), func(v, a string) bool { return v <= a })
	case ber.FilterSubstrings:
		vals, known := values(e, string(f.Type_()))
		if !known {
			return false, false
		}
		for _, v := range vals {
			if substringMatch(fold(v), f.Substrings()) {
				return true, true
			}
		}
		return false, true
	}
	return false, false
}

// values returns the values of an attribute and whether the attribute is
// one entries may have (a known attribute absent from e is false, not
// Undefined).
func values(e *entry, name string) ([]string, bool) {
	n := canonical(name)
	vs, ok := e.attrs[n]
	if ok {
		return vs, true
	}
	switch n {
	case "objectclass", "mail", "cn", "displayname", "sn", "givenname", "o", "title", "telephonenumber",
		"postaladdress", "ou", "namingcontexts", "supportedldapversion", "supportedextension", "vendorname":
		return nil, true
	}
	return nil, false
}

func compare(e *entry, name, assertion string, ok func(v, a string) bool) (bool, bool) {
	vals, known := values(e, name)
	if !known {
		return false, false
	}
	a := fold(assertion)
	for _, v := range vals {
		if ok(fold(v), a) {
			return true, true
		}
	}
	return false, true
}

// substringMatch checks initial*any*…*final on a folded value.
func substringMatch(v string, subs []ber.Substring) bool {
	for i, sub := range subs {
		switch s := sub.(type) {
		case ber.SubstringInitial:
			p := fold(string(s))
			if i != 0 || !strings.HasPrefix(v, p) {
				return false
			}
			v = v[len(p):]
		case ber.SubstringAny:
			p := fold(string(s))
			j := strings.Index(v, p)
			if j < 0 {
				return false
			}
			v = v[j+len(p):]
		case ber.SubstringFinal:
			p := fold(string(s))
			if i != len(subs)-1 || !strings.HasSuffix(v, p) {
				return false
			}
			v = ""
		}
	}
	return true
}

// searchable are the attributes whose values come from fields the
// platform directory's search indexes (names, box label, raison sociale,
// structure, profession, spécialité, visible addresses).
var searchable = map[string]bool{"mail": true, "cn": true, "displayname": true, "sn": true, "givenname": true,
	"o": true, "title": true}

// prefilter derives from a filter the texts to look up with
// directory.Search: every entry the filter matches should be among the
// results of one of them. ok is false when the filter gives no usable
// text (presence, negation, objectClass, telephoneNumber…): then every
// directory entry is a candidate. directory.Search matches words by
// prefix, so a substring inside a word (*upon* for Dupont) finds nothing:
// mail clients send what the person typed, which begins words.
func prefilter(f ber.Filter) (terms []string, ok bool) {
	switch f := f.(type) {
	case ber.FilterAnd:
		// The most selective child that gives texts: the longest
		// shortest text.
		best := -1
		for _, c := range f {
			if ts, ok := prefilter(c); ok {
				short := len(ts[0])
				for _, t := range ts {
					short = min(short, len(t))
				}
				if short > best {
					best, terms = short, ts
				}
			}
		}
		return terms, best >= 0
	case ber.FilterOr:
		for _, c := range f {
			ts, ok := prefilter(c)
			if !ok {
				return nil, false
			}
			for _, t := range ts {
				if !slices.Contains(terms, t) {
					terms = append(terms, t)
				}
			}
		}
		return terms, len(terms) > 0
	case ber.FilterEqualityMatch:
		return term(string(f.AttributeDesc()), string(f.AssertionValue()))
	case ber.FilterApproxMatch:
		return term(string(f.AttributeDesc()), string(f.AssertionValue()))
	case ber.FilterSubstrings:
		longest := ""
		for _, sub := range f.Substrings() {
			var p string
			switch s := sub.(type) {
			case ber.SubstringInitial:
				p = string(s)
			case ber.SubstringAny:
				p = string(s)
			case ber.SubstringFinal:
				p = string(s)
			}
			if p = fold(p); len(p) > len(longest) {
				longest = p
			}
		}
		return term(string(f.Type_()), longest)
	}
	return nil, false
}

func term(attr, value string) ([]string, bool) {
	value = fold(value)
	if !searchable[canonical(attr)] || len(directory.Words(value)) == 0 {
		return nil, false
	}
	return []string{value}, true
}

package directory

import (
	"regexp"
	"strings"
	"unicode"
)

// maxTermLen bounds an indexed word, in bytes (after folding).
const maxTermLen = 40

// foldTable maps accented Latin letters (lower case) to ASCII.
var foldTable = func() map[rune]string {
	m := map[rune]string{}
	for _, p := range []struct{ from, to string }{
		{"àáâãäåāăą", "a"}, {"çćĉċč", "c"}, {"ďđ", "d"}, {"èéêëēĕėęě", "e"},
		{"ĝğġģ", "g"}, {"ĥħ", "h"}, {"ìíîïĩīĭįı", "i"}, {"ĵ", "j"}, {"ķ", "k"},
		{"ĺļľŀł", "l"}, {"ñńņňŉ", "n"}, {"òóôõöøōŏő", "o"}, {"ŕŗř", "r"},
		{"śŝşšș", "s"}, {"ţťŧț", "t"}, {"ùúûüũūŭůűų", "u"}, {"ŵ", "w"},
		{"ýÿŷ", "y"}, {"źżž", "z"},
	} {
		for _, r := range p.from {
			m[r] = p.to
		}
	}
	m['œ'], m['æ'], m['ß'], m['ð'], m['þ'] = "oe", "ae", "ss", "d", "th"
	return m
}()

// Fold lower-cases s and strips its accents (« Éloïse Çœur » → « eloise
// coeur »); characters other than letters and digits become spaces.
func Fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		r = unicode.ToLower(r)
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case r < 128:
			b.WriteByte(' ')
		default:
			if t, ok := foldTable[r]; ok {
				b.WriteString(t)
			} else if unicode.Is(unicode.Mn, r) {
				// a combining accent (decomposed input): dropped
			} else {
				b.WriteByte(' ')
			}
		}
	}
	return b.String()
}

// Words returns the folded words of s (see Fold), without duplicates, in
// order, each cut at maxTermLen bytes.
func Words(s string) []string {
	var out []string
	seen := map[string]bool{}
	for _, w := range strings.Fields(Fold(s)) {
		if len(w) > maxTermLen {
			w = w[:maxTermLen]
		}
		if !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

// postcodeTown matches « 75012 Paris » or « 69003 LYON CEDEX 03 ».
var postcodeTown = regexp.MustCompile(`(?i)\b(\d{5})\s+([^\d,][^,]*?)(?:\s+cedex(?:\s+\d+)?)?\s*$`)

// City derives the postcode and the town from a French postal address:
// the last line holding « code postal + commune ». Both are empty when no
// line looks like that.
func City(postal string) (postcode, town string) {
	lines := strings.Split(strings.ReplaceAll(postal, "\r\n", "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if m := postcodeTown.FindStringSubmatch(strings.TrimSpace(lines[i])); m != nil {
			return m[1], strings.TrimSpace(m[2])
		}
	}
	return "", ""
}

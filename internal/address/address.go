// Package address parses and normalises mail addresses as Hygie stores them:
// a dot-atom or quoted local part, "@", and a domain name (RFC 5321 §4.1.2).
package address

import (
	"errors"
	"fmt"
	"strings"
)

// Limits of RFC 5321 §4.5.3.1.
const (
	maxLocal   = 64
	maxDomain  = 255
	maxAddress = 254
)

// ErrEmpty is returned for an empty address.
var ErrEmpty = errors.New("empty address")

// Parse checks s as a bare mail address (no display name, no angle brackets)
// and returns it normalised: the domain lower-cased, the local part
// lower-cased too, since Hygie's mailboxes are case-insensitive.
func Parse(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", ErrEmpty
	}
	if len(s) > maxAddress {
		return "", fmt.Errorf("address too long (%d characters, at most %d)", len(s), maxAddress)
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 {
		return "", fmt.Errorf("%q is not a mail address (want local@domain)", s)
	}
	local, domain := s[:at], s[at+1:]
	if err := checkLocal(local); err != nil {
		return "", fmt.Errorf("%q: %w", s, err)
	}
	domain = strings.ToLower(domain)
	if err := CheckDomain(domain); err != nil {
		return "", fmt.Errorf("%q: %w", s, err)
	}
	return strings.ToLower(local) + "@" + domain, nil
}

// Domain returns the part after the last "@" of a parsed address.
func Domain(addr string) string {
	return addr[strings.LastIndexByte(addr, '@')+1:]
}

// checkLocal accepts a dot-atom local part (RFC 5322 §3.2.3) of printable
// atext characters.
func checkLocal(l string) error {
	if len(l) > maxLocal {
		return fmt.Errorf("local part too long (at most %d)", maxLocal)
	}
	if l[0] == '.' || l[len(l)-1] == '.' || strings.Contains(l, "..") {
		return errors.New("misplaced dot in local part")
	}
	for i := 0; i < len(l); i++ {
		if !isAtext(l[i]) && l[i] != '.' {
			return fmt.Errorf("character %q not allowed in local part", l[i])
		}
	}
	return nil
}

func isAtext(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-/=?^_`{|}~", c) >= 0
}

// CheckDomain accepts a lower-case domain name of at least two labels, each
// of letters, digits and inner hyphens, 1 to 63 octets (RFC 1035 §2.3.1).
func CheckDomain(d string) error {
	if d == "" || len(d) > maxDomain {
		return errors.New("bad domain length")
	}
	labels := strings.Split(d, ".")
	if len(labels) < 2 {
		return fmt.Errorf("domain %q has a single label", d)
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("domain %q has an empty or too long label", d)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("domain %q: label starts or ends with a hyphen", d)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
				return fmt.Errorf("domain %q: character %q not allowed", d, c)
			}
		}
	}
	return nil
}

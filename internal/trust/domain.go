package trust

import (
	"errors"
	"fmt"
	"strings"
)

// ValidateDomainName checks that name is a lower-case mail domain as the whitelist lists
// them: labels of 1 to 63 characters among a-z, 0-9 and '-', not starting or ending with a
// hyphen (RFC 1035 §2.3.1, relaxed by RFC 1123 §2.1 to allow a leading digit), separated by
// dots, 253 characters at most in all (RFC 1035 §2.3.4, without the trailing dot).
func ValidateDomainName(name string) error {
	if name == "" {
		return errors.New("empty domain name")
	}
	if len(name) > 253 {
		return fmt.Errorf("domain name longer than 253 characters (%d)", len(name))
	}
	for label := range strings.SplitSeq(name, ".") {
		if err := validateLabel(label); err != nil {
			return fmt.Errorf("invalid domain name %q: %w", name, err)
		}
	}
	return nil
}

func validateLabel(label string) error {
	switch {
	case label == "":
		return errors.New("empty label")
	case len(label) > 63:
		return fmt.Errorf("label longer than 63 characters (%d)", len(label))
	case label[0] == '-' || label[len(label)-1] == '-':
		return fmt.Errorf("label %q starts or ends with a hyphen", label)
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return fmt.Errorf("label %q contains %q (only a-z, 0-9 and '-' allowed)", label, c)
		}
	}
	return nil
}

// normalizeDomain lower-cases the ASCII letters of a domain name and removes surrounding
// white space and a single trailing dot (the root label). Only ASCII is folded, so that no
// non-ASCII character (such as U+212A KELVIN SIGN) can fold onto a listed name.
func normalizeDomain(s string) string {
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

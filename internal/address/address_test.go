package address

import (
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := map[string]string{
		"Jane@Clinic.Example":                   "jane@clinic.example",
		" jean.dupont@medecin.hygie.localhost ": "jean.dupont@medecin.hygie.localhost",
		"a+tag@x-y.example":                     "a+tag@x-y.example",
	}
	for in, want := range good {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{"", "jane", "@x.example", "jane@", "ja ne@x.example", "jane@localhost",
		"jane@-x.example", "a..b@x.example", ".a@x.example", "jane@x_y.example",
		"<jane@x.example>", strings.Repeat("a", 65) + "@x.example", "jane@x..example"}
	for _, in := range bad {
		if got, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %q, want an error", in, got)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"jane@clinic.example", "a.b+c@x-y.z.example", "@", "a@b", "\"q\"@x.example"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := Parse(s)
		if err != nil {
			return
		}
		// A normalised address parses to itself, and is lower-case.
		again, err := Parse(a)
		if err != nil || again != a {
			t.Fatalf("Parse(%q) = %q, but Parse(%q) = %q, %v", s, a, a, again, err)
		}
		if a != strings.ToLower(a) || len(a) > maxAddress || Domain(a) == "" {
			t.Fatalf("Parse(%q) = %q breaks an invariant", s, a)
		}
	})
}

package ldapd

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestReadMessage(t *testing.T) {
	ok := []byte{0x30, 0x05, 0x02, 0x01, 0x01, 0x42, 0x00}
	got, err := readMessage(bytes.NewReader(append(append([]byte{}, ok...), 0x30)))
	if err != nil || !bytes.Equal(got, ok) {
		t.Fatalf("short form: %x %v", got, err)
	}
	long := append([]byte{0x30, 0x82, 0x01, 0x00}, make([]byte, 256)...)
	if got, err := readMessage(bytes.NewReader(long)); err != nil || len(got) != len(long) {
		t.Fatalf("long form: %d %v", len(got), err)
	}
	for name, in := range map[string][]byte{
		"not a sequence": []byte("GET / HTTP/1.1\r\n"),
		"indefinite":     {0x30, 0x80, 0x00, 0x00},
		"huge":           {0x30, 0x84, 0x7f, 0xff, 0xff, 0xff},
		"over the limit": {0x30, 0x82, 0x10, 0x00},
	} {
		if _, err := readMessage(bytes.NewReader(in)); !errors.Is(err, errFraming) {
			t.Errorf("%s: %v, want errFraming", name, err)
		}
	}
}

func TestBindLogin(t *testing.T) {
	for in, want := range map[string]string{
		"jean@hygie.test":   "jean@hygie.test",
		" jean@hygie.test ": "jean@hygie.test",
		"mail=jean@hygie.test,ou=annuaire,dc=hygie,dc=test": "jean@hygie.test",
		"UID=jean@hygie.test,ou=annuaire,dc=hygie,dc=test":  "jean@hygie.test",
		"cn=Jean Dupont,ou=annuaire,dc=hygie,dc=test":       "cn=Jean Dupont,ou=annuaire,dc=hygie,dc=test",
	} {
		if got := bindLogin(in); got != want {
			t.Errorf("bindLogin(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPostalAddressAndFold(t *testing.T) {
	if got := postalAddress("12 rue de la Paix\r\nBât. $B\\2\n\n75002 Paris"); got != `12 rue de la Paix$Bât. \24B\5C2$75002 Paris` {
		t.Errorf("postalAddress = %q", got)
	}
	if got := fold("  Hélène ÇŒUR-Dupont@X.fr "); got != "helene coeur-dupont@x.fr" {
		t.Errorf("fold = %q", got)
	}
	if strings.Contains(fold("jean.annu@test"), " ") {
		t.Error("fold must keep punctuation")
	}
}

package main

import (
	"bufio"
	"bytes"
	"net/mail"
	"strings"
	"testing"
	"time"
)

// TestMessageMakerSizes checks that generated messages have exactly the
// asked size, parse as RFC 5322, and have short CRLF lines that never start
// with a dot (so DATA needs no dot-stuffing).
func TestMessageMakerSizes(t *testing.T) {
	for _, size := range []int{400, 401, 402, 479, 480, 481, 1000, 4096, 4097, 102400, 102401} {
		m := newMessageMaker("jean.dupont@hygie.localhost", "marie.martin@hygie.localhost", size)
		msg := m.make("<bench-x-1@bench.hygie.localhost>", "hygie bench test", time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
		if len(msg) != size {
			t.Errorf("size %d: got %d bytes", size, len(msg))
		}
		parsed, err := mail.ReadMessage(bytes.NewReader(msg))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if got := parsed.Header.Get("Message-Id"); got != "<bench-x-1@bench.hygie.localhost>" {
			t.Errorf("size %d: Message-ID %q", size, got)
		}
		if !bytes.HasSuffix(msg, []byte("\r\n")) {
			t.Errorf("size %d: does not end with CRLF", size)
		}
		sc := bufio.NewScanner(bytes.NewReader(msg))
		sc.Split(splitCRLF)
		for sc.Scan() {
			line := sc.Text()
			if strings.ContainsAny(line, "\r\n") || len(line) > 998 || strings.HasPrefix(line, ".") {
				t.Errorf("size %d: bad line %q", size, line)
				break
			}
		}
	}
}

// TestMessageMakerTooSmall accepts a size below the header's: the message
// is then just the header.
func TestMessageMakerTooSmall(t *testing.T) {
	m := newMessageMaker("a@hygie.localhost", "b@hygie.localhost", 10)
	msg := m.make("<x@y>", "s", time.Now())
	if _, err := mail.ReadMessage(bytes.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
}

// splitCRLF splits at CRLF only, leaving a lone CR or LF in the token.
func splitCRLF(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.Index(data, []byte("\r\n")); i >= 0 {
		return i + 2, data[:i], nil
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

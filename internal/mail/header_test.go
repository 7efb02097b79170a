package mail

import (
	"testing"
	"unicode/utf8"
)

func TestParseHeader(t *testing.T) {
	raw := "From: Jean <jean@x.example>\r\nSubject: =?utf-8?q?R=C3=A9sultats?= d'analyse\r\n" +
		"Message-ID: <abc@x.example>\r\nAuto-Submitted: auto-replied\r\n\r\nbody\r\n"
	h, err := ParseHeader([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if h.Subject != "Résultats d'analyse" || h.MessageID != "<abc@x.example>" || h.AutoSubmitted != "auto-replied" {
		t.Fatalf("got %+v", h)
	}
	if _, err := ParseHeader([]byte("no colon here\r\n\r\n")); err == nil {
		t.Fatal("malformed header accepted")
	}
	if _, err := ParseHeader(nil); err == nil {
		t.Fatal("empty message accepted")
	}
}

func FuzzParseHeader(f *testing.F) {
	f.Add([]byte("Subject: hi\r\nMessage-ID: <a@b>\r\n\r\nbody"))
	f.Add([]byte("Subject: =?iso-8859-1?q?caf=E9?=\r\n\r\n"))
	f.Add([]byte("X: a\r\n continued\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := ParseHeader(data)
		if err != nil {
			return
		}
		if utf8.ValidString(string(data)) && !utf8.ValidString(h.Subject) {
			t.Fatalf("valid UTF-8 input gave an invalid subject %q", h.Subject)
		}
		// What we add in front of a message must keep it parseable.
		again, err := ParseHeader(append([]byte("Received: from x by y; Thu, 1 Jan 2026 00:00:00 +0000\r\n"), data...))
		if err != nil {
			t.Fatalf("prepending a trace field broke the header: %v", err)
		}
		if again.MessageID != h.MessageID {
			t.Fatalf("Message-ID changed after prepending: %q vs %q", again.MessageID, h.MessageID)
		}
	})
}

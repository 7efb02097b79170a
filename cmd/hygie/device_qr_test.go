package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	qrcode "github.com/skip2/go-qrcode"
)

// TestDecodeQRImage reads back 100 pairing codes made as the web page makes
// them (random secrets, 8 pixels per module): gozxing's detector alone
// misreads a few symbols in a hundred, which the fallbacks must catch.
func TestDecodeQRImage(t *testing.T) {
	dir := t.TempDir()
	for i := range 100 {
		secret := make([]byte, 32)
		rand.Read(secret)
		payload, _ := json.Marshal(map[string]any{"type": "hygie-pairing", "v": 1,
			"server": "https://messagerie.hygie.localhost:8443", "secret": base64.RawURLEncoding.EncodeToString(secret)})
		png, err := qrcode.Encode(string(payload), qrcode.Medium, -8)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "qr.png")
		if err := os.WriteFile(path, png, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := decodeQRImage(path)
		if err != nil {
			t.Fatalf("code %d: %v", i, err)
		}
		if got != string(payload) {
			t.Fatalf("code %d: read %q, want %q", i, got, payload)
		}
	}
}

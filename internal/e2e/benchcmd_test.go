package e2e

import (
	"strconv"
	"strings"
	"testing"
)

// TestBenchCommands runs 'hygie bench fill' and 'hygie bench smtp' briefly
// against a live server and checks that the messages they report are
// stored.
func TestBenchCommands(t *testing.T) {
	n := newNode(t, "")
	n.start()
	n.setupAccounts()
	db := n.openDB()

	out := n.mustHygie("", "bench", "fill", "--to", bob, "--count", "300", "--size", "2048", "--batch", "120")
	if !strings.Contains(out, "with 300 messages of 2048 bytes") {
		t.Errorf("bench fill output:\n%s", out)
	}
	if got := len(n.folderCounts(db, bob, "INBOX")); got != 300 {
		t.Fatalf("after bench fill, %d messages in INBOX, want 300", got)
	}

	pid := strconv.Itoa(n.cmd.Process.Pid)
	common := []string{"bench", "smtp", "--insecure", "--user", alice, "--password", testPassword, "--to", bob,
		"--size", "4096", "--conns", "4", "--runs", "2", "--pid", pid}
	for _, c := range []struct {
		name string
		args []string
		sent int
	}{
		{"STARTTLS", []string{"--addr", n.addr["submission"], "--messages", "50"}, 100},
		{"implicit TLS", []string{"--addr", n.addr["submissions"], "--implicit-tls", "--messages", "10"}, 20},
	} {
		out := n.mustHygie("", append(common, c.args...)...)
		t.Logf("%s:\n%s", c.name, out)
		for _, want := range []string{"MSG/S", "SERVER CPU MS/MSG", "summary: median", "server peak RSS", ", 0 failed"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q", c.name, want)
			}
		}
	}
	if got := len(n.folderCounts(db, alice, "Sent")); got != 120 {
		t.Errorf("%d messages in %s's Sent, want 120", got, alice)
	}
	if got := len(n.folderCounts(db, bob, "INBOX")); got != 420 {
		t.Errorf("%d messages in %s's INBOX, want 420", got, bob)
	}

	// A refused message makes the command fail with the reason.
	r := n.hygie("", append(common, "--addr", n.addr["submission"], "--messages", "2", "--password", "wrong-password")...)
	if r.code == 0 || !strings.Contains(r.stderr, "535") {
		t.Errorf("bench smtp with a wrong password: exit %d, stderr %q; want non-zero and 535", r.code, r.stderr)
	}
}

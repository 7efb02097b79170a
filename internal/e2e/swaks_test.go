package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// maxSize is the message size limit of the swaks test's server.
const maxSize = 10000

// TestSwaksSubmission submits with Debian's swaks, as a mail client would:
// STARTTLS with AUTH PLAIN and AUTH LOGIN, implicit TLS, AUTH refused
// without TLS, and a message over the size limit refused with 552 5.3.4.
func TestSwaksSubmission(t *testing.T) {
	swaks := requireSwaks(t)
	n := newNode(t, "", "HYGIE_SMTP_MAX_MESSAGE_SIZE=10000")
	n.start()
	n.setupAccounts()
	db := n.openDB()

	// run runs swaks against addr with alice's credentials, sending a
	// message to bob with a fresh Message-ID, and returns that id.
	run := func(t *testing.T, addr string, args ...string) (string, result) {
		t.Helper()
		msgID := newMessageID("swaks")
		base := []string{"--server", addr, "--from", alice, "--to", bob, "--timeout", "20",
			"--auth-user", alice, "--auth-password", testPassword,
			"--header", "Message-Id: " + msgID, "--header", "Subject: swaks " + t.Name()}
		r := runSwaks(t, swaks, append(base, args...)...)
		return msgID, r
	}
	delivered := func(t *testing.T, msgID string) {
		t.Helper()
		if c := n.folderCounts(db, bob, "INBOX")[msgID]; c != 1 {
			t.Errorf("%s is %d times in %s's INBOX, want 1", msgID, c, bob)
		}
		if c := n.folderCounts(db, alice, "Sent")[msgID]; c != 1 {
			t.Errorf("%s is %d times in %s's Sent, want 1", msgID, c, alice)
		}
	}
	absent := func(t *testing.T, msgID string) {
		t.Helper()
		if c := n.folderCounts(db, bob, "INBOX")[msgID]; c != 0 {
			t.Errorf("refused message %s is in %s's INBOX", msgID, bob)
		}
	}

	for _, mech := range []string{"PLAIN", "LOGIN"} {
		t.Run("STARTTLS AUTH "+mech, func(t *testing.T) {
			id, r := run(t, n.addr["submission"], "--tls", "--auth", mech)
			if r.code != 0 {
				t.Fatalf("swaks exit %d, want 0:\n%s", r.code, r.stdout)
			}
			if !strings.Contains(r.stdout, "235 ") {
				t.Errorf("no 235 (authenticated) in the transcript:\n%s", r.stdout)
			}
			delivered(t, id)
		})
	}

	t.Run("implicit TLS", func(t *testing.T) {
		id, r := run(t, n.addr["submissions"], "--tlsc", "--auth", "PLAIN")
		if r.code != 0 {
			t.Fatalf("swaks --tlsc exit %d, want 0:\n%s", r.code, r.stdout)
		}
		delivered(t, id)
	})

	t.Run("no AUTH without TLS", func(t *testing.T) {
		id, r := run(t, n.addr["submission"], "--auth", "PLAIN")
		if r.code != 28 {
			t.Errorf("swaks without --tls exit %d, want 28 (error in AUTH transaction):\n%s", r.code, r.stdout)
		}
		absent(t, id)
		plainSessionRefusesAuth(t, n.addr["submission"])
	})

	t.Run("oversized message", func(t *testing.T) {
		body := filepath.Join(t.TempDir(), "body.txt")
		line := strings.Repeat("x", 70) + "\r\n"
		if err := os.WriteFile(body, []byte(strings.Repeat(line, 2*maxSize/len(line))), 0o600); err != nil {
			t.Fatal(err)
		}
		id, r := run(t, n.addr["submission"], "--tls", "--auth", "PLAIN", "--body", "@"+body)
		if r.code != 26 {
			t.Errorf("swaks exit %d, want 26 (mail not accepted after DATA):\n%s", r.code, tail(r.stdout, 15))
		}
		if !strings.Contains(r.stdout, "552 5.3.4") {
			t.Errorf("no 552 5.3.4 in the transcript:\n%s", tail(r.stdout, 15))
		}
		absent(t, id)
	})
}

// plainSessionRefusesAuth checks, on a session without TLS, that EHLO does
// not offer AUTH, that AUTH is answered 523 (TLS required, RFC 4954 §4)
// and that MAIL is answered 530 (authentication required).
func plainSessionRefusesAuth(t *testing.T, addr string) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	c := textproto.NewConn(nc)
	if _, _, err := c.ReadResponse(220); err != nil {
		t.Fatalf("greeting: %v", err)
	}
	id, _ := c.Cmd("EHLO e2e.test")
	c.StartResponse(id)
	_, ehlo, err := c.ReadResponse(250)
	c.EndResponse(id)
	if err != nil {
		t.Fatalf("EHLO: %v", err)
	}
	if strings.Contains(strings.ToUpper(ehlo), "AUTH") {
		t.Errorf("EHLO without TLS offers AUTH:\n%s", ehlo)
	}
	ir := base64.StdEncoding.EncodeToString([]byte("\x00" + alice + "\x00" + testPassword))
	code, msg := cmd(t, c, "AUTH PLAIN "+ir)
	t.Logf("AUTH without TLS: %d %s", code, msg)
	if code != 523 && code != 530 {
		t.Errorf("AUTH without TLS answered %d %s, want 523 or 530", code, msg)
	}
	code, msg = cmd(t, c, "MAIL FROM:<"+alice+">")
	t.Logf("MAIL without AUTH: %d %s", code, msg)
	if code != 530 {
		t.Errorf("MAIL without AUTH answered %d %s, want 530", code, msg)
	}
}

// cmd sends one SMTP command and returns the reply code and text.
func cmd(t *testing.T, c *textproto.Conn, line string) (int, string) {
	t.Helper()
	id, err := c.Cmd("%s", line)
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	c.StartResponse(id)
	defer c.EndResponse(id)
	code, msg, err := c.ReadResponse(0)
	var pe textproto.ProtocolError
	if err != nil && !errors.As(err, &pe) && code == 0 {
		t.Fatalf("%s: %v", line, err)
	}
	return code, msg
}

// requireSwaks returns swaks' path; without it the test fails under
// CI=true (CI installs it) and is skipped elsewhere.
func requireSwaks(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("swaks")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("swaks is not installed (apt-get install -y swaks) but CI=true")
		}
		t.Skip("swaks is not installed (apt-get install -y swaks)")
	}
	return p
}

// runSwaks runs swaks and returns its transcript (stdout and stderr).
func runSwaks(t *testing.T, swaks string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, swaks, args...)
	var out bytes.Buffer
	c.Stdout, c.Stderr = &out, &out
	err := c.Run()
	r := result{stdout: out.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("swaks: %v", err)
	}
	return r
}

// newMessageID returns a unique Message-ID with angle brackets.
func newMessageID(prefix string) string {
	var b [8]byte
	rand.Read(b[:])
	return "<" + prefix + "-" + hex.EncodeToString(b[:]) + "@e2e.hygie.localhost>"
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

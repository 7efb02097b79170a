package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/xml"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/config"
	"github.com/hygie-sante/hygie/internal/server"
	"github.com/hygie-sante/hygie/internal/store/storetest"
	"github.com/hygie-sante/hygie/internal/trust"
)

const testPassword = "correct-horse-42"

// nodeSpec describes one operator's hygie node for a test.
type nodeSpec struct {
	Hostname string
	Domains  []string
	// DN is the subject of the operator certificate, issued by Issuer.
	DN     pkix.Name
	Issuer *trust.TestCA
	// CABundle and Whitelist are files (see writeCABundle, writeWhitelist).
	CABundle, Whitelist string
	Routes              map[string]string
	Database            string
	// Smarthost relays the platform's own mail (see smarthosttest).
	Smarthost string
	// SupportURL is the « Centre De Services » link (support_url).
	SupportURL string
	// Queue settings; zero values keep the defaults.
	RetryFor, InitialBackoff, MaxBackoff time.Duration
	// BeforeStart, when set, adjusts the opened node before Start (for
	// instance its Tokens validator).
	BeforeStart func(*server.Node)
}

// testNode is a started node and what tests need to talk to it.
type testNode struct {
	*server.Node
	issuer *trust.TestCA
	logs   *syncBuffer
}

// startNode opens and starts a node with the operator MX, the IMAP, the web and the
// submission listener, on loopback ports chosen by the system. It stops
// at the end of the test; its log is shown if the test fails.
func startNode(t *testing.T, s nodeSpec) *testNode {
	t.Helper()
	dir := t.TempDir()
	certPath, keyPath, err := s.Issuer.WriteFiles(dir, "operator", s.DN, []string{"127.0.0.1", s.Hostname})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = dir
	cfg.Database = s.Database
	cfg.Hostname = s.Hostname
	cfg.Domains = s.Domains
	cfg.Listen = config.Listen{SMTP: "127.0.0.1:0", Submission: "127.0.0.1:0", IMAP: "127.0.0.1:0", Web: "127.0.0.1:0"}
	cfg.Smarthost = s.Smarthost
	cfg.SupportURL = s.SupportURL
	cfg.TLS.Cert, cfg.TLS.Key = certPath, keyPath
	cfg.Trust.CABundle, cfg.Trust.Whitelist = s.CABundle, s.Whitelist
	cfg.Routes = s.Routes
	cfg.Queue.PollInterval.Duration = 50 * time.Millisecond
	for _, d := range []struct {
		dst *config.Duration
		v   time.Duration
	}{{&cfg.Queue.RetryFor, s.RetryFor}, {&cfg.Queue.InitialBackoff, s.InitialBackoff}, {&cfg.Queue.MaxBackoff, s.MaxBackoff}} {
		if d.v > 0 {
			d.dst.Duration = d.v
		}
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", s.Hostname)
	ctx, cancel := context.WithCancel(context.Background())
	n, err := server.Open(ctx, cfg, log)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	if s.BeforeStart != nil {
		s.BeforeStart(n)
	}
	if err := n.Start(ctx); err != nil {
		cancel()
		n.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		n.Wait()
		n.Close()
		if t.Failed() {
			t.Logf("log of %s:\n%s", s.Hostname, logs.String())
		}
	})
	return &testNode{Node: n, issuer: s.Issuer, logs: logs}
}

// addPerson creates a structure (once) and an individual account with the
// test password.
func (n *testNode) addPerson(t *testing.T, kind account.Kind, login, mss, first, last string) *account.Account {
	t.Helper()
	ctx := context.Background()
	if _, err := n.Accounts.CreateStructure(ctx, "Structure "+n.Cfg.Hostname, ""); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	a, err := n.Accounts.Create(ctx, account.NewAccount{Structure: "Structure " + n.Cfg.Hostname, Kind: kind,
		Login: login, MSS: mss, FirstName: first, LastName: last})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Accounts.SetPassword(ctx, login, testPassword); err != nil {
		t.Fatal(err)
	}
	return a
}

// submit logs in to the node's submission listener (STARTTLS, the node's
// certificate verified) and sends a message from from to rcpts. It returns
// the first refusal, if any.
func (n *testNode) submit(t *testing.T, login, from string, rcpts []string, subject string) error {
	t.Helper()
	c, err := smtp.DialStartTLS(n.Addrs["submission"], &tls.Config{RootCAs: n.issuer.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", login, testPassword)); err != nil {
		t.Fatalf("auth %s: %v", login, err)
	}
	msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n\r\nContenu médical confidentiel.\r\n",
		from, strings.Join(rcpts, ">, <"), subject, time.Now().Format(time.RFC1123Z))
	if err := c.SendMail(from, rcpts, strings.NewReader(msg)); err != nil {
		return err
	}
	return c.Quit()
}

// inbox returns the bodies of the messages in an account's INBOX.
func (n *testNode) inbox(t *testing.T, accountID int64) []string {
	t.Helper()
	rows, err := n.St.Query(context.Background(), `SELECT m.body FROM entries e JOIN mailboxes b ON b.id = e.mailbox_id
		JOIN messages m ON m.id = e.message_id WHERE b.account_id = ? AND b.name = 'INBOX' ORDER BY e.uid`, accountID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// eventually polls cond every 20ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// writeCABundle writes the PEM of cas to a file and returns its path.
func writeCABundle(t *testing.T, cas ...*trust.TestCA) string {
	t.Helper()
	var b bytes.Buffer
	for _, ca := range cas {
		b.Write(ca.CertPEM())
	}
	path := filepath.Join(t.TempDir(), "ca-bundle.pem")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeWhitelist writes a liste blanche (SPEC §5) mapping each domain to
// the DN of its operator's certificate.
func writeWhitelist(t *testing.T, entries map[string]pkix.Name) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<ListeBlanche xmlns="https://listeblanche.mssante.fr/schema">` + "\n")
	b.WriteString("  <DateDeGeneration>2026-11-25T06:00:00+01:00</DateDeGeneration>\n")
	for domain, dn := range entries {
		b.WriteString("  <Domaine><Nom>")
		xml.EscapeText(&b, []byte(domain))
		b.WriteString("</Nom><Description>test</Description><DNCertificatOperateur>")
		xml.EscapeText(&b, []byte(trust.DNString(dn)))
		b.WriteString("</DNCertificatOperateur><DateMAJ>2026-10-02</DateMAJ></Domaine>\n")
	}
	b.WriteString("</ListeBlanche>\n")
	path := filepath.Join(t.TempDir(), "listeblanche.xml")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// closedPort returns a loopback address where nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// freshDSN returns a new empty database of the dialect name.
func freshDSN(t *testing.T, dialect string) string {
	t.Helper()
	if dialect == "postgres" {
		return storetest.Postgres(t)
	}
	return storetest.SQLite(t)
}

// syncBuffer collects a node's log for display on failure.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

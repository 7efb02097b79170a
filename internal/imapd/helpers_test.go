package imapd_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/imapd"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
)

const password = "correct horse battery staple"

// env is a running server with a structure, two people and a box.
type env struct {
	t        testing.TB
	ctx      context.Context
	st       *store.Store
	accounts *account.Service
	addr     string
	client   *tls.Config
	srv      *imapd.Server

	doc *account.Account // member of box
	sec *account.Account // not a member
	box *account.Account
}

func newEnv(t testing.TB, dsn string, opts ...func(*imapd.Config)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{t: t, ctx: ctx, st: st, accounts: account.NewService(st)}
	if _, err := e.accounts.CreateStructure(ctx, "Clinique Exemple", ""); err != nil {
		t.Fatal(err)
	}
	e.doc = e.person("jean.dupont@clinique.example", "Jean", "Dupont")
	e.sec = e.person("secretariat@clinique.example", "Marie", "Martin")
	if e.box, err = e.accounts.Create(ctx, account.NewAccount{Structure: "Clinique Exemple", Kind: account.ORG,
		Login: "cardio@clinique.example", MSS: "cardio@hygie.localhost", Label: "Cardiologie"}); err != nil {
		t.Fatal(err)
	}
	if err := e.accounts.AddMember(ctx, e.box.Login, e.doc.Login); err != nil {
		t.Fatal(err)
	}

	serverTLS, clientTLS := testTLS(t)
	e.client = clientTLS
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := imapd.Config{
		Accounts: e.accounts,
		St:       st,
		Audit:    &audit.Log{St: st},
		TLS:      serverTLS,
		Log:      testLogger(),
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv := imapd.New(cfg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	e.addr = ln.Addr().String()
	e.srv = srv
	return e
}

func (e *env) person(login, first, last string) *account.Account {
	e.t.Helper()
	a, err := e.accounts.Create(e.ctx, account.NewAccount{Structure: "Clinique Exemple", Kind: account.MED,
		Login: login, FirstName: first, LastName: last})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := e.accounts.SetPassword(e.ctx, login, password); err != nil {
		e.t.Fatal(err)
	}
	return a
}

// testTLS makes a self-signed ECDSA certificate for 127.0.0.1 and returns
// the server's configuration and a client configuration trusting it.
func testTLS(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "imap.test"},
		DNSNames:     []string{"imap.test"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	server = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}}
	client = &tls.Config{RootCAs: pool, ServerName: "imap.test"}
	return server, client
}

// updates records the unilateral responses a client receives.
type updates struct {
	mu       sync.Mutex
	exists   []uint32
	expunges []uint32
	fetches  map[uint32][]imap.Flag // seq -> last flags
	flags    [][]imap.Flag          // FLAGS responses
	notify   chan struct{}
}

func newUpdates() *updates {
	return &updates{fetches: map[uint32][]imap.Flag{}, notify: make(chan struct{}, 100)}
}

func (u *updates) handler() *imapclient.UnilateralDataHandler {
	poke := func() {
		select {
		case u.notify <- struct{}{}:
		default:
		}
	}
	return &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) {
			u.mu.Lock()
			u.expunges = append(u.expunges, seq)
			u.mu.Unlock()
			poke()
		},
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			u.mu.Lock()
			if d.NumMessages != nil {
				u.exists = append(u.exists, *d.NumMessages)
			}
			if d.Flags != nil {
				u.flags = append(u.flags, d.Flags)
			}
			u.mu.Unlock()
			poke()
		},
		Fetch: func(msg *imapclient.FetchMessageData) {
			buf, err := msg.Collect()
			if err != nil {
				return
			}
			u.mu.Lock()
			if buf.Flags != nil {
				u.fetches[buf.SeqNum] = buf.Flags
			}
			u.mu.Unlock()
			poke()
		},
	}
}

// wait polls cond until it holds or the deadline passes.
func (u *updates) wait(t testing.TB, what string, cond func(u *updates) bool) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		u.mu.Lock()
		ok := cond(u)
		u.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-u.notify:
		case <-time.After(20 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func (u *updates) reset() {
	u.mu.Lock()
	u.exists, u.expunges, u.flags = nil, nil, nil
	u.fetches = map[uint32][]imap.Flag{}
	u.mu.Unlock()
}

// dial connects with STARTTLS and logs in.
func (e *env) dial(login string) (*imapclient.Client, *updates) {
	e.t.Helper()
	u := newUpdates()
	c, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: e.client, UnilateralDataHandler: u.handler()})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	if err := c.Login(login, password).Wait(); err != nil {
		e.t.Fatalf("login %s: %v", login, err)
	}
	return c, u
}

// deliver files a message into a folder the way the SMTP pipeline does.
func (e *env) deliver(accountID int64, folder, msg string) uint32 {
	e.t.Helper()
	uid, err := e.tryDeliver(accountID, folder, msg)
	if err != nil {
		e.t.Fatal(err)
	}
	return uid
}

// tryDeliver is deliver for goroutines other than the test's.
func (e *env) tryDeliver(accountID int64, folder, msg string) (uint32, error) {
	var uid uint32
	err := e.st.Tx(e.ctx, func(tx *store.Tx) error {
		id, err := mailbox.InsertMessage(e.ctx, tx, mailbox.ParseMessage([]byte(msg)), time.Now())
		if err != nil {
			return err
		}
		fid, err := mailbox.ID(e.ctx, tx, accountID, folder)
		if err != nil {
			return err
		}
		uid, err = mailbox.Append(e.ctx, tx, fid, id, nil, time.Now())
		return err
	})
	return uid, err
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.st.QueryRow(e.ctx, q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func message(subject, body string) string {
	return "From: Alice Martin <alice@example.org>\r\n" +
		"To: Jean Dupont <jean.dupont@clinique.example>\r\n" +
		"Subject: " + subject + "\r\n" +
		"Date: Mon, 02 Mar 2026 10:00:00 +0100\r\n" +
		"Message-ID: <" + subject + "@example.org>\r\n" +
		"\r\n" + body + "\r\n"
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, x := range flags {
		if x == f {
			return true
		}
	}
	return false
}

// raw is a line-level IMAP connection, for checking exact responses.
type raw struct {
	t    testing.TB
	conn *tls.Conn
	r    *bufio.Reader
	n    int
}

// dialRaw connects, upgrades with STARTTLS and logs in.
func (e *env) dialRaw(login string) *raw {
	e.t.Helper()
	c, err := net.Dial("tcp", e.addr)
	if err != nil {
		e.t.Fatal(err)
	}
	br := bufio.NewReader(c)
	if _, err := br.ReadString('\n'); err != nil {
		e.t.Fatal(err)
	}
	if _, err := io.WriteString(c, "s STARTTLS\r\n"); err != nil {
		e.t.Fatal(err)
	}
	if line, err := br.ReadString('\n'); err != nil || !strings.HasPrefix(line, "s OK") {
		e.t.Fatalf("STARTTLS: %q %v", line, err)
	}
	tc := tls.Client(c, e.client)
	e.t.Cleanup(func() { tc.Close() })
	r := &raw{t: e.t, conn: tc, r: bufio.NewReader(tc)}
	r.cmd(fmt.Sprintf("LOGIN %q %q", login, password))
	return r
}

// cmd sends a command and returns its untagged responses; it fails the test
// unless the command completes with OK.
func (r *raw) cmd(line string) []string {
	r.t.Helper()
	lines, status := r.try(line)
	if !strings.HasPrefix(status, "OK") {
		r.t.Fatalf("%s: %s", line, status)
	}
	return lines
}

// try sends a command and returns its untagged responses and its status.
func (r *raw) try(line string) ([]string, string) {
	r.t.Helper()
	r.n++
	tag := fmt.Sprintf("t%d", r.n)
	r.conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(r.conn, tag+" "+line+"\r\n"); err != nil {
		r.t.Fatal(err)
	}
	var out []string
	for {
		l, err := r.r.ReadString('\n')
		if err != nil {
			r.t.Fatalf("%s: %v", line, err)
		}
		l = strings.TrimRight(l, "\r\n")
		if strings.HasPrefix(l, tag+" ") {
			return out, strings.TrimPrefix(l, tag+" ")
		}
		out = append(out, l)
	}
}

// testLogger discards logs unless HYGIE_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("HYGIE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

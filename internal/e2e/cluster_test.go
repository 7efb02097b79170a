package e2e

import (
	"bufio"
	"crypto/tls"
	"crypto/x509/pkix"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/store/storetest"
	"github.com/hygie-sante/hygie/internal/trust"
)

// Cluster test sizes: a burst of clusterTotal messages over clusterConns
// sessions spread over the three nodes, every other one to another
// operator; node 3 is killed once clusterKillAfter were accepted.
const (
	clusterTotal     = 600
	clusterConns     = 12
	clusterKillAfter = 200
	remoteDomain     = "remote.test"
	remoteRcpt       = "dr.dupont@" + remoteDomain
	// clusterLease is the nodes' queue.lease.
	clusterLease = 8 * time.Second
	// sinkDelay is how long the other operator takes to accept a message:
	// it keeps every node's relay workers busy during the burst, so that the
	// killed node dies holding jobs.
	sinkDelay = 40 * time.Millisecond
)

// TestCluster runs three 'hygie serve' processes on loopback sharing one
// fresh PostgreSQL database (issue 7, point 1):
//   - the daily digest job exists once, whatever the number of nodes;
//   - a web session opened on one node is valid on the others;
//   - an IMAP IDLE session on node 1 sees mail submitted on node 2 within
//     one second (LISTEN/NOTIFY, internal/server/cluster.go);
//   - submissions spread over the nodes, local and to another operator
//     (a loopback SMTP server with a certificate of a test IGC-Santé,
//     reached by a static route), and node 3 killed with SIGKILL mid-burst:
//     every message answered 250 is in the INBOX exactly once, every remote
//     one answered 250 reaches the other operator, and the queue empties on
//     the surviving nodes, including the jobs node 3 had claimed.
func TestCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("cluster test in -short mode")
	}
	database := storetest.Postgres(t)
	sink := startSink(t)

	// A short lease, so that jobs the killed node had claimed run again on
	// the others within the test.
	extra := []string{
		"HYGIE_TRUST_CA_BUNDLE=" + sink.bundle,
		"HYGIE_TRUST_DOMAINS=" + remoteDomain,
		"HYGIE_ROUTES=" + remoteDomain + "=" + sink.addr,
		"HYGIE_QUEUE_LEASE=" + clusterLease.String(),
		"HYGIE_QUEUE_POLL_INTERVAL=250ms",
		"HYGIE_QUEUE_INITIAL_BACKOFF=1s",
		"HYGIE_QUEUE_MAX_BACKOFF=2s",
	}
	nodes := make([]*node, 3)
	for i := range nodes {
		nodes[i] = newNode(t, database, extra...)
	}
	nodes[0].start() // migrates the database
	nodes[0].setupAccounts()
	var wg sync.WaitGroup
	for _, n := range nodes[1:] {
		wg.Add(1)
		go func() { defer wg.Done(); n.start() }()
	}
	wg.Wait()
	db := nodes[0].openDB()

	var digests int
	if err := db.QueryRow(`SELECT COUNT(*) FROM jobs WHERE kind = 'digest'`).Scan(&digests); err != nil {
		t.Fatal(err)
	}
	if digests != 1 {
		t.Errorf("%d daily digest jobs with three nodes, want 1", digests)
	}

	t.Run("web session on every node", func(t *testing.T) { clusterWebSession(t, nodes) })
	t.Run("IDLE across nodes", func(t *testing.T) { clusterIdle(t, nodes[0], nodes[1], db) })
	t.Run("login throttle shared by the nodes", func(t *testing.T) { clusterThrottle(t, nodes) })
	t.Run("UIDVALIDITY across nodes", func(t *testing.T) { clusterUIDValidity(t, nodes) })

	ids := make([]string, clusterTotal)
	for i := range ids {
		ids[i] = newMessageID(fmt.Sprintf("cluster-%03d", i))
	}
	rcpt := func(i int) string {
		if i%2 == 1 {
			return remoteRcpt
		}
		return bob
	}
	start := time.Now()
	outcomes, perNode, killAt := clusterBurst(t, nodes, ids, rcpt)
	elapsed := time.Since(start)
	nodes[2].waitExit()
	// Jobs node 3 had claimed when it died keep their lease (claim time +
	// clusterLease) until it runs out; the surviving nodes' claims, made
	// later or finished by now, do not look like that.
	time.Sleep(time.Second)
	var orphans int
	if err := db.QueryRow(`SELECT COUNT(*) FROM jobs WHERE kind = 'remote' AND lease_until > $1 AND lease_until <= $2`,
		time.Now().UnixMilli(), killAt.Add(clusterLease).UnixMilli()).Scan(&orphans); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d remote jobs held by the killed node", orphans)
	if orphans == 0 {
		t.Errorf("node 3 held no remote job when it was killed: the take-over is not tested")
	}

	count := map[outcome]int{}
	for _, o := range outcomes {
		count[o]++
	}
	t.Logf("burst of %d in %s: %d accepted (by node: %v), %d lost in flight, %d refused, %d not sent",
		clusterTotal, elapsed.Round(time.Millisecond), count[accepted], perNode, count[lost], count[refused], count[notSent])
	if perNode[2] < clusterKillAfter/6 || perNode[2] == count[accepted] {
		t.Errorf("node 3 accepted %d of %d: the load was not spread", perNode[2], count[accepted])
	}
	if count[refused] > 0 {
		t.Errorf("%d messages refused, want 0", count[refused])
	}
	if count[notSent] > 0 {
		t.Errorf("%d messages not sent: the surviving nodes did not take over the sessions", count[notSent])
	}

	// Local deliveries: exactly once for every 250.
	inbox := nodes[0].folderCounts(db, bob, "INBOX")
	sent := nodes[0].folderCounts(db, alice, "Sent")
	for i, id := range ids {
		if rcpt(i) != bob {
			continue
		}
		in := inbox[id]
		switch {
		case outcomes[i] == accepted && in != 1:
			t.Errorf("message %d %s got 250 but is %d times in INBOX, want 1", i, id, in)
		case in > 1:
			t.Errorf("message %d %s (outcome %d) is %d times in INBOX", i, id, outcomes[i], in)
		}
	}
	for i, id := range ids {
		if outcomes[i] == accepted && sent[id] != 1 {
			t.Errorf("message %d %s got 250 but is %d times in Sent, want 1", i, id, sent[id])
		}
	}

	// Remote deliveries: every 250 arrives, and the queue empties.
	deadline := time.Now().Add(90 * time.Second)
	for {
		var jobs int
		if err := db.QueryRow(`SELECT COUNT(*) FROM jobs WHERE kind = 'remote'`).Scan(&jobs); err != nil {
			t.Fatal(err)
		}
		missing := 0
		got := sink.snapshot()
		for i, id := range ids {
			if rcpt(i) == remoteRcpt && outcomes[i] == accepted && got[id] == 0 {
				missing++
			}
		}
		if jobs == 0 && missing == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %d remote jobs left, %d accepted remote messages not delivered", time.Since(start).Round(time.Second), jobs, missing)
		}
		time.Sleep(250 * time.Millisecond)
	}
	got := sink.snapshot()
	dups := 0
	for i, id := range ids {
		if rcpt(i) == remoteRcpt && got[id] > 1 {
			dups++
		}
	}
	t.Logf("remote: %d distinct messages received by the other operator (%d more than once: lease lost with the killed node); queue empty after %s",
		len(got), dups, time.Since(start).Round(time.Millisecond))
}

// clusterWebSession logs in on node 1's web interface and uses the session
// cookie on the other nodes.
func clusterWebSession(t *testing.T, nodes []*node) {
	client := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.PostForm("http://"+nodes[0].addr["web"]+"/connexion", url.Values{"login": {bob}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var cookies []*http.Cookie
	for _, c := range resp.Cookies() {
		if c.Value != "" {
			cookies = append(cookies, c)
		}
	}
	if resp.StatusCode != http.StatusSeeOther || len(cookies) == 0 {
		t.Fatalf("login on node 1: %s, cookies %v", resp.Status, resp.Cookies())
	}
	for i, n := range nodes {
		req, _ := http.NewRequest("GET", "http://"+n.addr["web"]+"/", nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		loc := resp.Header.Get("Location")
		if strings.Contains(loc, "connexion") || (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusSeeOther) {
			t.Errorf("node %d: the session of node 1 is not valid: %s → %q", i+1, resp.Status, loc)
		}
		if resp.StatusCode == http.StatusOK && strings.Contains(string(body), `name="password"`) {
			t.Errorf("node %d shows the login form to a logged-in person", i+1)
		}
	}
}

// clusterThrottle guesses carol's IMAP password on the three nodes in turn:
// the nodes share one count of failures, so the 10th failure (the limit of
// the IMAP throttle, 10 per login and IP) locks her out on every node, not
// after 30 guesses; bob, on the same IP, is not affected.
func clusterThrottle(t *testing.T, nodes []*node) {
	const carol = "carol.petit@hygie.localhost"
	nodes[0].mustHygie("", "admin", "account", "create", "--structure", testStructure, "--type", "PER",
		"--address", carol, "--first", "Carol", "--last", "Petit")
	nodes[0].mustHygie(testPassword+"\n", "admin", "account", "password", carol)
	login := func(n *node, user, password string) error {
		c, err := imapclient.DialStartTLS(n.addr["imap"], &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.Login(user, password).Wait()
	}
	if err := login(nodes[2], carol, testPassword); err != nil {
		t.Fatalf("carol's first login: %v", err)
	}
	for i := 0; i < 10; i++ {
		err := login(nodes[i%3], carol, fmt.Sprintf("guess-%d", i))
		if err == nil || strings.Contains(err.Error(), "Too many") {
			t.Fatalf("guess %d on node %d: %v; want an authentication failure", i+1, i%3+1, err)
		}
	}
	for i, n := range nodes {
		err := login(n, carol, testPassword)
		if err == nil || !strings.Contains(err.Error(), "Too many") {
			t.Errorf("node %d after 10 failures spread over the nodes: %v; want throttled", i+1, err)
		}
	}
	if err := login(nodes[1], bob, testPassword); err != nil {
		t.Errorf("bob is locked out with carol: %v", err)
	}
}

// clusterUIDValidity deletes and re-creates a folder through two nodes in
// turn, faster than one per second: each new folder must get a strictly
// greater UIDVALIDITY (RFC 9051 §2.3.1.1), or a client would take the new
// folder's messages for the old one's.
func clusterUIDValidity(t *testing.T, nodes []*node) {
	var cs []*imapclient.Client
	for _, n := range nodes[:2] {
		c, err := imapclient.DialStartTLS(n.addr["imap"], &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if err := c.Login(alice, testPassword).Wait(); err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	var last uint32
	for i := range 6 {
		c := cs[i%2]
		if err := c.Create("Temp", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		st, err := c.Status("Temp", &imap.StatusOptions{UIDValidity: true}).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if st.UIDValidity <= last {
			t.Fatalf("round %d on node %d: UIDVALIDITY %d after %d", i+1, i%2+1, st.UIDValidity, last)
		}
		last = st.UIDValidity
		if err := c.Delete("Temp").Wait(); err != nil {
			t.Fatal(err)
		}
	}
}

// clusterIdle idles on bob's INBOX on node a and submits on node b: the
// EXISTS must come within one second, every time.
// Halfway, PostgreSQL ends every node's listener connection: the nodes
// reconnect (with backoff) and IDLE goes on working.
func clusterIdle(t *testing.T, a, b *node, db *sql.DB) {
	exists := make(chan uint32, 16)
	c, err := imapclient.DialStartTLS(a.addr["imap"], &imapclient.Options{
		TLSConfig: &tls.Config{InsecureSkipVerify: true},
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(d *imapclient.UnilateralDataMailbox) {
				if d.NumMessages != nil {
					exists <- *d.NumMessages
				}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(bob, testPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	sel, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	have := sel.NumMessages
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	sub, err := dialSubmission(b.addr["submission"], alice, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	var worst time.Duration
	for k := range 6 {
		if k == 3 {
			var ended int
			err := db.QueryRow(`SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
				WHERE datname = current_database() AND query = 'LISTEN hygie_mailbox'`).Scan(&ended)
			if err != nil {
				t.Fatal(err)
			}
			if ended != 3 {
				t.Errorf("%d listener connections ended, want 3 (one per node)", ended)
			}
		}
		time.Sleep(200 * time.Millisecond)
		sentAt := time.Now()
		if err := send(sub, alice, bob, testMessage(alice, bob, newMessageID("idle"), fmt.Sprintf("IDLE across nodes %d", k))); err != nil {
			t.Fatal(err)
		}
		want := have + 1
		timeout := time.After(time.Second - time.Since(sentAt))
	wait:
		for {
			select {
			case n := <-exists:
				if n >= want {
					break wait
				}
			case <-timeout:
				t.Fatalf("IDLE on node 1 saw no EXISTS %d within 1 s of a submission on node 2", want)
			}
		}
		have = want
		worst = max(worst, time.Since(sentAt))
	}
	t.Logf("IDLE on node 1 saw each of 6 messages submitted on node 2 within %s of the 250", worst.Round(time.Millisecond))
}

// clusterBurst sends ids[i] from alice to rcpt(i) over clusterConns
// sessions, session w on node w%3, and kills node 3 with SIGKILL once
// clusterKillAfter messages were accepted. A session whose node dies
// reconnects to a surviving node and goes on. It returns what the client
// saw of each message, how many each node accepted, and when node 3 was
// killed.
func clusterBurst(t *testing.T, nodes []*node, ids []string, rcpt func(int) string) ([]outcome, []int, time.Time) {
	t.Helper()
	outcomes := make([]outcome, len(ids))
	var next, acked atomic.Int64
	var perNode [3]atomic.Int64
	var killed atomic.Bool
	var kill sync.Once
	var killAt time.Time
	doKill := func() { killAt = time.Now(); killed.Store(true); nodes[2].kill() }
	var wg sync.WaitGroup
	for w := 0; w < clusterConns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			at := w % len(nodes)
			var c *smtp.Client
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for {
				if c == nil {
					if killed.Load() && at == 2 {
						at = w % 2
					}
					var err error
					if c, err = dialSubmission(nodes[at].addr["submission"], alice, testPassword); err != nil {
						if at == 2 && killed.Load() {
							continue
						}
						t.Errorf("session %d on node %d: %v", w, at+1, err)
						return
					}
				}
				i := int(next.Add(1) - 1)
				if i >= len(ids) {
					return
				}
				// Each index is taken by one goroutine only.
				err := send(c, alice, rcpt(i), testMessage(alice, rcpt(i), ids[i], fmt.Sprintf("cluster test %d", i)))
				var se *smtp.SMTPError
				switch {
				case err == nil:
					outcomes[i] = accepted
					perNode[at].Add(1)
					if acked.Add(1) == clusterKillAfter {
						kill.Do(doKill)
					}
				case errors.As(err, &se):
					outcomes[i] = refused
					t.Logf("message %d refused by node %d: %v", i, at+1, err)
				default:
					outcomes[i] = lost
					if at != 2 || !killed.Load() {
						t.Errorf("message %d: session on node %d broke: %v", i, at+1, err)
						return
					}
					c.Close()
					c = nil // node 3 is gone: go on elsewhere
				}
			}
		}()
	}
	wg.Wait()
	kill.Do(doKill)
	return outcomes, []int{int(perNode[0].Load()), int(perNode[1].Load()), int(perNode[2].Load())}, killAt
}

// sink is another operator's mail server on loopback: STARTTLS with a
// certificate of a test IGC-Santé, accepting every message and counting
// them by Message-ID.
type sink struct {
	addr   string
	bundle string // the CA's PEM file, for trust.ca_bundle

	mu  sync.Mutex
	got map[string]int
}

func startSink(t *testing.T) *sink {
	t.Helper()
	ca, err := trust.NewTestCA("Test IGC-Santé")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.TLSCertificate(pkix.Name{CommonName: "mx." + remoteDomain, Organization: []string{"Autre opérateur"}, Country: []string{"FR"}}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{bundle: filepath.Join(t.TempDir(), "igc.pem"), got: map[string]int{}}
	if err := os.WriteFile(s.bundle, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(sinkBackend{s})
	srv.Domain = "mx." + remoteDomain
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, ClientAuth: tls.RequestClientCert}
	srv.ReadTimeout, srv.WriteTimeout = 30*time.Second, 30*time.Second
	srv.MaxMessageBytes = 10 << 20
	srv.ErrorLog = log.New(io.Discard, "", 0) // node 3's sessions break when it is killed
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s
}

// snapshot returns how many times each Message-ID arrived.
func (s *sink) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int, len(s.got))
	for k, v := range s.got {
		out[k] = v
	}
	return out
}

type sinkBackend struct{ s *sink }

func (b sinkBackend) NewSession(*smtp.Conn) (smtp.Session, error) { return &sinkSession{s: b.s}, nil }

type sinkSession struct{ s *sink }

func (*sinkSession) Mail(string, *smtp.MailOptions) error { return nil }
func (*sinkSession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (*sinkSession) Reset()                               {}
func (*sinkSession) Logout() error                        { return nil }

func (ss *sinkSession) Data(r io.Reader) error {
	m, err := mail.ReadMessage(bufio.NewReader(r))
	if err != nil {
		return err
	}
	io.Copy(io.Discard, m.Body)
	time.Sleep(sinkDelay)
	ss.s.mu.Lock()
	ss.s.got[m.Header.Get("Message-ID")]++
	ss.s.mu.Unlock()
	return nil
}

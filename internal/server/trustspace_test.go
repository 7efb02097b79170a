package server_test

import (
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store/storetest"
	"github.com/hygie-sante/hygie/internal/trust"
)

// Retry settings of the sending nodes: short, so that final failures come
// within the test's time.
const (
	retryFor       = 3 * time.Second
	initialBackoff = 250 * time.Millisecond
	maxBackoff     = time.Second
)

// Operators' certificate subjects, as the whitelist lists them.
var (
	dnA     = pkix.Name{CommonName: "mx.a.test", OrganizationalUnit: []string{"12345678900011"}, Organization: []string{"Operateur A"}, Country: []string{"FR"}}
	dnB     = pkix.Name{CommonName: "mx.b.test", OrganizationalUnit: []string{"12345678900022"}, Organization: []string{"Operateur B"}, Country: []string{"FR"}}
	dnC     = pkix.Name{CommonName: "mx.c.test", OrganizationalUnit: []string{"12345678900033"}, Organization: []string{"Operateur C"}, Country: []string{"FR"}}
	dnOther = pkix.Name{CommonName: "mx.autre-operateur.test", Organization: []string{"Autre operateur"}, Country: []string{"FR"}}
	dnE     = pkix.Name{CommonName: "mx.e.test", Organization: []string{"Operateur E"}, Country: []string{"FR"}}
)

// TestTrustSpace runs real hygie nodes on loopback and checks the outbound
// side of the MSSanté trust space (SPEC §5): A delivers to B over mutual
// TLS; B refuses C, whose certificate comes from another CA, and A's
// second domain, whose whitelist entry names another certificate; A retries
// a peer that is down; final failures come back to the sender as DSNs
// (RFC 3464).
func TestTrustSpace(t *testing.T) {
	for dialect, dsnB := range storetest.DSNs(t) {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			trustSpace(t, dialect, dsnB)
		})
	}
}

func trustSpace(t *testing.T, dialect, dsnB string) {
	igc, err := trust.NewTestCA("Test IGC-Santé")
	if err != nil {
		t.Fatal(err)
	}
	rogueCA, err := trust.NewTestCA("Not IGC-Santé")
	if err != nil {
		t.Fatal(err)
	}
	bundle := writeCABundle(t, igc)
	whitelist := writeWhitelist(t, map[string]pkix.Name{
		"medecin.a.test": dnA, "autre.a.test": dnOther, "medecin.b.test": dnB, "medecin.c.test": dnC, "medecin.e.test": dnE,
	})
	down := closedPort(t)

	b := startNode(t, nodeSpec{Hostname: "mx.b.test", Domains: []string{"b.test", "medecin.b.test"}, DN: dnB, Issuer: igc,
		CABundle: bundle, Whitelist: whitelist, Database: dsnB})
	routes := map[string]string{"medecin.b.test": b.Addrs["smtp"], "medecin.e.test": down}
	a := startNode(t, nodeSpec{Hostname: "mx.a.test", Domains: []string{"a.test", "medecin.a.test", "autre.a.test"}, DN: dnA, Issuer: igc,
		CABundle: bundle, Whitelist: whitelist, Routes: routes, Database: freshDSN(t, dialect),
		RetryFor: retryFor, InitialBackoff: initialBackoff, MaxBackoff: maxBackoff})
	// C trusts IGC-Santé for B's server certificate, but its own comes
	// from elsewhere.
	c := startNode(t, nodeSpec{Hostname: "mx.c.test", Domains: []string{"c.test", "medecin.c.test"}, DN: dnC, Issuer: rogueCA,
		CABundle: bundle, Whitelist: whitelist, Routes: routes, Database: freshDSN(t, dialect),
		RetryFor: retryFor, InitialBackoff: initialBackoff, MaxBackoff: maxBackoff})

	marie := b.addPerson(t, account.PER, "marie@b.test", "marie.martin@medecin.b.test", "Marie", "Martin")
	jean := a.addPerson(t, account.PER, "jean@a.test", "jean.dupont@medecin.a.test", "Jean", "Dupont")
	paul := a.addPerson(t, account.PER, "paul@a.test", "paul.durand@autre.a.test", "Paul", "Durand")
	luc := a.addPerson(t, account.PER, "luc@a.test", "luc.petit@medecin.a.test", "Luc", "Petit")
	a.addPerson(t, account.MED, "sec@a.test", "", "Sophie", "Secretaire")
	claire := c.addPerson(t, account.PER, "claire@c.test", "claire.roux@medecin.c.test", "Claire", "Roux")

	start := time.Now()
	for _, s := range []struct {
		n                 *testNode
		login, from, rcpt string
		subject           string
	}{
		{a, jean.Login, jean.MSS, marie.MSS, "(a) accepted peer"},
		{c, claire.Login, claire.MSS, marie.MSS, "(b) foreign CA"},
		{a, paul.Login, paul.MSS, marie.MSS, "(c) DN not listed for the domain"},
		{a, luc.Login, luc.MSS, "x@medecin.e.test", "(d) peer down"},
	} {
		if err := s.n.submit(t, s.login, s.from, []string{s.rcpt}, s.subject); err != nil {
			t.Fatalf("%s: submission refused: %v", s.subject, err)
		}
	}

	t.Run("e submission refusals", func(t *testing.T) {
		err := a.submit(t, "sec@a.test", "sec@a.test", []string{marie.MSS}, "MED to another operator")
		expectSMTP(t, err, 550, "5.7.1", "a MED account can only write to users of this platform")
		err = a.submit(t, jean.Login, jean.MSS, []string{"someone@gmail.example"}, "outside the trust space")
		expectSMTP(t, err, 550, "5.7.1", "outside the MSSanté trust space")
	})

	// (d) is watched from the start: every reschedule of luc's job.
	type state struct {
		attempts int
		runAt    time.Time
	}
	var lucStates []state
	var lucJob queue.Job
	watchLuc := func() bool {
		now := time.Now()
		for _, j := range jobsOf(t, a, luc.MSS) {
			lucJob = j
			// A job that is due or being tried still shows its old run_at;
			// keep only the states written by a reschedule.
			if j.RunAt.After(now) && (len(lucStates) == 0 || lucStates[len(lucStates)-1].attempts != j.Attempts) {
				lucStates = append(lucStates, state{j.Attempts, j.RunAt})
			}
			return false
		}
		return true
	}

	t.Run("a accepted peer", func(t *testing.T) {
		var got string
		eventually(t, 10*time.Second, "message in B's INBOX", func() bool {
			watchLuc()
			box := b.inbox(t, marie.ID)
			for _, m := range box {
				if strings.Contains(m, "Subject: (a) accepted peer") {
					got = m
				}
			}
			return got != ""
		})
		// B's trace shows A's EHLO name and TLS, then A's own Received.
		if !strings.Contains(got, "Received: from mx.a.test (127.0.0.1)\r\n\tby mx.b.test (Hygie) with ESMTPS;") ||
			!strings.Contains(got, "by mx.a.test (Hygie) with ESMTPSA;") || !strings.Contains(got, "Contenu médical confidentiel.") {
			t.Errorf("delivered message:\n%s", got)
		}
		eventually(t, 5*time.Second, "job gone from A's queue", func() bool { watchLuc(); return len(jobsOf(t, a, jean.MSS)) == 0 })
		rec := lastAudit(t, a, jean.MSS, "delivered")
		if rec == nil || rec.Route != "remote via "+b.Addrs["smtp"] || strings.Join(rec.Recipients, ",") != marie.MSS || !strings.HasPrefix(rec.Detail, "250 2.0.0") {
			t.Errorf("A's trace: %+v", rec)
		}
		rec = lastAudit(t, b, jean.MSS, "accepted")
		if rec == nil || !strings.HasPrefix(rec.Route, "mx from CN=mx.a.test,") {
			t.Errorf("B's trace: %+v", rec)
		}
		if n := len(b.inbox(t, marie.ID)); n != 1 {
			t.Errorf("B's INBOX holds %d messages; only A's accepted one may arrive", n)
		}
	})

	t.Run("c DN not listed for the sender domain", func(t *testing.T) {
		var dsn string
		eventually(t, 5*time.Second, "DSN in paul's INBOX", func() bool {
			watchLuc()
			if box := a.inbox(t, paul.ID); len(box) > 0 {
				dsn = box[0]
			}
			return dsn != ""
		})
		// A 5xx is final at once, without waiting for the retry period.
		if since := time.Since(start); since >= retryFor {
			t.Errorf("DSN after %s: a 550 must not be retried", since)
		}
		expectDSN(t, dsn, paul.MSS, marie.MSS, "5.7.1",
			// message/delivery-status is 7bit US-ASCII (RFC 3464).
			"Diagnostic-Code: smtp; 550 5.7.1 your certificate is not the one listed for autre.a.test in the MSSant? whitelist",
			"Remote-MTA: dns; 127.0.0.1")
		if len(jobsOf(t, a, paul.MSS)) != 0 {
			t.Error("job still queued after a permanent refusal")
		}
		if rec := lastAudit(t, a, paul.MSS, "bounced"); rec == nil || !strings.Contains(rec.Detail, "MAIL FROM: 550 5.7.1") {
			t.Errorf("A's trace: %+v", rec)
		}
		if rec := lastAudit(t, b, paul.MSS, "refused"); rec == nil || !strings.Contains(rec.Detail, "CN=mx.a.test") {
			t.Errorf("B's trace of the refusal: %+v", rec)
		}
	})

	t.Run("b certificate from another CA", func(t *testing.T) {
		// While it retries, the job shows why.
		var j queue.Job
		eventually(t, 3*time.Second, "C's job records the TLS refusal", func() bool {
			watchLuc()
			jobs := jobsOf(t, c, claire.MSS)
			if len(jobs) == 0 {
				return false
			}
			j = jobs[0]
			return j.LastError != ""
		})
		if !strings.Contains(j.LastError, "TLS with "+b.Addrs["smtp"]) || !strings.Contains(j.LastError, "certificate") {
			t.Errorf("last_error %q", j.LastError)
		}
		var dsn string
		eventually(t, retryFor+5*time.Second, "DSN in claire's INBOX", func() bool {
			watchLuc()
			if box := c.inbox(t, claire.ID); len(box) > 0 {
				dsn = box[0]
			}
			return dsn != ""
		})
		if since := time.Since(start); since < retryFor-time.Second {
			t.Errorf("DSN after %s, before the retry period (%s) ended", since, retryFor)
		}
		expectDSN(t, dsn, claire.MSS, marie.MSS, "5.4.7", "Diagnostic-Code: X-Hygie; gave up after 3s of retries; last error: TLS with "+b.Addrs["smtp"])
		if !strings.Contains(dsn, "unknown certificate authority") {
			t.Errorf("DSN does not say why:\n%s", dsn)
		}
		if len(jobsOf(t, c, claire.MSS)) != 0 {
			t.Error("job still queued after the retry period")
		}
		for _, m := range b.inbox(t, marie.ID) {
			if strings.Contains(m, "(b) foreign CA") {
				t.Error("B accepted mail from an operator certified by another CA")
			}
		}
	})

	t.Run("d peer down", func(t *testing.T) {
		eventually(t, retryFor+5*time.Second, "luc's job gone", watchLuc)
		var dsn string
		eventually(t, 2*time.Second, "DSN in luc's INBOX", func() bool {
			if box := a.inbox(t, luc.ID); len(box) > 0 {
				dsn = box[0]
			}
			return dsn != ""
		})
		expectDSN(t, dsn, luc.MSS, "x@medecin.e.test", "5.4.7",
			"Diagnostic-Code: X-Hygie; gave up after 3s of retries; last error: connect to "+down)
		if strings.Contains(dsn, "Remote-MTA:") {
			t.Error("Remote-MTA given though no MTA answered (RFC 3464 §2.3.5)")
		}
		// Retried with exponential backoff until the retry period ended.
		deadline := lucJob.Created.Add(retryFor)
		for _, s := range lucStates {
			t.Logf("attempt %d → next at +%s", s.attempts, s.runAt.Sub(lucJob.Created))
		}
		if len(lucStates) < 3 {
			t.Fatalf("saw %d reschedules, want at least 3: %+v", len(lucStates), lucStates)
		}
		for i := 1; i < len(lucStates); i++ {
			prev, cur := lucStates[i-1], lucStates[i]
			if cur.attempts <= prev.attempts {
				t.Errorf("attempts went %d → %d", prev.attempts, cur.attempts)
			}
			if cur.attempts != prev.attempts+1 {
				continue // a state was missed
			}
			gap, want := cur.runAt.Sub(prev.runAt), queue.Backoff(cur.attempts, initialBackoff, maxBackoff)
			if cur.runAt.Equal(deadline) {
				continue // last try when the retry period ends
			}
			if gap < want || gap > want+800*time.Millisecond {
				t.Errorf("attempt %d rescheduled %s after the previous one, want the backoff %s", cur.attempts, gap, want)
			}
		}
		if last := lucStates[len(lucStates)-1]; last.runAt.After(deadline) {
			t.Errorf("retry planned at %s, after the retry period ended at %s", last.runAt, deadline)
		}
		if rec := lastAudit(t, a, luc.MSS, "deferred"); rec == nil || rec.Route != "remote via "+down || !strings.Contains(rec.Detail, "refused") {
			t.Errorf("deferral trace: %+v", rec)
		}
		if rec := lastAudit(t, a, luc.MSS, "bounced"); rec == nil || strings.Join(rec.Recipients, ",") != "x@medecin.e.test" {
			t.Errorf("bounce trace: %+v", rec)
		}
	})

	t.Run("DSNs are not relayed", func(t *testing.T) {
		// Each DSN stayed on its node, was filed once and made no job.
		for _, n := range []*testNode{a, c} {
			if jobs, err := notifPendingJobs(n.St); err != nil || len(jobs) != 0 {
				t.Errorf("%s: jobs left %+v (%v)", n.Cfg.Hostname, jobs, err)
			}
		}
		for _, who := range []struct {
			n    *testNode
			acct *account.Account
			want int
		}{{a, jean, 0}, {a, paul, 1}, {a, luc, 1}, {c, claire, 1}} {
			if got := len(who.n.inbox(t, who.acct.ID)); got != who.want {
				t.Errorf("%s: %d messages in INBOX, want %d", who.acct.Login, got, who.want)
			}
		}
	})
}

// jobsOf lists a node's remote jobs for one sender.
func jobsOf(t *testing.T, n *testNode, from string) []queue.Job {
	t.Helper()
	jobs, err := queue.List(context.Background(), n.St, mail.JobRemote)
	if err != nil {
		t.Fatal(err)
	}
	var out []queue.Job
	for _, j := range jobs {
		var p mail.RemoteJob
		if err := json.Unmarshal(j.Payload, &p); err != nil {
			t.Fatal(err)
		}
		if p.From == from {
			out = append(out, j)
		}
	}
	return out
}

// lastAudit returns the newest message record of a node about address
// with the given result, or nil.
func lastAudit(t *testing.T, n *testNode, address, result string) *audit.Record {
	t.Helper()
	recs, err := audit.List(context.Background(), n.St, audit.Filter{Kind: audit.KindMessage, Address: address, Result: result, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) == 0 {
		return nil
	}
	return &recs[0]
}

// expectDSN checks a stored DSN: a null envelope sender, addressed to the
// sender, reporting rcpt failed with status, with the given fields.
func expectDSN(t *testing.T, dsn, sender, rcpt, status string, fields ...string) {
	t.Helper()
	for _, want := range append([]string{
		"From: Mail Delivery System <MAILER-DAEMON@",
		"To: <" + sender + ">",
		"Auto-Submitted: auto-replied",
		"Content-Type: multipart/report; report-type=delivery-status;",
		"Content-Type: message/delivery-status",
		"Final-Recipient: rfc822; " + rcpt,
		"Action: failed",
		"Status: " + status,
		"Content-Type: text/rfc822-headers",
	}, fields...) {
		if !strings.Contains(dsn, want) {
			t.Errorf("DSN lacks %q:\n%s", want, dsn)
			return
		}
	}
	if strings.Contains(dsn, "Contenu médical confidentiel.") {
		t.Error("the DSN carries the original body")
	}
}

func expectSMTP(t *testing.T, err error, code int, enhanced, text string) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("want SMTP error %d %s, got %v", code, enhanced, err)
	}
	e := se.EnhancedCode
	got := fmt.Sprintf("%d.%d.%d", e[0], e[1], e[2])
	if se.Code != code || got != enhanced || !strings.Contains(se.Message, text) {
		t.Errorf("got %d %s %q; want %d %s containing %q", se.Code, got, se.Message, code, enhanced, text)
	}
}

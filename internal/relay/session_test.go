package relay

import (
	"context"
	"crypto/x509/pkix"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/trust"
)

// fakeResolver answers LookupMX from a table.
type fakeResolver map[string]struct {
	mx  []*net.MX
	err error
}

func (f fakeResolver) LookupMX(_ context.Context, name string) ([]*net.MX, error) {
	a, ok := f[name]
	if !ok {
		return nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return a.mx, a.err
}

func TestNextHops(t *testing.T) {
	res := fakeResolver{
		"multi.test":  {mx: []*net.MX{{Host: "mx2.multi.test.", Pref: 20}, {Host: "mx1.multi.test.", Pref: 10}}},
		"null.test":   {mx: []*net.MX{{Host: ".", Pref: 0}}},
		"flaky.test":  {err: &net.DNSError{Err: "server misbehaving", Name: "flaky.test", IsTemporary: true}},
		"routed.test": {mx: []*net.MX{{Host: "ignored.test.", Pref: 10}}},
	}
	r := New(Config{Resolver: res, Routes: map[string]string{"Routed.Test": "127.0.0.1:2525"}})
	ctx := context.Background()

	hops, fail := r.nextHops(ctx, "multi.test")
	if fail != nil || len(hops) != 2 || hops[0].Addr != "mx1.multi.test:25" || hops[0].Name != "mx1.multi.test" || hops[1].Addr != "mx2.multi.test:25" {
		t.Errorf("MX by preference: %+v %+v", hops, fail)
	}
	hops, fail = r.nextHops(ctx, "routed.test")
	if fail != nil || len(hops) != 1 || hops[0].Addr != "127.0.0.1:2525" || hops[0].Name != "127.0.0.1" {
		t.Errorf("static route: %+v %+v", hops, fail)
	}
	hops, fail = r.nextHops(ctx, "nomx.test")
	if fail != nil || len(hops) != 1 || hops[0].Addr != "nomx.test:25" || !hops[0].implicit {
		t.Errorf("implicit MX (RFC 5321 §5.1): %+v %+v", hops, fail)
	}
	_, fail = r.nextHops(ctx, "null.test")
	if fail == nil || !fail.Permanent || fail.Status != "5.1.10" || fail.Code != 556 {
		t.Errorf("null MX (RFC 7505): %+v", fail)
	}
	_, fail = r.nextHops(ctx, "flaky.test")
	if fail == nil || fail.Permanent || fail.Status != "4.4.3" {
		t.Errorf("DNS failure must be transient: %+v", fail)
	}
}

func testJob(from string, rcpts ...string) mail.RemoteJob {
	return mail.RemoteJob{MessageID: 1, From: from, Domain: "peer.test", Rcpts: rcpts, MsgID: "<x@mx.hygie.test>"}
}

const testBody = "From: <jean@medecin.hygie.test>\r\nSubject: test\r\nMessage-ID: <x@mx.hygie.test>\r\n\r\nBonjour.\r\n"

func TestSessionOutcomes(t *testing.T) {
	p := newPKI(t)
	peer := startPeer(t, peerTLS(p))
	r := New(Config{Hostname: "mx.hygie.test", Cert: p.us, Roots: p.ca.Pool(), Routes: map[string]string{"peer.test": peer.addr}})
	res := r.attempt(context.Background(), testJob("jean@medecin.hygie.test", "ok1@peer.test", "later@peer.test", "never@peer.test", "ok2@peer.test"), []byte(testBody))
	if res.Hop != peer.addr || res.RemoteIP != "127.0.0.1" {
		t.Errorf("hop %q ip %q", res.Hop, res.RemoteIP)
	}
	want := []struct {
		rcpt, status string
		code         int
		permanent    bool
		text         string
	}{
		{"ok1@peer.test", "2.0.0", 250, false, "250 2.0.0"},
		{"later@peer.test", "4.2.1", 451, false, "451 4.2.1 mailbox busy, try later"},
		{"never@peer.test", "5.1.1", 550, true, "550 5.1.1 no such mailbox"},
		{"ok2@peer.test", "2.0.0", 250, false, "250 2.0.0"},
	}
	if len(res.Outcomes) != len(want) {
		t.Fatalf("outcomes %+v", res.Outcomes)
	}
	for i, w := range want {
		o := res.Outcomes[i]
		if o.Rcpt != w.rcpt || o.Status != w.status || o.Code != w.code || o.Permanent != w.permanent || !strings.HasPrefix(o.Text, w.text) || o.RemoteMTA != "127.0.0.1" {
			t.Errorf("outcome %d: %+v, want %+v", i, o, w)
		}
	}
	got := peer.messages()
	if len(got) != 1 {
		t.Fatalf("peer got %d messages", len(got))
	}
	m := got[0]
	if m.helo != "mx.hygie.test" || m.from != "jean@medecin.hygie.test" || strings.Join(m.rcpts, ",") != "ok1@peer.test,ok2@peer.test" {
		t.Errorf("peer saw %+v", m)
	}
	if m.clientDN != trust.DNString(usDN) {
		t.Errorf("client certificate %q, want ours %q", m.clientDN, trust.DNString(usDN))
	}
	if !strings.Contains(m.data, "Bonjour.") {
		t.Errorf("data %q", m.data)
	}
}

func TestSessionRefusals(t *testing.T) {
	p := newPKI(t)
	other, err := trust.NewTestCA("Another CA")
	if err != nil {
		t.Fatal(err)
	}
	rogueCert, err := other.TLSCertificate(pkix.Name{CommonName: "mx.peer.test"}, []string{"127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	rogue := peerTLS(p)
	rogue.Certificates[0] = rogueCert
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	for _, c := range []struct {
		name, addr string
		status     string
		text       []string
	}{
		{"no STARTTLS", startPeer(t, nil).addr, "4.7.0", []string{"does not offer STARTTLS"}},
		{"server certificate from another CA", startPeer(t, rogue).addr, "4.7.0", []string{"TLS with", "certificate signed by unknown authority"}},
		{"peer down", closedAddr, "4.4.1", []string{"connect to " + closedAddr, "refused"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := New(Config{Hostname: "mx.hygie.test", Cert: p.us, Roots: p.ca.Pool(), Routes: map[string]string{"peer.test": c.addr}, DialTimeout: 2 * time.Second})
			res := r.attempt(context.Background(), testJob("jean@medecin.hygie.test", "ok@peer.test"), []byte(testBody))
			if len(res.Outcomes) != 1 {
				t.Fatalf("outcomes %+v", res.Outcomes)
			}
			o := res.Outcomes[0]
			if o.Permanent || o.delivered() || o.Status != c.status || o.Code != 0 {
				t.Errorf("outcome %+v: want transient %s", o, c.status)
			}
			for _, s := range c.text {
				if !strings.Contains(o.describe(), s) {
					t.Errorf("%q lacks %q", o.describe(), s)
				}
			}
		})
	}

	// Our certificate refused by the peer (TLS 1.3 reports it after the
	// handshake, on the first read).
	t.Run("client certificate refused", func(t *testing.T) {
		strict := peerTLS(p)
		strict.ClientCAs = other.Pool()
		peer := startPeer(t, strict)
		r := New(Config{Hostname: "mx.hygie.test", Cert: p.us, Roots: p.ca.Pool(), Routes: map[string]string{"peer.test": peer.addr}})
		o := r.attempt(context.Background(), testJob("a@b.test", "ok@peer.test"), []byte(testBody)).Outcomes[0]
		if o.Permanent || o.Status != "4.7.0" || !strings.Contains(o.describe(), "unknown certificate authority") {
			t.Errorf("outcome %+v", o)
		}
	})
}

func TestMXFallback(t *testing.T) {
	p := newPKI(t)
	peer := startPeer(t, peerTLS(p))
	_, port, _ := net.SplitHostPort(peer.addr)
	// 127.0.0.2 has nothing on that port: the next MX takes over.
	r := New(Config{Hostname: "mx.hygie.test", Cert: p.us, Roots: p.ca.Pool(), Port: port, Resolver: fakeResolver{
		"peer.test": {mx: []*net.MX{{Host: "127.0.0.1.", Pref: 20}, {Host: "127.0.0.2.", Pref: 10}}},
	}})
	res := r.attempt(context.Background(), testJob("a@b.test", "ok@peer.test"), []byte(testBody))
	if res.Hop != peer.addr || len(res.Outcomes) != 1 || !res.Outcomes[0].delivered() {
		t.Fatalf("attempt %+v", res)
	}

	// A null MX fails at once, for good.
	r.cfg.Resolver = fakeResolver{"peer.test": {mx: []*net.MX{{Host: ".", Pref: 0}}}}
	o := r.attempt(context.Background(), testJob("a@b.test", "ok@peer.test"), []byte(testBody)).Outcomes[0]
	if !o.Permanent || o.Status != "5.1.10" {
		t.Errorf("null MX: %+v", o)
	}
	// The domain as its own MX when it has none, and it does not exist.
	r.cfg.Resolver = fakeResolver{}
	o = r.attempt(context.Background(), mail.RemoteJob{Domain: "does-not-exist.invalid", From: "a@b.test", Rcpts: []string{"x@does-not-exist.invalid"}}, []byte(testBody)).Outcomes[0]
	if !o.Permanent || o.Status != "5.1.2" {
		t.Errorf("nonexistent domain: %+v", o)
	}
}

func TestReplyFrom(t *testing.T) {
	o := replyOutcome("x", "mx", errors.New("EOF"))
	if o.Permanent || o.Status != "4.4.2" || o.Code != 0 {
		t.Errorf("broken connection: %+v", o)
	}
	o = replyFrom("x", "mx", 554, [3]int{0, 0, 0}, "go away")
	if !o.Permanent || o.Status != "5.0.0" || o.Text != "554 5.0.0 go away" {
		t.Errorf("no enhanced code: %+v", o)
	}
	o = replyFrom("x", "mx", 421, [3]int{4, 4, 2}, "closing\nconnection")
	if o.Permanent || o.Status != "4.4.2" || o.Text != "421 4.4.2 closing connection" {
		t.Errorf("multi-line 4xx: %+v", o)
	}
}

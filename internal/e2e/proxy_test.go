package e2e

import (
	"crypto/tls"
	"encoding/binary"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// proxyV2 is a PROXY protocol version 2 header for a TCP over IPv4
// connection from src.
func proxyV2(src netip.Addr, sport uint16) []byte {
	h := []byte("\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c")
	s, d := src.As4(), netip.MustParseAddr("127.0.0.1").As4()
	h = append(append(h, s[:]...), d[:]...)
	h = binary.BigEndian.AppendUint16(h, sport)
	return binary.BigEndian.AppendUint16(h, 143)
}

// TestProxyProtocol runs a node behind a (pretend) TCP load balancer on
// 127.0.0.1 (proxy_protocol): a submission session announced by a version 1
// header and an IMAP session by a version 2 header are recorded with the
// clients' addresses in the audit trail; a connection from the balancer
// without a header gets nothing served; the web listener is not affected.
func TestProxyProtocol(t *testing.T) {
	n := newNode(t, "", "HYGIE_PROXY_PROTOCOL=127.0.0.1")
	n.start()
	n.setupAccounts()

	nc, err := net.DialTimeout("tcp", n.addr["submission"], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write([]byte("PROXY TCP4 127.0.0.9 127.0.0.1 40000 587\r\n")); err != nil {
		t.Fatal(err)
	}
	sc, err := smtp.NewClientStartTLS(nc, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatalf("submission through the balancer: %v", err)
	}
	if err := sc.Auth(sasl.NewPlainClient("", alice, "wrong password")); err == nil {
		t.Fatal("wrong password accepted")
	}
	sc.Close()

	ic, err := net.DialTimeout("tcp", n.addr["imap"], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ic.Write(proxyV2(netip.MustParseAddr("127.0.0.10"), 40001)); err != nil {
		t.Fatal(err)
	}
	c, err := imapclient.NewStartTLS(ic, &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatalf("IMAP through the balancer: %v", err)
	}
	if err := c.Login(bob, testPassword).Wait(); err != nil {
		t.Fatalf("IMAP login through the balancer: %v", err)
	}
	c.Close()

	// No header from the balancer: no session.
	raw, err := net.DialTimeout("tcp", n.addr["submission"], 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	raw.SetDeadline(time.Now().Add(15 * time.Second))
	plain := smtp.NewClient(raw)
	if err := plain.Hello("client.test"); err == nil {
		t.Error("a session without PROXY header from the balancer was served")
	}
	plain.Close()

	db := n.openDB()
	for _, want := range []struct{ protocol, address, result, ip string }{
		{"smtp", alice, "failed", "127.0.0.9"},
		{"imap", bob, "ok", "127.0.0.10"},
	} {
		var got int
		if err := db.QueryRow(`SELECT COUNT(*) FROM audit WHERE kind = 'login' AND protocol = ? AND address = ? AND result = ? AND remote_ip = ?`,
			want.protocol, want.address, want.result, want.ip).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != 1 {
			rows, _ := db.Query(`SELECT protocol, address, result, remote_ip FROM audit WHERE kind = 'login'`)
			for rows != nil && rows.Next() {
				var p, a, r, ip string
				rows.Scan(&p, &a, &r, &ip)
				t.Logf("audit: %s %s %s %s", p, a, r, ip)
			}
			t.Errorf("no %s login of %s (%s) from %s in the audit trail", want.protocol, want.address, want.result, want.ip)
		}
	}
}

package server_test

import (
	"crypto/tls"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store/storetest"
	"github.com/hygie-sante/hygie/internal/trust"
)

// TestIdleSeesSMTPDelivery checks the whole path: a message submitted over
// SMTP shows up as EXISTS in an IMAP session idling on the recipient's INBOX,
// and can then be fetched.
func TestIdleSeesSMTPDelivery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ca, err := trust.NewTestCA("Test IGC")
		if err != nil {
			t.Fatal(err)
		}
		n := startNode(t, nodeSpec{Hostname: "mx.idle.test", Domains: []string{"idle.test"}, Issuer: ca,
			DN: pkix.Name{CommonName: "mx.idle.test"}, Database: dsn})
		n.addPerson(t, account.PER, "alice@idle.test", "", "Alice", "Martin")
		n.addPerson(t, account.PER, "bob@idle.test", "", "Bob", "Durand")

		exists := make(chan uint32, 10)
		c, err := imapclient.DialStartTLS(n.Addrs["imap"], &imapclient.Options{
			TLSConfig: &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"},
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
		if err := c.Login("bob@idle.test", testPassword).Wait(); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		idle, err := c.Idle()
		if err != nil {
			t.Fatal(err)
		}
		if err := n.submit(t, "alice@idle.test", "alice@idle.test", []string{"bob@idle.test"}, "Résultats IDLE"); err != nil {
			t.Fatal(err)
		}
		select {
		case got := <-exists:
			if got != 1 {
				t.Fatalf("EXISTS %d, want 1", got)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no EXISTS while idling after an SMTP delivery")
		}
		if err := idle.Close(); err != nil {
			t.Fatal(err)
		}
		if err := idle.Wait(); err != nil {
			t.Fatal(err)
		}
		msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true}).Collect()
		if err != nil || len(msgs) != 1 {
			t.Fatalf("fetch: %v, %d messages", err, len(msgs))
		}
		if env := msgs[0].Envelope; env == nil || !strings.Contains(env.Subject, "IDLE") || env.From[0].Addr() != "alice@idle.test" {
			t.Fatalf("envelope %+v", msgs[0].Envelope)
		}
	})
}

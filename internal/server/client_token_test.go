package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/server"
	"github.com/hygie-sante/hygie/internal/store/storetest"
	"github.com/hygie-sante/hygie/internal/trust"
)

// clientTokens is a stand-in for the CPS provider's access-token
// validator: token → account id.
type clientTokens map[string]int64

func (c clientTokens) ValidateAccessToken(_ context.Context, token string) (int64, error) {
	if id, ok := c[token]; ok {
		return id, nil
	}
	return 0, errors.New("unknown token")
}

// clientXOAuth2 is the client side of XOAUTH2 (Google's format).
type clientXOAuth2 struct{ user, token string }

func (c clientXOAuth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

func (c clientXOAuth2) Next([]byte) ([]byte, error) { return []byte{}, nil }

// TestClientTokenAccess checks that the node wires Node.Tokens into
// submission and IMAP (SPEC §5, client software access): a message sent
// with SASL XOAUTH2 is read with AUTHENTICATE OAUTHBEARER, and a node
// without a validator does not offer the mechanisms.
func TestClientTokenAccess(t *testing.T) {
	ca, err := trust.NewTestCA("Test IGC")
	if err != nil {
		t.Fatal(err)
	}
	tokens := clientTokens{}
	n := startNode(t, nodeSpec{Hostname: "mx.token.test", Domains: []string{"token.test"}, Issuer: ca,
		DN: pkix.Name{CommonName: "mx.token.test"}, Database: storetest.SQLite(t),
		BeforeStart: func(n *server.Node) { n.Tokens = tokens }})
	alice := n.addPerson(t, account.PER, "alice@token.test", "alice.martin@token.test", "Alice", "Martin")
	bob := n.addPerson(t, account.PER, "bob@token.test", "", "Bob", "Durand")
	tokens["cps-alice"], tokens["cps-bob"] = alice.ID, bob.ID
	clientTLS := &tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}

	c, err := smtp.DialStartTLS(n.Addrs["submission"], clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, mechs := c.Extension("AUTH"); !strings.Contains(mechs, "XOAUTH2") || !strings.Contains(mechs, "OAUTHBEARER") {
		t.Fatalf("submission AUTH %q", mechs)
	}
	if err := c.Auth(clientXOAuth2{"alice.martin@token.test", "cps-alice"}); err != nil {
		t.Fatalf("XOAUTH2: %v", err)
	}
	msg := "From: <alice@token.test>\r\nTo: <bob@token.test>\r\nSubject: par carte CPS\r\n\r\nBonjour.\r\n"
	if err := c.SendMail("alice@token.test", []string{"bob@token.test"}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}

	ic, err := imapclient.DialStartTLS(n.Addrs["imap"], &imapclient.Options{TLSConfig: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	caps, err := ic.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Has(imap.AuthCap("XOAUTH2")) || !caps.Has(imap.AuthCap(sasl.OAuthBearer)) {
		t.Fatalf("IMAP capabilities %v", caps)
	}
	if err := ic.Authenticate(sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: "bob@token.test", Token: "cps-bob"})); err != nil {
		t.Fatalf("OAUTHBEARER: %v", err)
	}
	sel, err := ic.Select("INBOX", nil).Wait()
	if err != nil || sel.NumMessages != 1 {
		t.Fatalf("SELECT INBOX: %+v, %v; want the message sent with the token", sel, err)
	}

	// Without a CPS provider the mechanisms are not offered.
	plain := startNode(t, nodeSpec{Hostname: "mx.notoken.test", Domains: []string{"notoken.test"}, Issuer: ca,
		DN: pkix.Name{CommonName: "mx.notoken.test"}, Database: storetest.SQLite(t)})
	pc, err := smtp.DialStartTLS(plain.Addrs["submission"], clientTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if _, mechs := pc.Extension("AUTH"); strings.Contains(mechs, "OAUTH") {
		t.Fatalf("AUTH %q without a CPS provider", mechs)
	}
	pi, err := imapclient.DialStartTLS(plain.Addrs["imap"], &imapclient.Options{TLSConfig: clientTLS})
	if err != nil {
		t.Fatal(err)
	}
	defer pi.Close()
	if caps, err := pi.Capability().Wait(); err != nil || caps.Has(imap.AuthCap("XOAUTH2")) || caps.Has(imap.AuthCap(sasl.OAuthBearer)) {
		t.Fatalf("IMAP capabilities without a CPS provider: %v, %v", caps, err)
	}
}

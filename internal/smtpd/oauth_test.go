package smtpd_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/textproto"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/smtpd"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// fakeTokens is a TokenValidator over a fixed map token → account id.
type fakeTokens map[string]int64

func (f fakeTokens) ValidateAccessToken(_ context.Context, token string) (int64, error) {
	if id, ok := f[token]; ok {
		return id, nil
	}
	return 0, errors.New("unknown token")
}

// xoauth2Client is the client side of XOAUTH2: it answers an error
// challenge with an empty response, as Google documents.
type xoauth2Client struct{ user, token string }

func (c xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

func (c xoauth2Client) Next([]byte) ([]byte, error) { return []byte{}, nil }

// bearerClient is go-sasl's OAUTHBEARER client answering an error challenge
// with %x01 (RFC 7628 §3.2.3) instead of cancelling the exchange.
type bearerClient struct{ sasl.Client }

func (c bearerClient) Next([]byte) ([]byte, error) { return []byte{0x01}, nil }

func newBearer(user, token string) sasl.Client {
	return bearerClient{sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: user, Token: token})}
}

func TestSubmissionTokenAuth(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		tokens := fakeTokens{}
		p := startPlatform(t, dsn, func(c *smtpd.Config) { c.Tokens = tokens })
		ctx := context.Background()
		for tok, login := range map[string]string{"tok-doc": "doc@hygie.test", "tok-other": "other@hygie.test", "tok-box": "cardio@hygie.test"} {
			a, err := p.acc.ByAddress(ctx, login)
			if err != nil {
				t.Fatal(err)
			}
			tokens[tok] = a.ID
		}
		dial := func(t *testing.T) *smtp.Client {
			t.Helper()
			c, err := smtp.DialStartTLS(p.addr, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}

		t.Run("offered only after STARTTLS", func(t *testing.T) {
			c, err := smtp.Dial(p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Hello("client.test"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := c.Extension("AUTH"); ok {
				t.Fatal("AUTH advertised before STARTTLS")
			}
			ok, mechs := dial(t).Extension("AUTH")
			got := strings.Fields(mechs)
			if !ok || !slices.Contains(got, "XOAUTH2") || !slices.Contains(got, "OAUTHBEARER") || !slices.Contains(got, "PLAIN") {
				t.Fatalf("AUTH after STARTTLS = %v %q, want PLAIN, XOAUTH2 and OAUTHBEARER", ok, mechs)
			}
		})

		t.Run("XOAUTH2 then send", func(t *testing.T) {
			c := dial(t)
			if err := c.Auth(xoauth2Client{"doc@hygie.test", "tok-doc"}); err != nil {
				t.Fatalf("XOAUTH2: %v", err)
			}
			if err := send(c, "doc@hygie.test", []string{"other@hygie.test"}, message("par jeton xoauth2", 100)); err != nil {
				t.Fatal(err)
			}
			if n := p.count(t, "other@hygie.test", "INBOX", "par jeton xoauth2"); n != 1 {
				t.Fatalf("INBOX has %d copies", n)
			}
		})

		t.Run("OAUTHBEARER with the MSSanté address then send", func(t *testing.T) {
			c := dial(t)
			if err := c.Auth(newBearer("doc@medecin.hygie.test", "tok-doc")); err != nil {
				t.Fatalf("OAUTHBEARER: %v", err)
			}
			if err := send(c, "doc@medecin.hygie.test", []string{"other@hygie.test"}, message("par jeton bearer", 100)); err != nil {
				t.Fatal(err)
			}
			if n := p.count(t, "other@hygie.test", "INBOX", "par jeton bearer"); n != 1 {
				t.Fatalf("INBOX has %d copies", n)
			}
		})

		t.Run("OAUTHBEARER without authzid", func(t *testing.T) {
			c := dial(t)
			if err := c.Auth(newBearer("", "tok-other")); err != nil {
				t.Fatalf("OAUTHBEARER: %v", err)
			}
			// Logged in as the token's account: its address is accepted.
			if err := c.Mail("other@hygie.test", nil); err != nil {
				t.Fatal(err)
			}
		})

		t.Run("refusals", func(t *testing.T) {
			for _, tc := range []struct {
				name string
				cl   sasl.Client
			}{
				{"XOAUTH2 bad token", xoauth2Client{"doc@hygie.test", "forged"}},
				{"XOAUTH2 token of another account", xoauth2Client{"doc@hygie.test", "tok-other"}},
				{"XOAUTH2 without user", xoauth2Client{"", "tok-doc"}},
				{"XOAUTH2 box token", xoauth2Client{"cardio@hygie.test", "tok-box"}},
				{"OAUTHBEARER bad token", newBearer("doc@hygie.test", "forged")},
				{"OAUTHBEARER token of another account", newBearer("doc@medecin.hygie.test", "tok-other")},
			} {
				t.Run(tc.name, func(t *testing.T) {
					c := dial(t)
					expectRefusal(t, c.Auth(tc.cl), 535, "5.7.8", "invalid")
					// Still not logged in.
					expectRefusal(t, c.Mail("doc@hygie.test", nil), 530, "5.7.0", "authentication required")
				})
			}
		})

		t.Run("error challenge is JSON, exchange without initial response", func(t *testing.T) {
			conn, err := tls.Dial("tcp", p.addrs, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			tc := textproto.NewConn(conn)
			step := func(line string, want int) string {
				t.Helper()
				if line != "" || want != 220 {
					tc.PrintfLine("%s", line)
				}
				code, msg, err := tc.ReadResponse(want)
				if err != nil {
					t.Fatalf("%q: %d %s: %v", line, code, msg, err)
				}
				return msg
			}
			step("", 220)
			step("EHLO client.test", 250)
			step("AUTH XOAUTH2", 334)
			ch := step(base64.StdEncoding.EncodeToString([]byte("user=doc@hygie.test\x01auth=Bearer nope\x01\x01")), 334)
			raw, err := base64.StdEncoding.DecodeString(ch)
			var e struct{ Status, Schemes string }
			if err != nil || json.Unmarshal(raw, &e) != nil || e.Status == "" || e.Schemes != "bearer" {
				t.Fatalf("error challenge %q (%s): want JSON with status and schemes", ch, raw)
			}
			tc.PrintfLine("")
			if code, msg, _ := tc.ReadResponse(235); code != 535 {
				t.Fatalf("after empty response: %d %s, want 535", code, msg)
			}
			// OAUTHBEARER refused, the error challenge answered with an empty
			// line rather than %x01: still a clean 535.
			step("AUTH OAUTHBEARER "+base64.StdEncoding.EncodeToString([]byte("n,,\x01auth=Bearer nope\x01\x01")), 334)
			tc.PrintfLine("")
			if code, msg, _ := tc.ReadResponse(235); code != 535 {
				t.Fatalf("after empty response: %d %s, want 535", code, msg)
			}
			// A malformed response is refused the same way.
			step("AUTH OAUTHBEARER "+base64.StdEncoding.EncodeToString([]byte("garbage")), 334)
			tc.PrintfLine("AQ==")
			if code, msg, _ := tc.ReadResponse(235); code != 535 {
				t.Fatalf("malformed: %d %s, want 535", code, msg)
			}
			step("AUTH OAUTHBEARER", 334)
			ir := "n,a=other@hygie.test,\x01auth=Bearer tok-other\x01\x01"
			step(base64.StdEncoding.EncodeToString([]byte(ir)), 235)
		})

		t.Run("audited and throttled", func(t *testing.T) {
			for i := 0; i < 6; i++ {
				c, err := smtp.DialStartTLS(p.addr, &tls.Config{InsecureSkipVerify: true})
				if err != nil {
					t.Fatal(err)
				}
				err = c.Auth(newBearer("sec@hygie.test", "forged-again"))
				c.Close()
				if i == 5 {
					expectRefusal(t, err, 454, "4.7.0", "too many")
				}
			}
			failed, err := audit.List(ctx, p.st, audit.Filter{Kind: audit.KindLogin, Address: "sec@hygie.test", Result: "failed"})
			if err != nil || len(failed) != 5 || failed[0].Protocol != "smtp" || !strings.HasPrefix(failed[0].Detail, "OAUTHBEARER") {
				t.Fatalf("failed token logins audited: %+v, %v", failed, err)
			}
			ok, err := audit.List(ctx, p.st, audit.Filter{Kind: audit.KindLogin, Address: "doc@hygie.test", Result: "ok"})
			if err != nil {
				t.Fatal(err)
			}
			var mechs []string
			for _, r := range ok {
				mechs = append(mechs, r.Detail)
			}
			if !slices.Contains(mechs, "XOAUTH2") || !slices.Contains(mechs, "OAUTHBEARER") {
				t.Fatalf("successful token logins of doc audited with details %q", mechs)
			}
			bad, _ := audit.List(ctx, p.st, audit.Filter{Kind: audit.KindLogin, Address: "doc@hygie.test", Result: "failed"})
			if len(bad) == 0 || !strings.Contains(bad[0].Detail, ": ") {
				t.Fatalf("failed token logins of doc: %+v", bad)
			}
		})
	})
}

func TestSubmissionTokenMechanismsNeedValidator(t *testing.T) {
	p := startPlatform(t, storetest.SQLite(t))
	c, err := smtp.DialStartTLS(p.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, mechs := c.Extension("AUTH"); strings.Contains(mechs, "OAUTH") {
		t.Fatalf("AUTH %q offers token mechanisms without a validator", mechs)
	}
	err = c.Auth(xoauth2Client{"doc@hygie.test", "tok-doc"})
	if err == nil {
		t.Fatal("XOAUTH2 accepted without a validator")
	}
}

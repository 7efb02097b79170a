package imapd_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/auth"
	"github.com/hygie-sante/hygie/internal/imapd"
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

// xoauth2Client is the client side of XOAUTH2 (Google's format); it
// answers an error challenge with an empty response.
type xoauth2Client struct{ user, token string }

func (c xoauth2Client) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
}

func (c xoauth2Client) Next([]byte) ([]byte, error) { return []byte{}, nil }

// bearerClient is go-sasl's OAUTHBEARER client answering an error challenge
// with %x01 (RFC 7628 §3.2.3), where go-sasl's own would give up mid-exchange.
type bearerClient struct{ sasl.Client }

func (c bearerClient) Next([]byte) ([]byte, error) { return []byte{0x01}, nil }

func TestTokenAuthenticate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		tokens := fakeTokens{}
		e := newEnv(t, dsn, func(c *imapd.Config) {
			c.Tokens = tokens
			c.Throttle = auth.NewSharedThrottle(c.St, "imap", 3, time.Minute, nil)
		})
		tokens["tok-doc"] = e.doc.ID
		tokens["tok-sec"] = e.sec.ID
		tokens["tok-box"] = e.box.ID
		e.deliver(e.doc.ID, "INBOX", "From: a@b.example\r\nSubject: hello\r\n\r\nbody\r\n")

		dial := func(t *testing.T) *imapclient.Client {
			t.Helper()
			c, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: e.client})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		}

		t.Run("offered only after TLS", func(t *testing.T) {
			c, err := imapclient.DialInsecure(e.addr, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			caps, err := c.Capability().Wait()
			if err != nil {
				t.Fatal(err)
			}
			if caps.Has(imap.AuthCap("XOAUTH2")) || caps.Has(imap.AuthCap(sasl.OAuthBearer)) {
				t.Fatalf("token mechanisms offered in clear: %v", caps)
			}
			if err := c.Authenticate(xoauth2Client{e.doc.Login, "tok-doc"}); err == nil {
				t.Fatal("AUTHENTICATE XOAUTH2 accepted in clear")
			}
			caps, err = dial(t).Capability().Wait()
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []string{"PLAIN", "XOAUTH2", sasl.OAuthBearer} {
				if !caps.Has(imap.AuthCap(m)) {
					t.Errorf("AUTH=%s not offered after STARTTLS: %v", m, caps)
				}
			}
		})

		for _, tc := range []struct {
			name string
			cl   sasl.Client
		}{
			{"XOAUTH2", xoauth2Client{e.doc.Login, "tok-doc"}},
			{"OAUTHBEARER", sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: e.doc.Login, Token: "tok-doc"})},
			{"OAUTHBEARER without authzid", sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Token: "tok-doc"})},
		} {
			t.Run(tc.name+" then SELECT INBOX", func(t *testing.T) {
				c := dial(t)
				if err := c.Authenticate(tc.cl); err != nil {
					t.Fatalf("AUTHENTICATE: %v", err)
				}
				sel, err := c.Select("INBOX", nil).Wait()
				if err != nil {
					t.Fatal(err)
				}
				if sel.NumMessages != 1 {
					t.Fatalf("INBOX of the token's account has %d messages, want 1", sel.NumMessages)
				}
			})
		}

		t.Run("refusals", func(t *testing.T) {
			for _, tc := range []struct {
				name string
				cl   sasl.Client
			}{
				{"XOAUTH2 bad token", xoauth2Client{e.doc.Login, "forged"}},
				{"XOAUTH2 token of another account", xoauth2Client{e.doc.Login, "tok-sec"}},
				{"XOAUTH2 box token", xoauth2Client{e.box.Login, "tok-box"}},
				{"OAUTHBEARER bad token", bearerClient{sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: e.sec.Login, Token: "forged"})}},
				{"OAUTHBEARER token of another account", bearerClient{sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: e.sec.Login, Token: "tok-doc"})}},
			} {
				t.Run(tc.name, func(t *testing.T) {
					c := dial(t)
					err := c.Authenticate(tc.cl)
					var ie *imap.Error
					if !errors.As(err, &ie) || ie.Type != imap.StatusResponseTypeNo || ie.Code != imap.ResponseCodeAuthenticationFailed {
						t.Fatalf("AUTHENTICATE: %v; want NO [AUTHENTICATIONFAILED]", err)
					}
					// The connection goes on, still not logged in.
					if _, err := c.Select("INBOX", nil).Wait(); err == nil {
						t.Fatal("SELECT after a refused token")
					}
				})
			}
		})

		t.Run("audited and throttled", func(t *testing.T) {
			// sec has 2 failures from "refusals"; the 3rd reaches the limit.
			c := dial(t)
			bad := bearerClient{sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: e.sec.Login, Token: "forged"})}
			if err := c.Authenticate(bad); err == nil {
				t.Fatal("accepted")
			}
			good := sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: e.sec.Login, Token: "tok-sec"})
			err := dial(t).Authenticate(bearerClient{good})
			if err == nil || !strings.Contains(err.Error(), "Too many") {
				t.Fatalf("after 3 failures: %v; want throttled", err)
			}
			recs, err := audit.List(e.ctx, e.st, audit.Filter{Kind: audit.KindLogin, Address: e.sec.Login})
			if err != nil {
				t.Fatal(err)
			}
			var failed, throttled int
			for _, r := range recs {
				if r.Protocol != "imap" || !strings.HasPrefix(r.Detail, "OAUTHBEARER") {
					t.Errorf("audit record %+v", r)
				}
				switch r.Result {
				case "failed":
					failed++
				case "throttled":
					throttled++
				}
			}
			if failed != 3 || throttled != 1 {
				t.Fatalf("sec: %d failed, %d throttled; want 3 and 1 (%+v)", failed, throttled, recs)
			}
			ok, _ := audit.List(e.ctx, e.st, audit.Filter{Kind: audit.KindLogin, Address: e.doc.Login, Result: "ok"})
			details := map[string]bool{}
			for _, r := range ok {
				details[r.Detail] = true
			}
			if !details["XOAUTH2"] || !details["OAUTHBEARER"] {
				t.Fatalf("doc's token logins audited with %v", details)
			}
		})
	})
}

func TestTokenMechanismsNeedValidator(t *testing.T) {
	e := newEnv(t, storetest.SQLite(t))
	c, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: e.client})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	caps, err := c.Capability().Wait()
	if err != nil {
		t.Fatal(err)
	}
	if !caps.Has(imap.AuthCap("PLAIN")) || caps.Has(imap.AuthCap("XOAUTH2")) || caps.Has(imap.AuthCap(sasl.OAuthBearer)) {
		t.Fatalf("capabilities without a validator: %v", caps)
	}
	if err := c.Authenticate(xoauth2Client{e.doc.Login, "x"}); err == nil {
		t.Fatal("XOAUTH2 accepted without a validator")
	}
	if err := c.Authenticate(sasl.NewPlainClient("", e.doc.Login, password)); err != nil {
		t.Fatalf("PLAIN: %v", err)
	}
}

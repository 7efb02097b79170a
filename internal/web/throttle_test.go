package web

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

func TestRealIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
	var got string
	h := RealIP(trusted, http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got = clientIP(r) }))
	cases := []struct {
		peer string
		xff  []string
		want string
	}{
		{"127.0.0.2:4000", []string{"127.0.0.9"}, "127.0.0.2"},                         // not a proxy: header ignored
		{"127.0.0.1:4000", nil, "127.0.0.1"},                                           // a proxy, no header
		{"127.0.0.1:4000", []string{"127.0.0.7"}, "127.0.0.7"},                         // one hop
		{"127.0.0.1:4000", []string{"127.0.0.8, 127.0.0.7"}, "127.0.0.7"},              // the rightmost untrusted hop
		{"127.0.0.1:4000", []string{"127.0.0.8", "127.0.0.7, 127.0.0.1"}, "127.0.0.7"}, // through two proxies
		{"127.0.0.1:4000", []string{"garbage, 127.0.0.1"}, "127.0.0.1"},                // malformed: stop there
		{"127.0.0.1:4000", []string{"127.0.0.7:5555"}, "127.0.0.7"},                    // with a port
		{"[::1]:4000", []string{"::2"}, "::2"},
	}
	for _, c := range cases {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		h.ServeHTTP(httptest.NewRecorder(), r)
		if got != c.want {
			t.Errorf("peer %s, X-Forwarded-For %q: client %s, want %s", c.peer, c.xff, got, c.want)
		}
	}
}

// TestWebLoginThrottle: five wrong passwords for one address lock that
// address out (even with the right password, « Trop de tentatives »), not
// the others on the same IP; fifty failures from one client IP lock that IP
// out, not the other clients of the same load balancer, whose
// X-Forwarded-For is believed. The audit trail records the client's IP.
func TestWebLoginThrottle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		accts := account.NewService(st)
		if _, err := accts.CreateStructure(ctx, "Clinique", ""); err != nil {
			t.Fatal(err)
		}
		const pw = "mot-de-passe-2026"
		for _, l := range []string{"jean", "marie"} {
			if _, err := accts.Create(ctx, account.NewAccount{Structure: "Clinique", Kind: account.MED, Login: l + "@throttle.test",
				FirstName: l, LastName: "Test"}); err != nil {
				t.Fatal(err)
			}
			if err := accts.SetPassword(ctx, l+"@throttle.test", pw); err != nil {
				t.Fatal(err)
			}
		}
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		app, err := New(Config{St: st, Accounts: accts, Audit: &audit.Log{St: st}, Log: log,
			Pipeline: &mail.Pipeline{St: st, Hostname: "mx.throttle.test", Log: log},
			Router:   &mail.Router{Accounts: accts, Domains: []string{"throttle.test"}}})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(RealIP([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, app.Handler()))
		t.Cleanup(srv.Close)
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		login := func(from, user, password string) (int, string) {
			t.Helper()
			req, _ := http.NewRequest("POST", srv.URL+"/connexion", strings.NewReader(url.Values{"login": {user}, "password": {password}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-For", from)
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			b, _ := io.ReadAll(res.Body)
			return res.StatusCode, string(b)
		}
		const a, b = "127.0.0.2", "127.0.0.3"
		for i := range 5 {
			if code, _ := login(a, "jean@throttle.test", fmt.Sprint("essai-", i)); code != http.StatusUnauthorized {
				t.Fatalf("wrong password %d: %d, want 401", i+1, code)
			}
		}
		code, body := login(a, "jean@throttle.test", pw)
		if code != http.StatusTooManyRequests || !strings.Contains(body, "Trop de tentatives de connexion") {
			t.Fatalf("right password after 5 failures: %d; want 429 and « Trop de tentatives »", code)
		}
		if code, _ := login(b, "jean@throttle.test", pw); code != http.StatusTooManyRequests {
			t.Fatalf("jean from another IP: %d; want 429 (the address is locked)", code)
		}
		if code, _ := login(b, " JEAN@Throttle.test ", pw); code != http.StatusTooManyRequests {
			t.Fatalf("jean's address in capitals, padded: %d; want 429 (the same person)", code)
		}
		if code, _ := login(a, "marie@throttle.test", pw); code != http.StatusSeeOther {
			t.Fatalf("marie on the same IP: %d; want 303", code)
		}
		// 45 more failures from a, over unknown addresses: 50 for the IP.
		for i := range 45 {
			login(a, fmt.Sprintf("inconnu%d@throttle.test", i/5), "x")
		}
		if code, _ := login(a, "marie@throttle.test", pw); code != http.StatusTooManyRequests {
			t.Fatalf("marie on an IP with 50 failures: %d; want 429", code)
		}
		if code, _ := login(b, "marie@throttle.test", pw); code != http.StatusSeeOther {
			t.Fatalf("marie from another client of the proxy: %d; want 303", code)
		}
		recs, err := audit.List(ctx, st, audit.Filter{Kind: audit.KindLogin, Address: "marie@throttle.test"})
		if err != nil {
			t.Fatal(err)
		}
		ips := map[string]int{}
		for _, r := range recs {
			ips[r.RemoteIP+" "+r.Result]++
		}
		if ips[a+" ok"] != 1 || ips[a+" throttled"] != 1 || ips[b+" ok"] != 1 {
			t.Fatalf("marie's logins audited as %v", ips)
		}
	})
}

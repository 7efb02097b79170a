package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
	"github.com/hygie-sante/hygie/internal/web"
)

// Benchmark sizes (issue 3, « Speed »).
const (
	benchMessages = 10000
	benchSessions = 100
	// benchUnread is the share of unread messages in the inbox.
	benchUnread = 10
)

// BenchmarkWebMailPages measures the latency of the inbox page (first page
// of a 10,000-message INBOX, with the folder list and unread counts) and of
// « Gérer mon compte » (/a/{id}/compte) under 100 concurrent sessions, on
// SQLite, over loopback HTTP: in a closed loop (each session requests both
// pages in turn without pause: 100 requests always in flight) and with
// people's pace (a random pause of mean 1 s before each request). It
// reports the p50 and p99 of each page in milliseconds:
//
//	go test ./internal/web -run '^$' -bench WebMailPages -benchtime 20x
func BenchmarkWebMailPages(b *testing.B) {
	ctx := context.Background()
	st, err := store.Open(ctx, storetest.SQLite(b))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	accts := account.NewService(st)
	if _, err := accts.CreateStructure(ctx, "Clinique du Parc", ""); err != nil {
		b.Fatal(err)
	}
	a, err := accts.Create(ctx, account.NewAccount{Structure: "Clinique du Parc", Kind: account.PER, Login: "jean@bench.test",
		MSS: "jean.dupont@bench.test", FirstName: "Jean", LastName: "Dupont"})
	if err != nil {
		b.Fatal(err)
	}
	benchFill(b, st, a.ID)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app, err := web.New(web.Config{St: st, Accounts: accts, Audit: &audit.Log{St: st}, Log: log,
		Pipeline: &mail.Pipeline{St: st, Hostname: "mx.bench.test", Log: log},
		Router:   &mail.Router{Accounts: accts, Domains: []string{"bench.test"}}})
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(app.Handler())
	defer srv.Close()
	tokens := benchSessionsFor(b, st, a.ID)
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: benchSessions * 2, MaxIdleConnsPerHost: benchSessions * 2}}
	pages := map[string]string{"inbox": fmt.Sprintf("/a/%d/mail/", a.ID), "compte": fmt.Sprintf("/a/%d/compte", a.ID)}
	get := func(tok, path string) time.Duration {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Cookie", "hygie_session="+tok)
		start := time.Now()
		res, err := client.Do(req)
		if err != nil {
			b.Error(err)
			return 0
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		d := time.Since(start)
		if res.StatusCode != 200 {
			b.Errorf("GET %s: %d", path, res.StatusCode)
		}
		if path == pages["inbox"] && !strings.Contains(string(body), "sur 200 — 10000 message(s)") {
			b.Errorf("inbox page: %.300s", body)
		}
		return d
	}
	// Warm up: every session once (and the summaries of the first page).
	for _, tok := range tokens {
		get(tok, pages["inbox"])
		get(tok, pages["compte"])
	}
	b.ResetTimer()
	b.Run("closed-loop", func(b *testing.B) { benchRun(b, tokens, pages, get, 0) })
	b.Run("think-1s", func(b *testing.B) { benchRun(b, tokens, pages, get, time.Second) })
}

// benchRun has every session request the inbox then « Gérer mon compte »
// b.N times, pausing a random time of mean think between requests (none for
// a closed loop: 100 requests always in flight), and reports the p50 and
// p99 latency of each page.
func benchRun(b *testing.B, tokens []string, pages map[string]string, get func(tok, path string) time.Duration, think time.Duration) {
	var mu sync.Mutex
	lat := map[string][]time.Duration{}
	var wg sync.WaitGroup
	for i, tok := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rnd := rand.New(rand.NewPCG(uint64(i), 1))
			for n := 0; n < b.N; n++ {
				for _, name := range []string{"inbox", "compte"} {
					if think > 0 {
						time.Sleep(time.Duration(rnd.Int64N(int64(2 * think))))
					}
					d := get(tok, pages[name])
					mu.Lock()
					lat[name] = append(lat[name], d)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for _, name := range []string{"inbox", "compte"} {
		l := lat[name]
		slices.Sort(l)
		p50, p99 := l[len(l)*50/100], l[min(len(l)-1, len(l)*99/100)]
		b.ReportMetric(float64(p50.Microseconds())/1000, name+"-p50-ms")
		b.ReportMetric(float64(p99.Microseconds())/1000, name+"-p99-ms")
		b.Logf("%s: %d requests, p50 %v, p99 %v, max %v", name, len(l), p50, p99, l[len(l)-1])
	}
}

// benchFill files benchMessages messages in the account's INBOX, one in
// benchUnread unread, a few minutes apart.
func benchFill(b *testing.B, st *store.Store, accountID int64) {
	b.Helper()
	ctx := context.Background()
	inbox, err := mailbox.FolderByName(ctx, st, accountID, mailbox.Inbox)
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Repeat("Compte rendu de consultation, examen clinique sans particularité. ", 30)
	start := time.Date(2026, 1, 1, 8, 0, 0, 0, time.UTC)
	const batch = 1000
	for i := 0; i < benchMessages; i += batch {
		err := st.Tx(ctx, func(tx *store.Tx) error {
			for j := i; j < i+batch; j++ {
				date := start.Add(time.Duration(j) * 7 * time.Minute)
				msg := fmt.Sprintf("From: Correspondant %d <corr%d@bench.test>\r\nTo: jean@bench.test\r\nSubject: Patient %d : compte rendu\r\n"+
					"Date: %s\r\nMessage-ID: <%d@bench.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n",
					j%300, j%300, j, date.Format(time.RFC1123Z), j, text)
				id, err := mailbox.InsertMessage(ctx, tx, mailbox.ParseMessage([]byte(msg)), date)
				if err != nil {
					return err
				}
				var flags []string
				if j%benchUnread != 0 {
					flags = []string{mailbox.FlagSeen}
				}
				if _, err := mailbox.Append(ctx, tx, inbox.ID, id, flags, date); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// benchSessionsFor opens benchSessions web sessions of the account
// directly in the store and returns their cookie tokens.
func benchSessionsFor(b *testing.B, st *store.Store, accountID int64) []string {
	b.Helper()
	ctx := context.Background()
	now := time.Now()
	var tokens []string
	err := st.Tx(ctx, func(tx *store.Tx) error {
		for i := 0; i < benchSessions; i++ {
			tok := fmt.Sprintf("bench-session-token-%03d", i)
			h := sha256.Sum256([]byte(tok))
			if _, err := tx.Exec(ctx, `INSERT INTO web_sessions (id, account_id, csrf, created_at, last_seen, expires_at) VALUES (?, ?, ?, ?, ?, ?)`,
				hex.EncodeToString(h[:]), accountID, "csrf", now.Unix(), now.Unix(), now.Add(12*time.Hour).Unix()); err != nil {
				return err
			}
			tokens = append(tokens, tok)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return tokens
}

package notify

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// digestJobs returns the digest jobs and the day of the first.
func digestJobs(t *testing.T, st *store.Store) ([]queue.Job, string) {
	t.Helper()
	jobs, err := queue.List(context.Background(), st, JobDigest)
	if err != nil {
		t.Fatal(err)
	}
	day := ""
	if len(jobs) > 0 {
		var p digestJob
		json.Unmarshal(jobs[0].Payload, &p)
		day = p.Day
	}
	return jobs, day
}

// secondNode returns the store another node would use: a second
// connection pool on PostgreSQL; on SQLite (one node) the same store.
func secondNode(t *testing.T, w *world, dsn string) *store.Store {
	if strings.HasPrefix(dsn, "postgres") {
		return openStore(t, dsn)
	}
	return w.st
}

// digestWorld has Bob (daily digest, 2 messages on the 10th, one the day
// before), Carol (no digest), and a box with the digest and one member
// who keeps box notifications.
func digestWorld(t *testing.T, w *world) {
	t.Helper()
	ctx := context.Background()
	alice := w.person(t, account.PER, "alice@a.test", "", "Alice", "Martin", "alice.perso@gmail.example")
	bob := w.person(t, account.PER, "bob@a.test", "", "Bob", "Durand", "bob.perso@gmail.example")
	carol := w.person(t, account.PER, "carol@a.test", "", "Carol", "Petit", "carol.perso@gmail.example")
	box := w.box(t, "cardio@a.test", "cardio.mss@a.test", "Cardiologie", "secretariat@clinique.example")
	w.person(t, account.PER, "m1@a.test", "", "Marc", "Un", "m1.perso@gmail.example")
	if err := w.acc.AddMember(ctx, "cardio@a.test", "m1@a.test"); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*account.Account{bob, box} {
		w.set(t, a, "notify_daily", 1)
	}
	_ = carol
	clock := w.clock.Now()
	w.clock.Set(at("2026-03-09 20:00:00"))
	w.send(t, alice, []string{"bob@a.test"}, rawMessage("alice@a.test", "bob@a.test", "veille", "", "x"))
	w.clock.Set(at("2026-03-10 08:00:00"))
	w.send(t, alice, []string{"bob@a.test", "carol@a.test"}, rawMessage("alice@a.test", "bob@a.test", "un", "", "x"))
	w.clock.Set(at("2026-03-10 09:30:00"))
	w.send(t, alice, []string{"bob@a.test"}, rawMessage("alice@a.test", "bob@a.test", "deux", "", "x"))
	w.clock.Set(clock)
}

// TestDigestOncePerDay checks A.2 with two nodes on one store, a handler
// run twice for the same job (a lost lease), and a restart: one digest per
// account per day, saying whether messages arrived that day.
func TestDigestOncePerDay(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		w := newWorld(t, dsn, fixedClock(at("2026-03-10 10:00:00")))
		digestWorld(t, w)
		n1, n2 := w.n, w.notifier(t, secondNode(t, w, dsn))

		// Both nodes start at once: one job.
		var wg sync.WaitGroup
		for _, n := range []*Notifier{n1, n2, n1, n2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := n.SeedDigest(ctx); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		jobs, day := digestJobs(t, w.st)
		if len(jobs) != 1 || day != "2026-03-10" {
			t.Fatalf("%d digest jobs for %q, want one for 2026-03-10", len(jobs), day)
		}
		if want := at("2026-03-10 18:00:00"); n1.queueTime(want).Sub(jobs[0].RunAt).Abs() > time.Second {
			t.Errorf("job runs at %s, want %s", jobs[0].RunAt, n1.queueTime(want))
		}

		// Claimed too early (another node's clock): nothing sent.
		if err := n1.HandleDigest(ctx, jobs[0]); err != nil {
			t.Fatal(err)
		}
		if got := outmails(t, w.st, KindDigest); len(got) != 0 {
			t.Fatalf("%d digests before 18:00", len(got))
		}

		// 18:00: both nodes hold the job (lease lost): one digest each.
		w.clock.Set(at("2026-03-10 18:00:05"))
		for _, n := range []*Notifier{n1, n2} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := n.HandleDigest(ctx, jobs[0]); err != nil {
					t.Error(err)
				}
			}()
		}
		wg.Wait()
		got := outmails(t, w.st, KindDigest)
		if len(got) != 3 {
			t.Fatalf("%d digests, want 3 (Bob, the box, its member): %+v", len(got), got)
		}
		bob := to(got, "bob.perso@gmail.example")
		if len(bob) != 1 || !strings.Contains(bob[0].Text, "vous avez reçu 2 messages") || !strings.Contains(bob[0].Text, "10/03/2026") {
			t.Fatalf("Bob's digest: %+v", bob)
		}
		if !strings.Contains(bob[0].Text, publicURL+"/a/") {
			t.Errorf("digest without webmail link:\n%s", bob[0].Text)
		}
		for _, addr := range []string{"secretariat@clinique.example", "m1.perso@gmail.example"} {
			if m := to(got, addr); len(m) != 1 || !strings.Contains(m[0].Text, "aucun message") {
				t.Errorf("digest to %s: %+v", addr, m)
			}
		}
		if len(to(got, "carol.perso@gmail.example")) != 0 {
			t.Error("Carol did not ask for the digest")
		}
		jobs, day = digestJobs(t, w.st)
		if len(jobs) != 1 || day != "2026-03-11" {
			t.Fatalf("after the digest: %d jobs for %q, want one for 2026-03-11", len(jobs), day)
		}

		// Restart: a new notifier seeds again and the stale job runs again.
		n3 := w.notifier(t, secondNode(t, w, dsn))
		if err := n3.SeedDigest(ctx); err != nil {
			t.Fatal(err)
		}
		if jobs2, day2 := digestJobs(t, w.st); len(jobs2) != 1 || day2 != "2026-03-11" {
			t.Fatalf("after restart: %d jobs for %q", len(jobs2), day2)
		}
		stale := jobs[0]
		stale.Payload = json.RawMessage(`{"day":"2026-03-10"}`)
		if err := n3.HandleDigest(ctx, stale); err != nil {
			t.Fatal(err)
		}
		if got := outmails(t, w.st, KindDigest); len(got) != 3 {
			t.Fatalf("%d digests after a replay, want still 3", len(got))
		}

		// The next day: one more each; Bob got nothing on the 11th.
		w.clock.Set(at("2026-03-11 18:00:01"))
		jobs, _ = digestJobs(t, w.st)
		for range 2 {
			if err := n3.HandleDigest(ctx, jobs[0]); err != nil {
				t.Fatal(err)
			}
		}
		got = outmails(t, w.st, KindDigest)
		bob = to(got, "bob.perso@gmail.example")
		if len(got) != 6 || len(bob) != 2 || !strings.Contains(bob[1].Text+bob[0].Text, "11/03/2026, vous n'avez reçu aucun message") {
			t.Fatalf("second day: %d digests; Bob's: %+v", len(got), bob)
		}
	})
}

// TestDigestTwoRunners runs the digest job under two real queue runners
// (two nodes) on one store, then after a restart the next day: one digest
// per account per day.
func TestDigestTwoRunners(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		clock := fixedClock(at("2026-03-10 10:00:00"))
		w := newWorld(t, dsn, clock)
		digestWorld(t, w)
		st2 := secondNode(t, w, dsn)
		n1, n2 := w.n, w.notifier(t, st2)

		run := func(day string, ns ...*Notifier) {
			t.Helper()
			clock.Run(at(day + " 17:59:59"))
			for _, n := range ns {
				if err := n.SeedDigest(ctx); err != nil {
					t.Fatal(err)
				}
			}
			rctx, cancel := context.WithCancel(ctx)
			var wg sync.WaitGroup
			for _, n := range ns {
				r := &queue.Runner{St: n.cfg.St, Workers: 2, Poll: 20 * time.Millisecond, Lease: time.Minute,
					Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Handlers: map[string]queue.Handler{JobDigest: n.HandleDigest}}
				wg.Add(1)
				go func() { defer wg.Done(); r.Run(rctx) }()
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				_, d := digestJobs(t, w.st)
				if d > day {
					break
				}
				if time.Now().After(deadline) {
					cancel()
					wg.Wait()
					t.Fatalf("digest of %s not sent", day)
				}
				time.Sleep(20 * time.Millisecond)
			}
			time.Sleep(300 * time.Millisecond) // room for a duplicate
			cancel()
			wg.Wait()
		}
		run("2026-03-10", n1, n2)
		if got := outmails(t, w.st, KindDigest); len(got) != 3 {
			t.Fatalf("%d digests on the 10th, want 3", len(got))
		}
		// Restart on the 11th: new notifiers, the same job.
		run("2026-03-11", w.notifier(t, w.st), w.notifier(t, st2))
		got := outmails(t, w.st, KindDigest)
		if len(got) != 6 || len(to(got, "bob.perso@gmail.example")) != 2 {
			t.Fatalf("%d digests after two days, want 6", len(got))
		}
		if jobs, day := digestJobs(t, w.st); len(jobs) != 1 || day != "2026-03-12" {
			t.Fatalf("%d digest jobs, next %q", len(jobs), day)
		}
	})
}

// TestNextDigest checks the schedule around midnight and the change to
// summer time (Europe/Paris).
func TestNextDigest(t *testing.T) {
	w := &world{clock: fixedClock(at("2026-03-28 19:00:00"))}
	n, err := New(Config{DigestTime: "07:30", Now: w.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	for now, want := range map[string]string{
		"2026-03-28 19:00:00": "2026-03-29 07:30:00", // the night clocks go forward
		"2026-03-29 07:29:59": "2026-03-29 07:30:00",
		"2026-03-29 07:30:00": "2026-03-30 07:30:00",
		"2026-12-31 23:59:00": "2027-01-01 07:30:00",
	} {
		if got := n.NextDigest(at(now)); !got.Equal(at(want)) {
			t.Errorf("after %s: %s, want %s", now, got.In(paris), want)
		}
	}
	if _, err := New(Config{DigestTime: "25:00"}); err == nil {
		t.Error("digest time 25:00 accepted")
	}
}

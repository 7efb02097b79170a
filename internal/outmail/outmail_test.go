package outmail_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/outmail"
	"github.com/hygie-sante/hygie/internal/outmail/smarthosttest"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

func TestSendThroughSmarthost(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		sh := smarthosttest.Start(t)
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		s := &outmail.Sender{St: st, Smarthost: sh.Addr, From: "no-reply@hygie.test", Hostname: "mx.hygie.test",
			RetryFor: time.Hour, InitialBackoff: time.Minute, MaxBackoff: time.Hour, Log: log}
		if err := st.Tx(ctx, func(tx *store.Tx) error {
			return outmail.Enqueue(ctx, tx, outmail.Mail{To: "Jean@Gmail.example", Subject: "Nouveau message reçu", Text: "Un message est arrivé.\n", Kind: "notification"})
		}); err != nil {
			t.Fatal(err)
		}
		if err := st.Tx(ctx, func(tx *store.Tx) error { return outmail.Enqueue(ctx, tx, outmail.Mail{To: "not an address"}) }); err == nil {
			t.Fatal("bad recipient accepted")
		}
		jobs, err := queue.Claim(ctx, st, 10, time.Minute)
		if err != nil || len(jobs) != 1 {
			t.Fatalf("claim: %d, %v", len(jobs), err)
		}
		if err := s.Handle(ctx, jobs[0]); err != nil {
			t.Fatal(err)
		}
		got := sh.WaitFor(t, "jean@gmail.example", 1, time.Second)
		d := got[0].Data
		if got[0].From != "no-reply@hygie.test" || !strings.Contains(d, "Auto-Submitted: auto-generated") ||
			!strings.Contains(d, "=?utf-8?q?Nouveau_message_re=C3=A7u?=") || !strings.Contains(d, "Un message est arrivé.\r\n") {
			t.Fatalf("mail = %+v", got[0])
		}
		if left, _ := queue.List(ctx, st, ""); len(left) != 0 {
			t.Fatalf("%d jobs left", len(left))
		}
		// Smarthost down: rescheduled, not lost.
		s.Smarthost = "127.0.0.1:1"
		st.Tx(ctx, func(tx *store.Tx) error {
			return outmail.Enqueue(ctx, tx, outmail.Mail{To: "x@y.example", Subject: "s", Text: "t"})
		})
		jobs, _ = queue.Claim(ctx, st, 10, time.Minute)
		s.Handle(ctx, jobs[0])
		left, _ := queue.List(ctx, st, "")
		if len(left) != 1 || left[0].LastError == "" || !left[0].RunAt.After(time.Now()) {
			t.Fatalf("after a failure: %+v", left)
		}
	})
}

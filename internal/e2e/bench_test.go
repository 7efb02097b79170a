package e2e

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/config"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/server"
	"github.com/hygie-sante/hygie/internal/store"
)

// benchConns is the number of concurrent submission sessions.
const benchConns = 10

// BenchmarkSubmission runs a node in this process (SQLite in a temporary
// directory) and submits b.N messages over benchConns STARTTLS sessions,
// the load of 'hygie bench smtp', so that the server side can be profiled:
//
//	go test ./internal/e2e -run '^$' -bench 'Submission/4KiB$' -benchtime 6000x -cpuprofile cpu.out
//	go tool pprof -top -cum internal/e2e.test cpu.out
//
// The Filled100k variant first stores 100,000 messages in the recipient's
// INBOX (about a minute).
func BenchmarkSubmission(b *testing.B) {
	b.Run("4KiB", func(b *testing.B) { benchSubmission(b, 4096, 0) })
	b.Run("100KiB", func(b *testing.B) { benchSubmission(b, 102400, 0) })
	b.Run("4KiB-Filled100k", func(b *testing.B) { benchSubmission(b, 4096, 100000) })
}

func benchSubmission(b *testing.B, size, prefill int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dir := b.TempDir()
	cfg, err := config.Load("", []string{"HYGIE_DATA_DIR=" + dir, "HYGIE_LISTEN_SUBMISSION=127.0.0.1:0",
		"HYGIE_LISTEN_SUBMISSIONS=", "HYGIE_LISTEN_SMTP=", "HYGIE_LISTEN_IMAP=", "HYGIE_LISTEN_IMAPS=", "HYGIE_LISTEN_WEB=",
		"HYGIE_LISTEN_LDAP=", "HYGIE_LISTEN_LDAPS="})
	if err != nil {
		b.Fatal(err)
	}
	n, err := server.Open(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer n.Close()
	if _, err := n.Accounts.CreateStructure(ctx, testStructure, ""); err != nil {
		b.Fatal(err)
	}
	for _, login := range []string{alice, bob} {
		if _, err := n.Accounts.Create(ctx, account.NewAccount{Structure: testStructure, Kind: account.PER, Login: login,
			FirstName: "Test", LastName: "Bench"}); err != nil {
			b.Fatal(err)
		}
		if err := n.Accounts.SetPassword(ctx, login, testPassword); err != nil {
			b.Fatal(err)
		}
	}
	if prefill > 0 {
		prefillInbox(b, ctx, n, bob, prefill)
	}
	if err := n.Start(ctx); err != nil {
		b.Fatal(err)
	}
	defer func() { cancel(); n.Wait() }()

	clients := make([]*smtp.Client, benchConns)
	for i := range clients {
		if clients[i], err = dialSubmission(n.Addrs["submission"], alice, testPassword); err != nil {
			b.Fatal(err)
		}
		defer clients[i].Close()
	}
	b.SetBytes(int64(size))
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, benchConns)
	for i, c := range clients {
		share := b.N / benchConns
		if i < b.N%benchConns {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < share; j++ {
				id := fmt.Sprintf("<bench-%d-%d-%d@e2e.hygie.localhost>", b.N, i, j)
				if err := send(c, alice, bob, sizedMessage(alice, bob, id, size)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msg/s")
}

// prefillInbox stores count 4 KiB messages in login's INBOX directly.
func prefillInbox(b *testing.B, ctx context.Context, n *server.Node, login string, count int) {
	a, err := n.Accounts.ByAddress(ctx, login)
	if err != nil {
		b.Fatal(err)
	}
	mb, err := mailbox.ID(ctx, n.St, a.ID, mailbox.Inbox)
	if err != nil {
		b.Fatal(err)
	}
	for done := 0; done < count; done += 1000 {
		err := n.St.Tx(ctx, func(tx *store.Tx) error {
			now := time.Now()
			for i := done; i < min(done+1000, count); i++ {
				id := fmt.Sprintf("<prefill-%d@e2e.hygie.localhost>", i)
				body := sizedMessage(alice, login, id, 4096)
				mid, err := mailbox.InsertMessage(ctx, tx, mailbox.Message{MessageID: id, Sender: alice, Subject: "prefill", Body: body}, now)
				if err != nil {
					return err
				}
				if _, err := mailbox.Append(ctx, tx, mb, mid, nil, now); err != nil {
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

// sizedMessage returns testMessage padded with body lines to about size bytes.
func sizedMessage(from, to, msgID string, size int) []byte {
	m := testMessage(from, to, msgID, "bench "+msgID)
	line := strings.Repeat("0123456789", 7) + "\r\n"
	var sb strings.Builder
	sb.Write(m)
	for sb.Len()+len(line) <= size {
		sb.WriteString(line)
	}
	return []byte(sb.String())
}

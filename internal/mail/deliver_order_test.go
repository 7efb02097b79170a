package mail_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// TestDeliverConcurrentLockOrder delivers concurrently to two accounts that
// delegate to each other, each sending to the other: every delivery files
// into several folders (INBOX, the delegate's INBOX, the sender's Sent),
// whose UID locks are taken in mailbox order, so none fails with a
// deadlock (PostgreSQL) and every folder's UIDs are 1..n without a gap.
func TestDeliverConcurrentLockOrder(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		svc := account.NewService(st)
		if _, err := svc.CreateStructure(ctx, "Cabinet", ""); err != nil {
			t.Fatal(err)
		}
		var accts []*account.Account
		for _, l := range []string{"anne@cabinet.test", "bruno@cabinet.test"} {
			a, err := svc.Create(ctx, account.NewAccount{Structure: "Cabinet", Kind: account.MED, Login: l, FirstName: "X", LastName: "Y"})
			if err != nil {
				t.Fatal(err)
			}
			accts = append(accts, a)
		}
		if _, err := svc.AddDelegation(ctx, accts[0].ID, accts[1].Login); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.AddDelegation(ctx, accts[1].ID, accts[0].Login); err != nil {
			t.Fatal(err)
		}
		p := &mail.Pipeline{St: st, Hostname: "mx.hygie.test", Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			Effects: []mail.Effect{mail.DelegationCopies}}
		const per = 15
		var wg sync.WaitGroup
		errs := make(chan error, 4*per)
		for w := 0; w < 4; w++ {
			from, to := accts[w%2], accts[(w+1)%2]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < per; i++ {
					msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: w%d-%d\r\n\r\nx\r\n", from.Login, to.Login, w, i)
					if _, err := p.Deliver(ctx, mail.Envelope{Source: mail.SourceWeb, From: from.Login, Identity: from,
						Recipients: []mail.Destination{{Address: to.Login, Local: to}}}, []byte(msg)); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("concurrent delivery: %v", err)
		}
		// Each account got 2*per originals and 2*per delegation copies
		// in its INBOX, and sent 2*per messages.
		for _, a := range accts {
			for folder, want := range map[string]int{mailbox.Inbox: 4 * per, mailbox.Sent: 2 * per} {
				f, err := mailbox.ID(ctx, st, a.ID, folder)
				if err != nil {
					t.Fatal(err)
				}
				es, err := mailbox.Entries(ctx, st, f, 1, 1<<31)
				if err != nil {
					t.Fatal(err)
				}
				if len(es) != want {
					t.Fatalf("%s %s has %d entries, want %d", a.Login, folder, len(es), want)
				}
				for i, e := range es {
					if e.UID != uint32(i+1) {
						t.Fatalf("%s %s: entry %d has UID %d", a.Login, folder, i, e.UID)
					}
				}
			}
		}
	})
}

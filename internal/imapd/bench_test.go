package imapd_test

import (
	"fmt"
	"math/rand"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// BenchmarkIMAPCommands runs 10 logged-in clients, each on its own INBOX of
// 200 messages, doing a mix of SELECT, FETCH FLAGS, UID SEARCH, STORE and
// NOOP, and reports commands per second over all clients.
func BenchmarkIMAPCommands(b *testing.B) {
	b.Run("sqlite", func(b *testing.B) { benchCommands(b, storetest.SQLite(b)) })
	if os.Getenv("HYGIE_TEST_POSTGRES") != "" {
		b.Run("postgres", func(b *testing.B) { benchCommands(b, storetest.Postgres(b)) })
	}
}

func benchCommands(b *testing.B, dsn string) {
	const (
		clients  = 10
		messages = 200
	)
	e := newEnv(b, dsn)
	var conns []*imapclient.Client
	for i := 0; i < clients; i++ {
		login := fmt.Sprintf("bench%d@clinique.example", i)
		a := e.person(login, "Bench", fmt.Sprint(i))
		err := e.st.Tx(e.ctx, func(tx *store.Tx) error {
			fid, err := mailbox.ID(e.ctx, tx, a.ID, mailbox.Inbox)
			if err != nil {
				return err
			}
			for j := 0; j < messages; j++ {
				id, err := mailbox.InsertMessage(e.ctx, tx, mailbox.ParseMessage([]byte(message(fmt.Sprint("b", i, "-", j), "corps"))), time.Now())
				if err != nil {
					return err
				}
				if _, err := mailbox.Append(e.ctx, tx, fid, id, nil, time.Now()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		c, _ := e.dial(login)
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
	}

	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i, c := range conns {
		n := b.N / clients
		if i < b.N%clients {
			n++
		}
		wg.Add(1)
		go func(c *imapclient.Client, n int, seed int64) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(seed))
			for k := 0; k < n; k++ {
				var err error
				switch k % 5 {
				case 0:
					_, err = c.Select("INBOX", nil).Wait()
				case 1:
					from := uint32(rnd.Intn(messages-10) + 1)
					_, err = c.Fetch(imap.SeqSet{{Start: from, Stop: from + 9}}, &imap.FetchOptions{Flags: true}).Collect()
				case 2:
					_, err = c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}}, nil).Wait()
				case 3:
					op := imap.StoreFlagsAdd
					if rnd.Intn(2) == 0 {
						op = imap.StoreFlagsDel
					}
					err = c.Store(imap.SeqSetNum(uint32(rnd.Intn(messages)+1)), &imap.StoreFlags{Op: op, Flags: []imap.Flag{imap.FlagSeen}}, nil).Close()
				case 4:
					err = c.Noop().Wait()
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(c, n, int64(i))
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "cmds/s")
}

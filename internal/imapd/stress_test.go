package imapd_test

import (
	"fmt"
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// TestConcurrentSessions has several sessions change one folder at once,
// then checks that each one's view (message count, sequence numbers, UIDs,
// flags) ends up identical to the database.
func TestConcurrentSessions(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		for i := 0; i < 20; i++ {
			e.deliver(e.doc.ID, "INBOX", message(fmt.Sprint("c", i), "x"))
		}
		const sessions, ops = 4, 120
		var clients []*imapclient.Client
		for i := 0; i < sessions; i++ {
			c, _ := e.dial(e.doc.Login)
			if _, err := c.Select("INBOX", nil).Wait(); err != nil {
				t.Fatal(err)
			}
			// imapclient completes SELECT before it records the state.
			for c.Mailbox() == nil {
				time.Sleep(time.Millisecond)
			}
			clients = append(clients, c)
		}
		var wg sync.WaitGroup
		errs := make(chan error, sessions+1)
		for i, c := range clients {
			wg.Add(1)
			go func(c *imapclient.Client, seed int64) {
				defer wg.Done()
				rnd := rand.New(rand.NewSource(seed))
				msg := message(fmt.Sprint("new", seed), "y")
				for k := 0; k < ops; k++ {
					n := c.Mailbox().NumMessages
					seq := uint32(1)
					if n > 0 {
						seq = uint32(rnd.Intn(int(n)) + 1)
					}
					var err error
					switch rnd.Intn(9) {
					case 0:
						cmd := c.Append("INBOX", int64(len(msg)), &imap.AppendOptions{Flags: []imap.Flag{imap.Flag(fmt.Sprint("$K", rnd.Intn(3)))}})
						cmd.Write([]byte(msg))
						cmd.Close()
						_, err = cmd.Wait()
					case 1:
						if n > 0 {
							err = c.Store(imap.SeqSetNum(seq), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
						}
					case 2:
						err = c.Expunge().Close()
					case 3:
						var msgs []*imapclient.FetchMessageBuffer
						msgs, err = c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
						for _, m := range msgs {
							if m.SeqNum > c.Mailbox().NumMessages {
								err = fmt.Errorf("FETCH %d beyond EXISTS %d", m.SeqNum, c.Mailbox().NumMessages)
							}
						}
					case 4:
						_, err = c.UIDSearch(&imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagDeleted}}, nil).Wait()
					case 5:
						if n > 0 {
							_, err = c.Copy(imap.SeqSetNum(seq), "INBOX").Wait()
						}
					case 6:
						if n > 0 {
							_, err = c.Move(imap.SeqSetNum(seq), "Trash").Wait()
						}
					case 7:
						if n > 0 {
							err = c.Store(imap.SeqSetNum(seq), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen, "$K9"}}, nil).Close()
						}
					default:
						err = c.Noop().Wait()
					}
					if err != nil {
						errs <- fmt.Errorf("session %d op %d: %w", seed, k, err)
						return
					}
				}
			}(c, int64(i))
		}
		// Mail arrives meanwhile, as from SMTP.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				if _, err := e.tryDeliver(e.doc.ID, "INBOX", message(fmt.Sprint("smtp", i), "z")); err != nil {
					errs <- err
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}

		inbox, err := mailbox.FolderByName(e.ctx, e.st, e.doc.ID, "INBOX")
		if err != nil {
			t.Fatal(err)
		}
		idx, err := mailbox.Index(e.ctx, e.st, inbox.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i, c := range clients {
			if err := c.Noop().Wait(); err != nil {
				t.Fatal(err)
			}
			if got := c.Mailbox().NumMessages; got != uint32(len(idx)) {
				t.Fatalf("session %d counts %d messages, database %d", i, got, len(idx))
			}
			msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
			if err != nil {
				t.Fatal(err)
			}
			if len(msgs) != len(idx) {
				t.Fatalf("session %d fetched %d messages, database has %d", i, len(msgs), len(idx))
			}
			for j, m := range msgs {
				if m.SeqNum != uint32(j+1) || uint32(m.UID) != idx[j].UID {
					t.Fatalf("session %d: message %d is seq %d uid %d, database uid %d", i, j+1, m.SeqNum, m.UID, idx[j].UID)
				}
				if len(m.Flags) != len(mailbox.ParseFlags(idx[j].Flags)) {
					t.Fatalf("session %d: uid %d flags %v, database %q", i, m.UID, m.Flags, idx[j].Flags)
				}
			}
		}
	})
}

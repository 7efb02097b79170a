package imapd_test

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/imapd"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// opening is one call of Config.Opened.
type opening struct {
	reader  string
	message int64
}

// notifServe starts a second server on e's store whose Opened records its
// calls, and points e.dial at it.
func notifServe(t *testing.T, e *env) func() []opening {
	t.Helper()
	serverTLS, clientTLS := testTLS(t)
	var mu sync.Mutex
	var got []opening
	srv := imapd.New(imapd.Config{Accounts: e.accounts, St: e.st, Audit: &audit.Log{St: e.st}, TLS: serverTLS, Log: testLogger(),
		Opened: func(_ context.Context, reader *account.Account, id int64) {
			mu.Lock()
			got = append(got, opening{reader.Login, id})
			mu.Unlock()
		}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	e.addr, e.client = ln.Addr().String(), clientTLS
	return func() []opening {
		mu.Lock()
		defer mu.Unlock()
		return append([]opening(nil), got...)
	}
}

// TestOpenedHook checks that Config.Opened hears of each message that goes
// from unseen to \Seen — by STORE or by a FETCH of a body section — with
// the person as reader, or the box for a box folder; and of nothing else.
func TestOpenedHook(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		calls := notifServe(t, e)
		e.deliver(e.doc.ID, "INBOX", message("un", "x"))
		e.deliver(e.doc.ID, "INBOX", message("deux", "x"))
		e.deliver(e.box.ID, "INBOX", message("trois", "x"))
		e.deliver(e.box.ID, "INBOX", message("quatre", "x"))
		msgID := func(subject string) int64 {
			var id int64
			if err := e.st.QueryRow(e.ctx, `SELECT id FROM messages WHERE subject = ?`, subject).Scan(&id); err != nil {
				t.Fatal(err)
			}
			return id
		}
		c, _ := e.dial(e.doc.Login)
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		store := func(seq uint32, op imap.StoreFlagsOp, flags ...imap.Flag) {
			t.Helper()
			if err := c.Store(imap.SeqSetNum(seq), &imap.StoreFlags{Op: op, Flags: flags, Silent: true}, nil).Close(); err != nil {
				t.Fatal(err)
			}
		}
		fetch := func(seq uint32, peek bool) {
			t.Helper()
			if _, err := c.Fetch(imap.SeqSetNum(seq), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{Peek: peek}}}).Collect(); err != nil {
				t.Fatal(err)
			}
		}
		store(1, imap.StoreFlagsAdd, imap.FlagSeen)
		store(1, imap.StoreFlagsAdd, imap.FlagSeen, imap.FlagFlagged) // already seen
		store(2, imap.StoreFlagsAdd, imap.FlagFlagged)                // not \Seen
		fetch(2, true)                                                // PEEK
		store(1, imap.StoreFlagsDel, imap.FlagSeen)                   // unseen again…
		store(1, imap.StoreFlagsSet, imap.FlagSeen)                   // …and seen: reported again
		fetch(2, false)                                               // BODY[] sets \Seen
		fetch(2, false)
		if _, err := c.Select(imapd.SharedPrefix+"/"+e.box.Login+"/INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
		store(1, imap.StoreFlagsSet, imap.FlagSeen, imap.FlagAnswered)
		// EXAMINE: reading changes nothing (RFC 9051 §6.3.3).
		if _, err := c.Select(imapd.SharedPrefix+"/"+e.box.Login+"/INBOX", &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
			t.Fatal(err)
		}
		fetch(2, false)
		want := []opening{{e.doc.Login, msgID("un")}, {e.doc.Login, msgID("un")}, {e.doc.Login, msgID("deux")}, {e.box.Login, msgID("trois")}}
		got := calls()
		if len(got) != len(want) {
			t.Fatalf("Opened calls %v, want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("Opened calls %v, want %v", got, want)
			}
		}
	})
}

package e2e

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// Crash test sizes: a burst of burstTotal messages over burstConns
// sessions; the server is killed once killAfter of them were accepted.
const (
	burstTotal = 500
	burstConns = 10
	killAfter  = 200
)

// outcome is what the client knows of one message of the burst.
type outcome int

const (
	notSent  outcome = iota
	accepted         // the server answered 250 to DATA
	refused          // the server answered an error reply
	lost             // the connection broke before an answer
)

// TestCrashSafety kills the server with SIGKILL in the middle of a burst of
// submissions and checks, after a restart, that every message answered 250
// is in the recipient's INBOX and the sender's Sent exactly once, and that
// no message, acknowledged or not, is stored twice or only half.
func TestCrashSafety(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testCrashSafety(t, "") })
	t.Run("postgres", func(t *testing.T) { testCrashSafety(t, storetest.Postgres(t)) })
}

func testCrashSafety(t *testing.T, database string) {
	n := newNode(t, database)
	n.start()
	n.setupAccounts()

	ids := make([]string, burstTotal)
	for i := range ids {
		ids[i] = newMessageID(fmt.Sprintf("crash-%03d", i))
	}
	outcomes := burst(t, n, ids)
	n.waitExit()

	count := map[outcome]int{}
	for _, o := range outcomes {
		count[o]++
	}
	t.Logf("before the kill: %d accepted, %d lost in flight, %d refused, %d not sent",
		count[accepted], count[lost], count[refused], count[notSent])
	if count[accepted] < killAfter || count[accepted] == burstTotal {
		t.Fatalf("%d of %d messages accepted: the kill did not land mid-burst", count[accepted], burstTotal)
	}
	if count[refused] > 0 {
		t.Errorf("%d messages refused before the kill, want 0", count[refused])
	}

	n.start()
	db := n.openDB()
	inbox, sent := n.folderCounts(db, bob, "INBOX"), n.folderCounts(db, alice, "Sent")
	unacked := 0
	for i, id := range ids {
		in, out := inbox[id], sent[id]
		switch {
		case outcomes[i] == accepted && (in != 1 || out != 1):
			t.Errorf("message %d %s got 250 but is %d times in INBOX and %d times in Sent, want 1 and 1", i, id, in, out)
		case in > 1 || out > 1:
			t.Errorf("message %d %s (outcome %d) is %d times in INBOX and %d times in Sent", i, id, outcomes[i], in, out)
		case in != out:
			t.Errorf("message %d %s is half delivered: %d in INBOX, %d in Sent", i, id, in, out)
		case outcomes[i] != accepted && in == 1:
			unacked++
		}
	}
	t.Logf("after restart: %d messages in INBOX (%d stored without an answer)", len(inbox), unacked)
	if len(inbox) > burstTotal || len(sent) > burstTotal {
		t.Errorf("%d messages in INBOX and %d in Sent, more than the %d sent", len(inbox), len(sent), burstTotal)
	}

	// The restarted server accepts mail again.
	c, err := dialSubmission(n.addr["submission"], alice, testPassword)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	defer c.Close()
	after := newMessageID("after-crash")
	if err := send(c, alice, bob, testMessage(alice, bob, after, "after the crash")); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if got := n.folderCounts(db, bob, "INBOX")[after]; got != 1 {
		t.Errorf("message sent after restart is %d times in INBOX, want 1", got)
	}
}

// burst sends ids[i] from alice to bob over burstConns sessions, and kills
// the server with SIGKILL as soon as killAfter messages were accepted. It
// returns what the client saw of each message.
func burst(t *testing.T, n *node, ids []string) []outcome {
	t.Helper()
	outcomes := make([]outcome, len(ids))
	var next, acked atomic.Int64
	var kill sync.Once
	var wg sync.WaitGroup
	errs := make(chan error, burstConns)
	for w := 0; w < burstConns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialSubmission(n.addr["submission"], alice, testPassword)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(ids) {
					return
				}
				// Each index is taken by one goroutine only.
				err := send(c, alice, bob, testMessage(alice, bob, ids[i], fmt.Sprintf("crash test %d %s", i, ids[i])))
				var se *smtp.SMTPError
				switch {
				case err == nil:
					outcomes[i] = accepted
					if acked.Add(1) == killAfter {
						kill.Do(n.kill)
					}
				case errors.As(err, &se):
					outcomes[i] = refused
					t.Logf("message %d refused: %v", i, err)
				default:
					outcomes[i] = lost
					return // the server is gone
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		// Sessions that could not even start only matter before the kill.
		if acked.Load() < killAfter {
			t.Fatalf("session: %v", err)
		}
	}
	kill.Do(n.kill) // in case every session failed early
	return outcomes
}

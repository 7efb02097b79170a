package mailbox_test

import (
	"sync"
	"testing"

	"github.com/hygie-sante/hygie/internal/mailbox"
)

// TestPublishAndRemoteChanges checks the cluster hooks of the event bus: a
// local change is passed to the publishers and wakes the watchers; a
// change from another node (ChangedRemote) wakes them and moves Version
// without being published again; ChangedAll wakes every watched folder.
func TestPublishAndRemoteChanges(t *testing.T) {
	const a, b = 987654321, 987654322
	var mu sync.Mutex
	var published []int64
	stop := mailbox.Publish(func(id int64) {
		mu.Lock()
		published = append(published, id)
		mu.Unlock()
	})
	chA, unA := mailbox.Watch(a)
	defer unA()
	chB, unB := mailbox.Watch(b)
	defer unB()
	woken := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}

	mailbox.Changed(a)
	if !woken(chA) || woken(chB) || mailbox.Version(a) != 1 {
		t.Fatalf("local change: not seen as one change of folder a (version %d)", mailbox.Version(a))
	}
	mailbox.ChangedRemote(a)
	if !woken(chA) || mailbox.Version(a) != 2 {
		t.Fatalf("remote change: not seen (version %d)", mailbox.Version(a))
	}
	mailbox.ChangedAll()
	if !woken(chA) || !woken(chB) || mailbox.Version(a) != 3 || mailbox.Version(b) != 1 {
		t.Fatalf("ChangedAll: versions %d and %d", mailbox.Version(a), mailbox.Version(b))
	}
	mu.Lock()
	got := append([]int64(nil), published...)
	mu.Unlock()
	var mine []int64
	for _, id := range got {
		if id == a || id == b {
			mine = append(mine, id)
		}
	}
	if len(mine) != 1 || mine[0] != a {
		t.Fatalf("published %v, want only the local change of folder a", mine)
	}

	stop()
	mailbox.Changed(b)
	mu.Lock()
	defer mu.Unlock()
	for _, id := range published[len(got):] {
		if id == b {
			t.Fatal("published after stop")
		}
	}
}

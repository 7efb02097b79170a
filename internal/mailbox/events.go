package mailbox

import (
	"sync"
	"sync/atomic"
)

// bus fans out "this folder changed" events to the IMAP sessions watching it
// (IDLE, and untagged updates at the next command). Events are hints: a
// subscriber re-reads the folder to learn what changed.
type bus struct {
	mu   sync.Mutex
	subs map[int64]map[chan struct{}]struct{}
	// gens counts the Changed calls of each watched folder (see Version).
	gens map[int64]uint64
}

var events = &bus{subs: map[int64]map[chan struct{}]struct{}{}, gens: map[int64]uint64{}}

// Watch returns a channel that receives a value (coalesced) whenever folder
// id changes, and a function to stop watching.
func Watch(id int64) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	events.mu.Lock()
	if events.subs[id] == nil {
		events.subs[id] = map[chan struct{}]struct{}{}
	}
	events.subs[id][ch] = struct{}{}
	events.mu.Unlock()
	return ch, func() {
		events.mu.Lock()
		delete(events.subs[id], ch)
		if len(events.subs[id]) == 0 {
			delete(events.subs, id)
			delete(events.gens, id)
		}
		events.mu.Unlock()
	}
}

// Changed wakes every watcher of folder id, and tells the other nodes
// through the publishers set with Publish. Call it after commit only.
func Changed(id int64) {
	changed(id)
	if ps := publishers.Load(); ps != nil {
		for _, p := range *ps {
			p.fn(id)
		}
	}
}

// ChangedRemote wakes every watcher of folder id, which another node
// changed; it does not publish again.
func ChangedRemote(id int64) { changed(id) }

// ChangedAll wakes every watcher of every folder, as if each had changed:
// after a node lost its link to the others for a while and may have missed
// events.
func ChangedAll() {
	events.mu.Lock()
	ids := make([]int64, 0, len(events.subs))
	for id := range events.subs {
		ids = append(ids, id)
	}
	events.mu.Unlock()
	for _, id := range ids {
		changed(id)
	}
}

// publisher is one registered Publish function.
type publisher struct{ fn func(int64) }

// publishers are the functions Changed passes local changes to (copy on
// write; usually one, the node's PostgreSQL notifier).
var (
	publishers atomic.Pointer[[]*publisher]
	publishMu  sync.Mutex
)

// Publish makes Changed also call fn(id) for every local change, so that a
// node sharing its database with others can tell them (PostgreSQL
// LISTEN/NOTIFY, see internal/server/cluster.go). fn must not block. The
// returned function stops it.
func Publish(fn func(id int64)) (stop func()) {
	p := &publisher{fn: fn}
	publishMu.Lock()
	defer publishMu.Unlock()
	var cur []*publisher
	if ps := publishers.Load(); ps != nil {
		cur = *ps
	}
	next := append(append([]*publisher(nil), cur...), p)
	publishers.Store(&next)
	return func() {
		publishMu.Lock()
		defer publishMu.Unlock()
		var kept []*publisher
		for _, q := range *publishers.Load() {
			if q != p {
				kept = append(kept, q)
			}
		}
		publishers.Store(&kept)
	}
}

// changed wakes the watchers of folder id in this process.
func changed(id int64) {
	events.mu.Lock()
	defer events.mu.Unlock()
	if _, ok := events.subs[id]; ok {
		events.gens[id]++
	}
	for ch := range events.subs[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// Version returns how many times Changed was called for folder id since it
// started being watched. It is meaningful only while the caller holds a
// Watch on id: an IMAP session compares it with the value it saw when it
// last read the folder, to know without a query whether the folder changed.
func Version(id int64) uint64 {
	events.mu.Lock()
	defer events.mu.Unlock()
	return events.gens[id]
}

package mailbox

import "sync"

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

// Changed wakes every watcher of folder id. Call it after commit only.
func Changed(id int64) {
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

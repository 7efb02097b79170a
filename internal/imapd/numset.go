package imapd

import (
	"math"
	"sort"

	"github.com/emersion/go-imap/v2"
)

// msgRef is a message of the selected folder as the client numbers it.
type msgRef struct {
	seq   uint32 // sequence number in the client's view
	uid   imap.UID
	flags string
}

// clientMaxLocked is the sequence number "*" stands for: the client's
// number of the last message it knows (RFC 9051 §9 seq-number). f.mu held.
func (sel *selection) clientMaxLocked() (uint32, int) {
	for i := len(sel.f.uids); i >= 1; i-- {
		if c := sel.tracker.EncodeSeqNum(uint32(i)); c != 0 {
			return c, i - 1
		}
	}
	return 0, -1
}

// staticRange resolves "*" to max and orders a range (RFC 9051 §9: "4:2"
// is "2:4", and "n:*" includes the last message even above it).
func staticRange(start, stop, max uint32) (uint32, uint32) {
	if start == 0 {
		start = max
	}
	if stop == 0 {
		stop = max
	}
	if start > stop {
		start, stop = stop, start
	}
	return start, stop
}

// resolveLocked lists the messages a sequence set or UID set designates,
// in the client's view, by sequence number. Messages the client has not
// been told about yet, or that are already gone from the server's view, are
// left out. "$" is the saved search result (RFC 5182). f.mu held.
func (sel *selection) resolveLocked(numSet imap.NumSet) []msgRef {
	f := sel.f
	if imap.IsSearchRes(numSet) {
		numSet = sel.searchRes
	}
	var out []msgRef
	switch set := numSet.(type) {
	case imap.SeqSet:
		max, _ := sel.clientMaxLocked()
		for _, r := range set {
			start, stop := staticRange(r.Start, r.Stop, max)
			if start == 0 {
				start = 1
			}
			if stop > max {
				stop = max
			}
			for c := start; c <= stop; c++ {
				if srv := sel.tracker.DecodeSeqNum(c); srv != 0 {
					out = append(out, msgRef{seq: c, uid: f.uids[srv-1], flags: f.flags[srv-1]})
				}
				if c == math.MaxUint32 {
					break
				}
			}
		}
	case imap.UIDSet:
		var maxUID imap.UID
		if _, i := sel.clientMaxLocked(); i >= 0 {
			maxUID = f.uids[i]
		}
		for _, r := range set {
			start, stop := staticRange(uint32(r.Start), uint32(r.Stop), uint32(maxUID))
			i := sort.Search(len(f.uids), func(i int) bool { return f.uids[i] >= imap.UID(start) })
			for ; i < len(f.uids) && f.uids[i] <= imap.UID(stop); i++ {
				if c := sel.tracker.EncodeSeqNum(uint32(i + 1)); c != 0 {
					out = append(out, msgRef{seq: c, uid: f.uids[i], flags: f.flags[i]})
				}
			}
		}
	}
	if len(out) > 1 {
		sort.Slice(out, func(i, j int) bool { return out[i].seq < out[j].seq })
		n := 1
		for i := 1; i < len(out); i++ {
			if out[i].seq != out[n-1].seq {
				out[n] = out[i]
				n++
			}
		}
		out = out[:n]
	}
	return out
}

// resolve is resolveLocked taking the folder lock.
func (sel *selection) resolve(numSet imap.NumSet) []msgRef {
	sel.f.mu.Lock()
	defer sel.f.mu.Unlock()
	return sel.resolveLocked(numSet)
}

// uidsOf lists the UIDs of refs, ascending (sequence order is UID order).
func uidsOf(refs []msgRef) []uint32 {
	out := make([]uint32, len(refs))
	for i, r := range refs {
		out[i] = uint32(r.uid)
	}
	return out
}

// uidSet builds a UID set from ascending UIDs.
func uidSet(uids []uint32) imap.UIDSet {
	var s imap.UIDSet
	for _, u := range uids {
		s.AddNum(imap.UID(u))
	}
	return s
}

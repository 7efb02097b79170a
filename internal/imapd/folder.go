package imapd

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
)

// folder is the state of one folder shared by the sessions of this process
// that selected it: the server's view of its message list (UIDs and flags,
// in UID order, so that index+1 is the server sequence number) and
// imapserver's MailboxTracker, which turns changes into each session's
// untagged EXISTS, EXPUNGE, FLAGS and FETCH responses with the sequence
// numbers that session knows (RFC 9051 §7.4.1, §5.5).
//
// The view follows the database: every write calls mailbox.Changed after
// commit, which bumps mailbox.Version; a session that sees a version it has
// not applied re-reads the index and diffs it (sync). A session that wrote
// applies its own change without re-reading when no other change slipped in
// (localFlags, localRemove).
type folder struct {
	id   int64
	refs int // sessions holding it; guarded by registry.mu

	unwatch func() // keeps mailbox.Version counting for id

	mu       sync.Mutex
	loaded   bool
	uids     []imap.UID
	flags    []string // stored flag strings, parallel to uids
	keywords []imap.Flag
	kwSeen   map[string]bool // lower-cased keywords
	version  uint64          // mailbox.Version applied
	tracker  *imapserver.MailboxTracker
}

// linger is how long the state of a folder nobody has selected any more is
// kept: clients often go from folder to folder and back, and re-reading a
// large folder's index costs more than keeping it a little.
const linger = 30 * time.Second

// registry holds the folders selected in this process.
type registry struct {
	mu sync.Mutex
	m  map[int64]*folder
}

func newRegistry() *registry { return &registry{m: map[int64]*folder{}} }

// acquire returns the shared state of folder id, not loaded yet when it is
// new; release must follow.
func (r *registry) acquire(id int64) *folder {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.m[id]
	if f == nil {
		f = &folder{id: id, kwSeen: map[string]bool{}}
		_, f.unwatch = mailbox.Watch(id)
		r.m[id] = f
	}
	f.refs++
	return f
}

// release gives back a folder; its state is dropped once nobody has used
// it for linger.
func (r *registry) release(f *folder) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f.refs--
	if f.refs > 0 {
		return
	}
	time.AfterFunc(linger, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if f.refs == 0 && r.m[f.id] == f {
			delete(r.m, f.id)
			f.unwatch()
		}
	})
}

// find returns the index of uid in the view, or -1.
func (f *folder) find(uid imap.UID) int {
	i := sort.Search(len(f.uids), func(i int) bool { return f.uids[i] >= uid })
	if i < len(f.uids) && f.uids[i] == uid {
		return i
	}
	return -1
}

// noteKeywords records the keywords of a stored flag string and reports
// whether one was new to the folder.
func (f *folder) noteKeywords(flags string) bool {
	added := false
	for _, k := range strings.Fields(flags) {
		if !mailbox.IsKeyword(k) || f.kwSeen[strings.ToLower(k)] {
			continue
		}
		f.kwSeen[strings.ToLower(k)] = true
		f.keywords = append(f.keywords, imap.Flag(k))
		added = true
	}
	if added {
		sort.Slice(f.keywords, func(i, j int) bool { return f.keywords[i] < f.keywords[j] })
	}
	return added
}

// mailboxFlags is the FLAGS list of the folder (RFC 9051 §7.3.5): the system
// flags and every keyword used in it.
func (f *folder) mailboxFlags() []imap.Flag {
	out := make([]imap.Flag, 0, len(mailbox.SystemFlags)+len(f.keywords))
	for _, s := range mailbox.SystemFlags {
		out = append(out, imap.Flag(s))
	}
	return append(out, f.keywords...)
}

// toFlags converts a stored flag string for the wire.
func toFlags(s string) []imap.Flag {
	fs := strings.Fields(s)
	out := make([]imap.Flag, len(fs))
	for i, f := range fs {
		out[i] = imap.Flag(f)
	}
	return out
}

// syncLocked brings the view up to date with the database when the folder
// changed since it was last read, queueing the differences to the sessions.
// Flag changes of the UIDs in mine are not queued to self, which reported
// them itself, unless a new keyword made the FLAGS response come first. It
// reports whether new keywords were announced. f.mu must be held.
func (f *folder) syncLocked(ctx context.Context, q store.Querier, self *imapserver.SessionTracker, mine map[imap.UID]bool) (bool, error) {
	v := mailbox.Version(f.id)
	if f.loaded && v == f.version {
		return false, nil
	}
	idx, err := mailbox.Index(ctx, q, f.id)
	if err != nil {
		return false, err
	}
	newKw := false
	if !f.loaded {
		f.uids = make([]imap.UID, len(idx))
		f.flags = make([]string, len(idx))
		for i, e := range idx {
			f.uids[i], f.flags[i] = imap.UID(e.UID), e.Flags
			f.noteKeywords(e.Flags)
		}
		f.tracker = imapserver.NewMailboxTracker(uint32(len(idx)))
		f.loaded = true
	} else {
		newKw = f.applyLocked(idx, self, mine)
	}
	f.version = v
	return newKw, nil
}

// applyLocked diffs the view with a fresh index. Updates are queued in an
// order that keeps every sequence number valid when the session reads it:
// FLAGS (new keywords) first, then flag changes, then expunges from the
// highest sequence number down, then one EXISTS per new message.
func (f *folder) applyLocked(idx []mailbox.IndexEntry, self *imapserver.SessionTracker, mine map[imap.UID]bool) bool {
	type change struct {
		i     int
		flags string
	}
	var (
		expunged []int
		changes  []change
		added    []mailbox.IndexEntry
	)
	var last imap.UID
	if n := len(f.uids); n > 0 {
		last = f.uids[n-1]
	}
	i, j := 0, 0
	for i < len(f.uids) || j < len(idx) {
		switch {
		case j >= len(idx) || (i < len(f.uids) && f.uids[i] < imap.UID(idx[j].UID)):
			expunged = append(expunged, i)
			i++
		case i >= len(f.uids) || imap.UID(idx[j].UID) < f.uids[i]:
			// UIDs only grow (RFC 9051 §2.3.1.1): a new message is above
			// every known one.
			if imap.UID(idx[j].UID) > last {
				added = append(added, idx[j])
			}
			j++
		default:
			if idx[j].Flags != f.flags[i] {
				changes = append(changes, change{i, idx[j].Flags})
			}
			i++
			j++
		}
	}
	newKw := false
	for _, c := range changes {
		newKw = f.noteKeywords(c.flags) || newKw
	}
	for _, a := range added {
		newKw = f.noteKeywords(a.Flags) || newKw
	}
	if newKw {
		f.tracker.QueueMailboxFlags(f.mailboxFlags())
	}
	for _, c := range changes {
		f.flags[c.i] = c.flags
		var src *imapserver.SessionTracker
		if !newKw && mine[f.uids[c.i]] {
			src = self
		}
		f.tracker.QueueMessageFlags(uint32(c.i+1), f.uids[c.i], toFlags(c.flags), src)
	}
	if len(expunged) > 0 {
		for k := len(expunged) - 1; k >= 0; k-- {
			f.tracker.QueueExpunge(uint32(expunged[k] + 1))
		}
		uids := make([]imap.UID, 0, len(f.uids)-len(expunged)+len(added))
		flags := make([]string, 0, cap(uids))
		e := 0
		for k := range f.uids {
			if e < len(expunged) && expunged[e] == k {
				e++
				continue
			}
			uids = append(uids, f.uids[k])
			flags = append(flags, f.flags[k])
		}
		f.uids, f.flags = uids, flags
	}
	for _, a := range added {
		f.uids = append(f.uids, imap.UID(a.UID))
		f.flags = append(f.flags, a.Flags)
		f.tracker.QueueNumMessages(uint32(len(f.uids)))
	}
	return newKw
}

// sync brings the view up to date (see syncLocked).
func (f *folder) sync(ctx context.Context, q store.Querier) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, err := f.syncLocked(ctx, q, nil, nil)
	return err
}

// localFlags records flags that session self just stored (v0 is
// mailbox.Version read before its transaction). Other sessions get FETCH
// FLAGS; self reported them, except when they introduce a keyword: then
// every session, self included, gets FLAGS then the FETCHes at its next
// poll, and localFlags returns true.
func (f *folder) localFlags(ctx context.Context, q store.Querier, v0 uint64, upd []mailbox.FlagUpdate, self *imapserver.SessionTracker) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	want := v0
	mine := map[imap.UID]bool{}
	for _, u := range upd {
		if u.Changed {
			mine[imap.UID(u.UID)] = true
		}
	}
	if len(mine) > 0 {
		want++
	}
	if !f.loaded || f.version != v0 || mailbox.Version(f.id) != want {
		// Another change slipped in: re-read.
		return f.syncLocked(ctx, q, self, mine)
	}
	newKw := false
	for _, u := range upd {
		if u.Changed {
			newKw = f.noteKeywords(u.Flags) || newKw
		}
	}
	if newKw {
		f.tracker.QueueMailboxFlags(f.mailboxFlags())
	}
	src := self
	if newKw {
		src = nil
	}
	for _, u := range upd {
		if !u.Changed {
			continue
		}
		i := f.find(imap.UID(u.UID))
		if i < 0 {
			continue
		}
		f.flags[i] = u.Flags
		f.tracker.QueueMessageFlags(uint32(i+1), f.uids[i], toFlags(u.Flags), src)
	}
	f.version = want
	return newKw, nil
}

// localRemove records messages that this process just removed (EXPUNGE,
// MOVE; v0 as for localFlags). Every session, the remover included, gets
// the EXPUNGE responses at its next poll: for EXPUNGE and MOVE that poll
// comes before the tagged OK (RFC 9051 §6.4.3, RFC 6851 §4.3).
func (f *folder) localRemove(ctx context.Context, q store.Querier, v0 uint64, removed []uint32) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	want := v0
	if len(removed) > 0 {
		want++
	}
	if !f.loaded || f.version != v0 || mailbox.Version(f.id) != want {
		_, err := f.syncLocked(ctx, q, nil, nil)
		return err
	}
	for k := len(removed) - 1; k >= 0; k-- {
		i := f.find(imap.UID(removed[k]))
		if i < 0 {
			continue
		}
		f.tracker.QueueExpunge(uint32(i + 1))
		f.uids = append(f.uids[:i], f.uids[i+1:]...)
		f.flags = append(f.flags[:i], f.flags[i+1:]...)
	}
	f.version = want
	return nil
}

package imapd

import (
	"sort"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
)

// listEntry is one name of the hierarchy seen by the person.
type listEntry struct {
	name       string
	folder     *mailbox.Folder // nil for a level that is not a folder
	shared     bool
	subscribed bool
	children   bool
	// subscribedChild: a descendant is subscribed (RFC 5258 CHILDINFO).
	subscribedChild bool
}

// hierarchy returns every name the person sees: their folders, the folders
// of the boxes they are a member of under SharedPrefix, and the levels above
// them that are not folders themselves (\Noselect, RFC 9051 §7.3.1).
func (s *session) hierarchy() ([]*listEntry, error) {
	byName := map[string]*listEntry{}
	own, err := mailbox.Folders(s.ctx, s.srv.cfg.St, s.user.ID)
	if err != nil {
		return nil, err
	}
	for i := range own {
		f := &own[i]
		byName[f.Name] = &listEntry{name: f.Name, folder: f, subscribed: f.Subscribed}
	}
	boxes, err := s.srv.cfg.Accounts.Boxes(s.ctx, s.user.ID)
	if err != nil {
		return nil, err
	}
	if len(boxes) > 0 {
		unsub, err := mailbox.Unsubscribed(s.ctx, s.srv.cfg.St, s.user.ID)
		if err != nil {
			return nil, err
		}
		for _, b := range boxes {
			fs, err := mailbox.Folders(s.ctx, s.srv.cfg.St, b.ID)
			if err != nil {
				return nil, err
			}
			t := target{owner: b.ID, box: b}
			for i := range fs {
				f := &fs[i]
				n := t.display(f.Name)
				byName[n] = &listEntry{name: n, folder: f, shared: true, subscribed: !unsub[f.ID]}
			}
		}
	}
	// Levels that are not folders, and children.
	for _, e := range mapValues(byName) {
		name := e.name
		for {
			i := strings.LastIndexByte(name, byte(delim))
			if i < 0 {
				break
			}
			name = name[:i]
			p := byName[name]
			if p == nil {
				p = &listEntry{name: name, shared: isShared(name)}
				byName[name] = p
			}
			p.children = true
			if e.subscribed {
				p.subscribedChild = true
			}
		}
	}
	out := mapValues(byName)
	sort.Slice(out, func(i, j int) bool {
		// INBOX first, then by name.
		a, b := out[i].name, out[j].name
		if (a == mailbox.Inbox) != (b == mailbox.Inbox) {
			return a == mailbox.Inbox
		}
		return a < b
	})
	return out, nil
}

func mapValues(m map[string]*listEntry) []*listEntry {
	out := make([]*listEntry, 0, len(m))
	for _, e := range m {
		out = append(out, e)
	}
	return out
}

// canonicalPattern makes a leading INBOX level of a reference or pattern
// case-insensitive, as INBOX is (RFC 9051 §5.1).
func canonicalPattern(p string) string {
	first, rest, more := strings.Cut(p, string(delim))
	if !strings.EqualFold(first, mailbox.Inbox) {
		return p
	}
	if more {
		return mailbox.Inbox + string(delim) + rest
	}
	return mailbox.Inbox
}

// List answers LIST and LSUB (RFC 9051 §6.3.9, RFC 5258 LIST-EXTENDED,
// RFC 5819 LIST-STATUS, RFC 6154 SPECIAL-USE). Special-use attributes are
// given for the person's own folders only, so that a client never takes a
// box's Sent or Trash for its own.
func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, opts *imap.ListOptions) error {
	if len(patterns) == 0 {
		// An empty pattern asks for the delimiter (RFC 9051 §6.3.9).
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: delim})
	}
	entries, err := s.hierarchy()
	if err != nil {
		return s.fail("list", err)
	}
	ref = canonicalPattern(ref)
	for i, p := range patterns {
		if ref == "" {
			patterns[i] = canonicalPattern(p)
		}
	}
	for _, e := range entries {
		match := false
		for _, p := range patterns {
			if imapserver.MatchList(e.name, delim, ref, p) {
				match = true
				break
			}
		}
		if !match {
			continue
		}
		data, ok, err := s.listData(e, opts)
		if err != nil {
			return s.fail("list", err)
		}
		if !ok {
			continue
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}

// listData builds the LIST response of one entry, or false when the
// selection options exclude it.
func (s *session) listData(e *listEntry, opts *imap.ListOptions) (*imap.ListData, bool, error) {
	data := &imap.ListData{Mailbox: e.name, Delim: delim}
	if opts.SelectSubscribed && !e.subscribed {
		if !(opts.SelectRecursiveMatch && e.subscribedChild) {
			return nil, false, nil
		}
		data.ChildInfo = &imap.ListDataChildInfo{Subscribed: true}
	}
	special := ""
	if e.folder != nil && !e.shared {
		special = e.folder.SpecialUse
	}
	if opts.SelectSpecialUse && special == "" {
		return nil, false, nil
	}
	if e.folder == nil {
		data.Attrs = append(data.Attrs, imap.MailboxAttrNoSelect)
	}
	if e.children {
		data.Attrs = append(data.Attrs, imap.MailboxAttrHasChildren)
	} else {
		data.Attrs = append(data.Attrs, imap.MailboxAttrHasNoChildren)
	}
	if e.subscribed && (opts.SelectSubscribed || opts.ReturnSubscribed) {
		data.Attrs = append(data.Attrs, imap.MailboxAttrSubscribed)
	}
	if special != "" {
		data.Attrs = append(data.Attrs, imap.MailboxAttr(special))
	}
	if opts.ReturnStatus != nil && e.folder != nil {
		st, err := s.statusData(e.name, *e.folder, opts.ReturnStatus)
		if err != nil {
			return nil, false, err
		}
		data.Status = st
	}
	return data, true, nil
}

// Subscribe adds a folder to the person's subscriptions (RFC 9051 §6.3.7).
func (s *session) Subscribe(name string) error { return s.subscribe(name, true) }

// Unsubscribe removes a folder from the person's subscriptions (RFC 9051
// §6.3.8).
func (s *session) Unsubscribe(name string) error { return s.subscribe(name, false) }

func (s *session) subscribe(name string, on bool) error {
	_, f, err := s.folder(name)
	if err != nil {
		return s.fail("subscribe", err)
	}
	err = s.write(func(tx *store.Tx) error {
		return mailbox.SetSubscribed(s.ctx, tx, s.user.ID, f, on)
	})
	return s.fail("subscribe", err)
}

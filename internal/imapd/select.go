package imapd

import (
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/hygie-sante/hygie/internal/mailbox"
)

// idleSettle is how long an idling session waits after a change event
// before reading the folder: the writer usually records its own change in
// the meantime, and bursts of deliveries are reported together.
const idleSettle = 10 * time.Millisecond

// selection is the selected folder of a session (RFC 9051 §6.3.2).
type selection struct {
	f        *folder
	tracker  *imapserver.SessionTracker
	t        target
	readOnly bool
	// revoked is set once the person is found no longer a member of the
	// box; every later command on the folder fails.
	revoked bool
	// searchRes is the saved result of SEARCH RETURN (SAVE) (RFC 5182).
	searchRes imap.UIDSet
}

// Select opens a folder (SELECT and EXAMINE, RFC 9051 §6.3.2, §6.3.3).
func (s *session) Select(name string, opts *imap.SelectOptions) (*imap.SelectData, error) {
	s.closeSelection()
	t, mf, err := s.folder(name)
	if err != nil {
		return nil, s.fail("select", err)
	}
	f := s.srv.folders.acquire(mf.ID)
	f.mu.Lock()
	if _, err := f.syncLocked(s.ctx, s.srv.cfg.St, nil, nil); err != nil {
		f.mu.Unlock()
		s.srv.folders.release(f)
		return nil, s.fail("select", err)
	}
	// Registering under f.mu: the session's numbering starts from exactly
	// the messages counted here.
	tracker := f.tracker.NewSession()
	data := &imap.SelectData{
		Flags:       f.mailboxFlags(),
		NumMessages: uint32(len(f.uids)),
		UIDNext:     imap.UID(mf.UIDNext),
		UIDValidity: mf.UIDValidity,
	}
	if n := len(f.uids); n > 0 && f.uids[n-1] >= data.UIDNext {
		data.UIDNext = f.uids[n-1] + 1
	}
	for i, fl := range f.flags {
		if !mailbox.HasFlag(fl, mailbox.FlagSeen) {
			data.FirstUnseenSeqNum = uint32(i + 1)
			break
		}
	}
	f.mu.Unlock()
	if opts.ReadOnly {
		data.PermanentFlags = []imap.Flag{}
	} else {
		data.PermanentFlags = append(append([]imap.Flag{}, data.Flags...), imap.FlagWildcard)
	}
	if s.conn.EnabledCaps().Has(imap.CapIMAP4rev2) {
		// IMAP4rev2 requires a LIST response with the name (RFC 9051 §6.3.2).
		data.List = &imap.ListData{Mailbox: t.display(mf.Name), Delim: delim}
		if mf.SpecialUse != "" && t.box == nil {
			data.List.Attrs = []imap.MailboxAttr{imap.MailboxAttr(mf.SpecialUse)}
		}
	}
	s.sel = &selection{f: f, tracker: tracker, t: t, readOnly: opts.ReadOnly}
	return data, nil
}

// Unselect closes the selected folder (UNSELECT, RFC 3691; and CLOSE, after
// imapserver had Expunge remove \Deleted messages silently).
func (s *session) Unselect() error {
	s.closeSelection()
	return nil
}

func (s *session) closeSelection() {
	if s.sel == nil {
		return
	}
	s.sel.tracker.Close()
	s.srv.folders.release(s.sel.f)
	s.sel = nil
}

// selected returns the selection for a command that works on it, checking
// that a box folder is still accessible to the person.
func (s *session) selected() (*selection, error) {
	sel := s.sel
	if sel == nil {
		return nil, bad("No folder selected")
	}
	if sel.revoked {
		return nil, errRevoked
	}
	if sel.t.box != nil {
		ok, err := s.srv.cfg.Accounts.IsMember(s.ctx, sel.t.box.ID, s.user.ID)
		if err != nil {
			return nil, s.fail("membership", err)
		}
		if !ok {
			sel.revoked = true
			s.srv.log.Info("imap: box access withdrawn", "user", s.user.Login, "box", sel.t.box.Login)
			return nil, errRevoked
		}
	}
	return sel, nil
}

// stillMember re-checks that a selected box folder is still accessible,
// and reports whether its updates may be sent.
func (s *session) stillMember() bool {
	_, err := s.selected()
	return err == nil
}

// Poll sends the pending updates of the selected folder after each command
// (RFC 9051 §7.4.1, §5.5: no EXPUNGE during FETCH, STORE and SEARCH).
func (s *session) Poll(w *imapserver.UpdateWriter, allowExpunge bool) error {
	if s.sel == nil || !s.stillMember() {
		return nil
	}
	if err := s.sel.f.sync(s.ctx, s.srv.cfg.St); err != nil {
		s.srv.log.Error("imap poll", "user", s.login(), "err", err)
	}
	return s.sel.tracker.Poll(w, allowExpunge)
}

// Idle streams the updates of the selected folder until the client sends
// DONE (RFC 2177): new messages (EXISTS), expunges and flag changes made by
// other sessions, the webmail or the SMTP pipeline.
func (s *session) Idle(w *imapserver.UpdateWriter, stop <-chan struct{}) error {
	sel := s.sel
	if sel == nil || sel.revoked {
		<-stop
		return nil
	}
	changed, unwatch := mailbox.Watch(sel.f.id)
	defer unwatch()
	for {
		if !s.stillMember() {
			<-stop
			return nil
		}
		if err := sel.f.sync(s.ctx, s.srv.cfg.St); err != nil {
			s.srv.log.Error("imap idle", "user", s.login(), "err", err)
		}
		if err := sel.tracker.Poll(w, true); err != nil {
			return err
		}
		select {
		case <-stop:
			return nil
		case <-changed:
		}
		select {
		case <-stop:
			return nil
		case <-time.After(idleSettle):
		}
	}
}

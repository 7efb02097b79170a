package imapd

import (
	"github.com/emersion/go-imap/v2"

	"github.com/hygie-sante/hygie/internal/mailbox"
)

// Status reports the counters of a folder (RFC 9051 §6.3.11, RFC 8438
// STATUS=SIZE).
func (s *session) Status(name string, opts *imap.StatusOptions) (*imap.StatusData, error) {
	t, f, err := s.folder(name)
	if err != nil {
		return nil, s.fail("status", err)
	}
	data, err := s.statusData(t.display(f.Name), f, opts)
	if err != nil {
		return nil, s.fail("status", err)
	}
	return data, nil
}

// statusData computes the STATUS items asked for folder f, counting
// messages only when a count is asked.
func (s *session) statusData(display string, f mailbox.Folder, opts *imap.StatusOptions) (*imap.StatusData, error) {
	data := &imap.StatusData{Mailbox: display}
	st := mailbox.Status{UIDNext: f.UIDNext, UIDValidity: f.UIDValidity}
	if opts.NumMessages || opts.NumUnseen || opts.NumDeleted || opts.Size {
		var err error
		if st, err = mailbox.FolderStatus(s.ctx, s.srv.cfg.St, f.ID, opts.NumDeleted); err != nil {
			return nil, err
		}
	}
	if opts.NumMessages {
		data.NumMessages = &st.Messages
	}
	if opts.UIDNext {
		data.UIDNext = imap.UID(st.UIDNext)
	}
	if opts.UIDValidity {
		data.UIDValidity = st.UIDValidity
	}
	if opts.NumUnseen {
		data.NumUnseen = &st.Unseen
	}
	if opts.NumDeleted {
		data.NumDeleted = &st.Deleted
	}
	if opts.Size {
		data.Size = &st.Size
	}
	if opts.NumRecent {
		// \Recent is not kept (it is gone from IMAP4rev2, RFC 9051 §E).
		var zero uint32
		data.NumRecent = &zero
	}
	if opts.AppendLimit {
		limit := s.srv.cfg.MaxMessageSize
		data.AppendLimit = &limit
	}
	return data, nil
}

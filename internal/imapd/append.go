package imapd

import (
	"io"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
)

// Append stores a message given by the client into a folder, with its
// flags and internal date (RFC 9051 §6.3.12), and returns APPENDUID (RFC
// 4315 §3). It does not send anything: that is SMTP submission's job.
func (s *session) Append(name string, r imap.LiteralReader, opts *imap.AppendOptions) (*imap.AppendData, error) {
	t, f, err := s.destination(name)
	if err != nil {
		return nil, s.fail("append", err)
	}
	max := int64(s.srv.cfg.MaxMessageSize)
	if r.Size() > max {
		return nil, no(imap.ResponseCodeTooBig, "Message too large")
	}
	body, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(body)) > max {
		return nil, no(imap.ResponseCodeTooBig, "Message too large")
	}
	if len(body) == 0 {
		return nil, no(imap.ResponseCodeCannot, "Empty message")
	}
	flags := make([]string, len(opts.Flags))
	for i, fl := range opts.Flags {
		flags[i] = string(fl)
	}
	date := opts.Time
	if date.IsZero() {
		date = time.Now()
	}
	var uid uint32
	err = s.write(func(tx *store.Tx) error {
		var err error
		if uid, err = mailbox.AppendMessage(s.ctx, tx, f.ID, body, flags, date); err != nil {
			return err
		}
		return s.boxAction(tx, t.box, account.JournalAppend, "a déposé un message dans le dossier "+folderLabel(t.name))
	})
	if err != nil {
		return nil, s.fail("append", err)
	}
	return &imap.AppendData{UID: imap.UID(uid), UIDValidity: f.UIDValidity}, nil
}

package imapd

import (
	"errors"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
)

// destination resolves the target folder of COPY, MOVE or APPEND: a missing
// one is NO [TRYCREATE] (RFC 9051 §6.4.7).
func (s *session) destination(name string) (target, mailbox.Folder, error) {
	t, f, err := s.folder(name)
	if errors.Is(err, mailbox.ErrNoFolder) || errors.Is(err, errNonexistent) {
		return target{}, mailbox.Folder{}, errTryCreate
	}
	return t, f, err
}

// Copy copies messages to another folder, or the same one, keeping flags
// and internal dates (RFC 9051 §6.4.7), and returns COPYUID (RFC 4315 §3).
func (s *session) Copy(numSet imap.NumSet, dest string) (*imap.CopyData, error) {
	sel, err := s.selected()
	if err != nil {
		return nil, err
	}
	dt, df, err := s.destination(dest)
	if err != nil {
		return nil, s.fail("copy", err)
	}
	refs := sel.resolve(numSet)
	if len(refs) == 0 {
		return nil, nil
	}
	var from, to []uint32
	err = s.write(func(tx *store.Tx) error {
		var err error
		if from, to, err = mailbox.Copy(s.ctx, tx, sel.f.id, uidsOf(refs), df.ID); err != nil {
			return err
		}
		return s.boxTransfer(tx, sel.t, dt, len(from), false)
	})
	if err != nil {
		return nil, s.fail("copy", err)
	}
	if len(from) == 0 {
		return nil, nil
	}
	return &imap.CopyData{UIDValidity: df.UIDValidity, SourceUIDs: uidSet(from), DestUIDs: uidSet(to)}, nil
}

// Move moves messages to another folder (RFC 6851): COPYUID comes first as
// an untagged OK, then the EXPUNGE responses with the poll that ends the
// command (RFC 6851 §4.3). Moving within the same folder gives the messages
// new UIDs.
func (s *session) Move(w *imapserver.MoveWriter, numSet imap.NumSet, dest string) error {
	sel, err := s.selected()
	if err != nil {
		return err
	}
	if sel.readOnly {
		return errReadOnly
	}
	dt, df, err := s.destination(dest)
	if err != nil {
		return s.fail("move", err)
	}
	refs := sel.resolve(numSet)
	if len(refs) == 0 {
		return nil
	}
	v0 := mailbox.Version(sel.f.id)
	var from, to []uint32
	err = s.write(func(tx *store.Tx) error {
		var err error
		if from, to, err = mailbox.Move(s.ctx, tx, sel.f.id, uidsOf(refs), df.ID); err != nil {
			return err
		}
		return s.boxTransfer(tx, sel.t, dt, len(from), true)
	})
	if err != nil {
		return s.fail("move", err)
	}
	if err := sel.f.localRemove(s.ctx, s.srv.cfg.St, v0, from); err != nil {
		return s.fail("move", err)
	}
	if len(from) == 0 {
		return nil
	}
	return w.WriteCopyData(&imap.CopyData{UIDValidity: df.UIDValidity, SourceUIDs: uidSet(from), DestUIDs: uidSet(to)})
}

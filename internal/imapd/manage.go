package imapd

import (
	"github.com/emersion/go-imap/v2"

	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
)

// Create creates a folder (RFC 9051 §6.3.4), in the person's namespace or in
// a box they are a member of.
func (s *session) Create(name string, opts *imap.CreateOptions) error {
	if opts != nil && len(opts.SpecialUse) > 0 {
		// CREATE-SPECIAL-USE (RFC 6154 §3) is not offered.
		return no(imap.ResponseCode("USEATTR"), "Special-use attributes cannot be set")
	}
	t, err := s.resolve(name)
	if err != nil {
		return s.fail("create", err)
	}
	err = s.write(func(tx *store.Tx) error {
		_, err := mailbox.CreateFolder(s.ctx, tx, t.owner, t.name)
		return err
	})
	return s.fail("create", err)
}

// Delete deletes a folder and its messages (RFC 9051 §6.3.5). INBOX, Sent,
// Drafts and Trash cannot be deleted.
func (s *session) Delete(name string) error {
	t, f, err := s.folder(name)
	if err != nil {
		return s.fail("delete", err)
	}
	err = s.write(func(tx *store.Tx) error {
		return mailbox.DeleteFolder(s.ctx, tx, t.owner, f.Name)
	})
	return s.fail("delete", err)
}

// Rename renames a folder and its subfolders (RFC 9051 §6.3.6), within one
// namespace: a folder cannot move between a person and a box.
func (s *session) Rename(from, to string, _ *imap.RenameOptions) error {
	src, f, err := s.folder(from)
	if err != nil {
		return s.fail("rename", err)
	}
	dst, err := s.resolve(to)
	if err != nil {
		return s.fail("rename", err)
	}
	if dst.owner != src.owner {
		return no(imap.ResponseCodeCannot, "Folders cannot move between a person and a shared box")
	}
	err = s.write(func(tx *store.Tx) error {
		return mailbox.RenameFolder(s.ctx, tx, src.owner, f.Name, dst.name)
	})
	return s.fail("rename", err)
}

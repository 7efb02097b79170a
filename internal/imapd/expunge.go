package imapd

import (
	"fmt"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
)

// Expunge removes the \Deleted messages of the selected folder (EXPUNGE,
// RFC 9051 §6.4.3; CLOSE, §6.4.1), or only those among uids (UID EXPUNGE,
// RFC 4315 §2.1). Messages no folder references any more are deleted. The
// untagged EXPUNGE responses are sent by the poll that ends the command
// (none after CLOSE, whose poll finds no folder selected). A folder opened
// with EXAMINE, or a box the person was just removed from, is left alone
// without failing, so that CLOSE still closes it.
func (s *session) Expunge(_ *imapserver.ExpungeWriter, uids *imap.UIDSet) error {
	sel, err := s.selected()
	if err == errRevoked {
		return nil
	}
	if err != nil {
		return err
	}
	if sel.readOnly {
		return nil
	}
	var only []uint32
	if uids != nil {
		refs := sel.resolve(*uids)
		if len(refs) == 0 {
			return nil
		}
		only = uidsOf(refs)
	}
	v0 := mailbox.Version(sel.f.id)
	var removed []uint32
	err = s.write(func(tx *store.Tx) error {
		var err error
		if removed, err = mailbox.Expunge(s.ctx, tx, sel.f.id, only); err != nil || len(removed) == 0 {
			return err
		}
		return s.boxAction(tx, sel.t.box, account.JournalDelete, fmt.Sprintf("a supprimé %d message(s) du dossier %s", len(removed), folderLabel(sel.t.name)))
	})
	if err != nil {
		return s.fail("expunge", err)
	}
	return s.fail("expunge", sel.f.localRemove(s.ctx, s.srv.cfg.St, v0, removed))
}

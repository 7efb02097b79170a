package imapd

import (
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"

	"github.com/hygie-sante/hygie/internal/mailbox"
)

// Store answers STORE and UID STORE (RFC 9051 §6.4.6): FLAGS, +FLAGS and
// -FLAGS, with .SILENT. \Seen is kept in entries.seen as well. Other
// sessions on the folder get FETCH FLAGS at their next command or at once
// when idling.
func (s *session) Store(w *imapserver.FetchWriter, numSet imap.NumSet, flags *imap.StoreFlags, _ *imap.StoreOptions) error {
	sel, err := s.selected()
	if err != nil {
		return err
	}
	if sel.readOnly {
		return errReadOnly
	}
	list := make([]string, len(flags.Flags))
	for i, f := range flags.Flags {
		list[i] = string(f)
	}
	if err := mailbox.CheckFlags(list); err != nil {
		return s.fail("store", err)
	}
	var op mailbox.FlagOp
	switch flags.Op {
	case imap.StoreFlagsSet:
		op = mailbox.FlagsSet
	case imap.StoreFlagsAdd:
		op = mailbox.FlagsAdd
	case imap.StoreFlagsDel:
		op = mailbox.FlagsRemove
	}
	refs := sel.resolve(numSet)
	if len(refs) == 0 {
		return nil
	}
	upd, viaPoll, err := s.storeFlags(sel, uidsOf(refs), op, list)
	if err != nil {
		return s.fail("store", err)
	}
	if flags.Silent {
		return nil
	}
	// UID STORE responses carry the UID (RFC 9051 §6.4.9).
	_, withUID := numSet.(imap.UIDSet)
	byUID := make(map[imap.UID]mailbox.FlagUpdate, len(upd))
	for _, u := range upd {
		byUID[imap.UID(u.UID)] = u
	}
	for _, r := range refs {
		u, ok := byUID[r.uid]
		if !ok || (viaPoll && u.Changed) {
			continue
		}
		rw := w.CreateMessage(r.seq)
		if withUID {
			rw.WriteUID(r.uid)
		}
		rw.WriteFlags(toFlags(u.Flags))
		if err := rw.Close(); err != nil {
			return err
		}
	}
	return nil
}

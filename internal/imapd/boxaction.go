package imapd

import (
	"fmt"
	"strings"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
)

// The traceability of box folders (SPEC §4: the journal of a box records
// which member did what): the changes members make over IMAP in a folder
// under "Partagé/<box>/…" are reported to Config.BoxAction inside the
// transaction of the change, so that the change and its trace commit
// together.

// folderLabels are the French names of the standard folders, as the web
// shows them.
var folderLabels = map[string]string{
	mailbox.Inbox:  "Boîte de réception",
	mailbox.Sent:   "Messages envoyés",
	mailbox.Drafts: "Brouillons",
	mailbox.Trash:  "Corbeille",
}

// folderLabel is the French name of folder name.
func folderLabel(name string) string {
	if l, ok := folderLabels[name]; ok {
		return l
	}
	return name
}

// where names folder t for the journal of box: « dossier X » in that box,
// otherwise the other box's folder or, without naming it, a personal one.
func where(t target, box *account.Account) string {
	switch {
	case t.box == nil:
		return "un dossier personnel"
	case box != nil && t.box.ID == box.ID:
		return "le dossier " + folderLabel(t.name)
	default:
		return fmt.Sprintf("le dossier %s de la boîte %s", folderLabel(t.name), t.box.Login)
	}
}

// boxAction reports that the logged-in person did action on a folder of
// box (nothing when box is nil: a personal folder, or no hook).
func (s *session) boxAction(tx *store.Tx, box *account.Account, action, detail string) error {
	if s.srv.cfg.BoxAction == nil || box == nil || s.user == nil {
		return nil
	}
	if err := s.srv.cfg.BoxAction(s.ctx, tx, box, s.user, action, detail); err != nil {
		return fmt.Errorf("box %s journal: %w", box.Login, err)
	}
	return nil
}

// boxDeleted reports the messages that STORE marked \Deleted in a box
// folder: those changed by an operation that sets or adds \Deleted.
func (s *session) boxDeleted(tx *store.Tx, t target, op mailbox.FlagOp, flags []string, upd []mailbox.FlagUpdate) error {
	if t.box == nil || op == mailbox.FlagsRemove {
		return nil
	}
	deleting := false
	for _, f := range flags {
		deleting = deleting || strings.EqualFold(f, `\Deleted`)
	}
	n := 0
	for _, u := range upd {
		if u.Changed && strings.Contains(u.Flags, `\Deleted`) {
			n++
		}
	}
	if !deleting || n == 0 {
		return nil
	}
	return s.boxAction(tx, t.box, account.JournalFlags, fmt.Sprintf("a marqué %d message(s) pour suppression dans %s", n, where(t, t.box)))
}

// boxTransfer reports n messages moved or copied from src to dst: to the
// journal of src's box and, when another, of dst's box.
func (s *session) boxTransfer(tx *store.Tx, src, dst target, n int, move bool) error {
	if n == 0 {
		return nil
	}
	action, verb := account.JournalCopy, "a copié"
	if move {
		action, verb = account.JournalMove, "a déplacé"
	}
	if src.box != nil {
		if err := s.boxAction(tx, src.box, action, fmt.Sprintf("%s %d message(s) depuis %s vers %s", verb, n, where(src, src.box), where(dst, src.box))); err != nil {
			return err
		}
	}
	if dst.box != nil && (src.box == nil || src.box.ID != dst.box.ID) {
		return s.boxAction(tx, dst.box, action, fmt.Sprintf("%s %d message(s) depuis %s vers %s", verb, n, where(src, dst.box), where(dst, dst.box)))
	}
	return nil
}

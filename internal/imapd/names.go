package imapd

import (
	"strings"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mailbox"
)

// SharedPrefix is the root of the shared namespace (RFC 2342 §5): the box
// cardio@clinique.example is seen by its members as
// "Partagé/cardio@clinique.example", with its folders below
// ("Partagé/cardio@clinique.example/INBOX", ".../Sent", ...). The name is
// reserved: nobody can create a personal folder under it.
const SharedPrefix = "Partagé"

// delim is the hierarchy delimiter (RFC 9051 §5.1); mailbox.Delim as a rune.
const delim = '/'

// target is what an IMAP folder name designates.
type target struct {
	// owner is the account whose folders these are: the person or a box.
	owner int64
	// box is the box of a shared name, nil for the person's own folders.
	box *account.Account
	// name is the folder name within owner ("INBOX", "Projets/2026"...).
	name string
}

// display returns the IMAP name of a folder of t's owner.
func (t target) display(name string) string {
	if t.box == nil {
		return name
	}
	return boxRoot(t.box) + string(delim) + name
}

// boxRoot is the IMAP name under which a box's folders appear.
func boxRoot(box *account.Account) string {
	return SharedPrefix + string(delim) + box.Login
}

// isShared reports whether an IMAP name is in the shared namespace.
func isShared(name string) bool {
	first, _, _ := strings.Cut(name, string(delim))
	return strings.EqualFold(first, SharedPrefix)
}

// resolve maps an IMAP name to the folder it designates. A shared name
// resolves only if the person is, right now, a member of the box: others get
// NONEXISTENT, as if the box did not exist. The levels "Partagé" and
// "Partagé/<box>" are not folders and do not resolve either.
func (s *session) resolve(name string) (target, error) {
	if !isShared(name) {
		n, err := mailbox.NormalizeName(name)
		if err != nil {
			return target{}, err
		}
		return target{owner: s.user.ID, name: n}, nil
	}
	_, rest, _ := strings.Cut(name, string(delim))
	login, folder, ok := strings.Cut(rest, string(delim))
	if !ok || folder == "" {
		return target{}, errNonexistent
	}
	boxes, err := s.srv.cfg.Accounts.Boxes(s.ctx, s.user.ID)
	if err != nil {
		return target{}, err
	}
	for _, b := range boxes {
		if strings.EqualFold(b.Login, login) {
			n, err := mailbox.NormalizeName(folder)
			if err != nil {
				return target{}, err
			}
			return target{owner: b.ID, box: b, name: n}, nil
		}
	}
	return target{}, errNonexistent
}

// folder resolves an IMAP name to an existing folder.
func (s *session) folder(name string) (target, mailbox.Folder, error) {
	t, err := s.resolve(name)
	if err != nil {
		return target{}, mailbox.Folder{}, err
	}
	f, err := mailbox.FolderByName(s.ctx, s.srv.cfg.St, t.owner, t.name)
	if err != nil {
		return target{}, mailbox.Folder{}, err
	}
	return t, f, nil
}

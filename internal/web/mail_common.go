package web

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/mailview"
)

// The webmail (issue 3, SPEC §4 « Messagerie »). Every page acts on the
// account or box named by {acct} (s.acting), and every folder, message and
// attachment is looked up with that account's id, so that naming another
// account's object answers 404.
func init() {
	register("GET /a/{acct}/mail/{$}", func(s *Server) sessionHandler { return s.mailList })
	register("GET /a/{acct}/mail/recherche", func(s *Server) sessionHandler { return s.mailSearch })
	register("GET /a/{acct}/mail/lire/{folder}/{uid}", func(s *Server) sessionHandler { return s.mailRead })
	register("GET /a/{acct}/mail/html/{folder}/{uid}", func(s *Server) sessionHandler { return s.mailHTML })
	register("GET /a/{acct}/mail/piece/{folder}/{uid}/{part}", func(s *Server) sessionHandler { return s.mailAttachment })
	register("POST /a/{acct}/mail/supprimer", func(s *Server) sessionHandler { return s.mailDelete })
	register("GET /a/{acct}/mail/nouveau", func(s *Server) sessionHandler { return s.mailCompose })
	register("GET /a/{acct}/mail/annuaire", func(s *Server) sessionHandler { return s.mailDirectory })

	funcs["mailDate"] = mailDate
	funcs["mailDateLong"] = mailDateLong
	funcs["mailSize"] = mailSize
	funcs["mailAddrs"] = mailAddrs
}

// mailPageSize is the number of messages per page of a folder.
const mailPageSize = 50

// paris is the time zone dates are shown in.
var paris = func() *time.Location {
	if l, err := time.LoadLocation("Europe/Paris"); err == nil {
		return l
	}
	return time.Local
}()

// folderLabels are the French names of the standard folders.
var folderLabels = map[string]string{
	mailbox.Inbox:  "Boîte de réception",
	mailbox.Sent:   "Messages envoyés",
	mailbox.Drafts: "Brouillons",
	mailbox.Trash:  "Corbeille",
}

// mailFolder is a folder in the folder list.
type mailFolder struct {
	mailbox.Folder
	Label  string
	Unread int
	Total  int
	// IsSent tells the folders whose list shows recipients rather than
	// senders (Sent, Drafts); IsDrafts the folder whose messages open in
	// the editor; IsTrash the folder from which deletion is permanent.
	IsSent, IsDrafts, IsTrash bool
}

// mailNav is the folder list shown beside every webmail page.
type mailNav struct {
	Folders []mailFolder
	// Current is the folder shown (0 on other pages).
	Current int64
	Query   string
	In      string
}

// mailFolders lists the folders of an account with their unread counts:
// the standard folders first, then the others by name.
func (s *Server) mailFolders(ctx context.Context, accountID int64) ([]mailFolder, error) {
	fs, err := mailbox.Folders(ctx, s.cfg.St, accountID)
	if err != nil {
		return nil, err
	}
	counts, err := mailview.FolderCounts(ctx, s.cfg.St, accountID)
	if err != nil {
		return nil, err
	}
	rank := func(name string) int {
		for i, d := range mailbox.Defaults {
			if d.Name == name {
				return i
			}
		}
		return len(mailbox.Defaults)
	}
	out := make([]mailFolder, 0, len(fs))
	for _, f := range fs {
		label := folderLabels[f.Name]
		if label == "" {
			label = f.Name
		}
		out = append(out, mailFolder{Folder: f, Label: label, Unread: counts[f.ID].Unread, Total: counts[f.ID].Total,
			IsSent: f.Name == mailbox.Sent || f.Name == mailbox.Drafts, IsDrafts: f.Name == mailbox.Drafts, IsTrash: f.Name == mailbox.Trash})
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := rank(out[i].Name), rank(out[j].Name)
		if ri != rj {
			return ri < rj
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}

// mailEntry is a message of the acting account, found by folder and UID.
type mailEntry struct {
	Folder    mailbox.Folder
	UID       uint32
	MessageID int64
	Flags     string
}

// Ref names the message in URLs and forms: "folder/uid".
func (e *mailEntry) Ref() string { return fmt.Sprintf("%d/%d", e.Folder.ID, e.UID) }

var errNoEntry = errors.New("no such message")

// lookupEntry finds message uid of folder folderID, the folder belonging
// to account accountID; errNoEntry otherwise.
func (s *Server) lookupEntry(ctx context.Context, accountID, folderID int64, uid uint32) (*mailEntry, error) {
	f, err := s.ownFolder(ctx, accountID, folderID)
	if err != nil {
		return nil, err
	}
	e := &mailEntry{Folder: f, UID: uid}
	err = s.cfg.St.QueryRow(ctx, `SELECT message_id, flags FROM entries WHERE mailbox_id = ? AND uid = ?`, f.ID, int64(uid)).
		Scan(&e.MessageID, &e.Flags)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errNoEntry
	}
	if err != nil {
		return nil, fmt.Errorf("message %d/%d: %w", folderID, uid, err)
	}
	return e, nil
}

// ownFolder returns folder folderID when it belongs to account accountID;
// errNoEntry otherwise.
func (s *Server) ownFolder(ctx context.Context, accountID, folderID int64) (mailbox.Folder, error) {
	f, err := mailbox.FolderByID(ctx, s.cfg.St, folderID)
	if errors.Is(err, mailbox.ErrNoFolder) || (err == nil && f.AccountID != accountID) {
		return mailbox.Folder{}, errNoEntry
	}
	return f, err
}

// lookupRef finds a message named "folder/uid" for account accountID.
func (s *Server) lookupRef(ctx context.Context, accountID int64, ref string) (*mailEntry, error) {
	fs, us, ok := strings.Cut(ref, "/")
	if !ok {
		return nil, errNoEntry
	}
	folder, err1 := strconv.ParseInt(fs, 10, 64)
	uid, err2 := strconv.ParseUint(us, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, errNoEntry
	}
	return s.lookupEntry(ctx, accountID, folder, uint32(uid))
}

// entryFromPath finds the message named by the {folder} and {uid} path
// values for the acting account, answering 404 when there is none.
func (s *Server) entryFromPath(w http.ResponseWriter, r *http.Request, a *account.Account) (*mailEntry, bool) {
	e, err := s.lookupRef(r.Context(), a.ID, r.PathValue("folder")+"/"+r.PathValue("uid"))
	if errors.Is(err, errNoEntry) {
		http.NotFound(w, r)
		return nil, false
	}
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return e, true
}

// loadMessage reads and parses a stored message.
func (s *Server) loadMessage(ctx context.Context, e *mailEntry) (*mailview.Message, error) {
	body, err := mailbox.Body(ctx, s.cfg.St, e.MessageID)
	if err != nil {
		return nil, err
	}
	return mailview.Parse(body)
}

// fromAddress is the address the acting account writes from: its MSSanté
// address (a box's, when acting as a box), else its platform address.
func fromAddress(a *account.Account) string {
	if a.MSS != "" {
		return a.MSS
	}
	return a.Login
}

func (s *Server) maxMessageSize() int64 {
	if s.cfg.MaxMessageSize > 0 {
		return s.cfg.MaxMessageSize
	}
	return 20 << 20
}

// mailDate shows a list date: the time today, the date otherwise.
func mailDate(t time.Time) string {
	t = t.In(paris)
	now := time.Now().In(paris)
	if t.Year() == now.Year() && t.YearDay() == now.YearDay() {
		return t.Format("15:04")
	}
	return t.Format("02/01/2006")
}

var frenchDays = []string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"}
var frenchMonths = []string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
	"octobre", "novembre", "décembre"}

// mailDateLong shows the date of a message being read.
func mailDateLong(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	t = t.In(paris)
	return fmt.Sprintf("%s %d %s %d à %s", frenchDays[t.Weekday()], t.Day(), frenchMonths[t.Month()-1], t.Year(), t.Format("15:04"))
}

// mailSize shows a size in French units (Ko and Mo of 1024).
func mailSize(n int) string {
	switch {
	case n < 1024:
		return fmt.Sprintf("%d octets", n)
	case n < 1024*1024:
		return fmt.Sprintf("%d Ko", (n+1023)/1024)
	case n%(1024*1024) == 0:
		return fmt.Sprintf("%d Mo", n/(1024*1024))
	default:
		return strings.Replace(fmt.Sprintf("%.1f Mo", float64(n)/(1024*1024)), ".", ",", 1)
	}
}

// mailAddrs shows an address list: « Nom <adresse> », comma separated.
func mailAddrs(list []*mail.Address) string {
	out := make([]string, 0, len(list))
	for _, a := range list {
		out = append(out, formatAddr(a))
	}
	return strings.Join(out, ", ")
}

func formatAddr(a *mail.Address) string {
	if a.Name == "" {
		return a.Address
	}
	return a.Name + " <" + a.Address + ">"
}

func atoiDefault(s string, def int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return n
}

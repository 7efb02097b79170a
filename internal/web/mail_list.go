package web

import (
	"html"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/mailview"
	"github.com/hygie-sante/hygie/internal/store"
)

// mailListData is a folder's page of messages, or search results.
type mailListData struct {
	Nav    mailNav
	Folder mailFolder
	Rows   []mailRow
	// RowsHTML is Rows as table rows (see rowsHTML).
	RowsHTML template.HTML
	// Paging: Page of Pages, Total messages in the folder.
	Page, Pages, Total int
	Prev, Next         int
	// Search is set on the results page.
	Search bool
	Limit  int
}

// mailRow is a message of a list, ready to show (the list is the hot page:
// its template only prints fields).
type mailRow struct {
	UID                      uint32
	Href, Who, Subject, Date string
	Folder                   string
	Unread, Clip, Answered   bool
}

// mailRows prepares rows for the list of folder f (zero on search results,
// whose rows name their folders).
func mailRows(acct int64, f mailFolder, rows []mailview.Row, labels map[int64]string) []mailRow {
	out := make([]mailRow, len(rows))
	prefix := "/a/" + itoa(acct) + "/mail/"
	for i, r := range rows {
		ref := itoa(r.FolderID) + "/" + strconv.FormatUint(uint64(r.UID), 10)
		v := mailRow{UID: r.UID, Subject: r.Subject, Date: mailDate(r.Date), Unread: !r.Seen, Clip: r.Attachments,
			Answered: r.Answered(), Href: prefix + "lire/" + ref, Who: r.From(), Folder: labels[r.FolderID]}
		if v.Subject == "" {
			v.Subject = "(sans objet)"
		}
		if f.IsSent {
			v.Who = r.Recipients
		}
		if f.IsDrafts {
			v.Href = prefix + "nouveau?brouillon=" + ref
		}
		out[i] = v
	}
	return out
}

// rowsHTML writes the rows of a list as HTML table rows. The list is the
// page people see most: writing its 50 rows here, every value escaped with
// html.EscapeString (text and double-quoted attributes), costs a tenth of
// the template's per-field escaping.
func (d *mailListData) rowsHTML() template.HTML {
	var b strings.Builder
	b.Grow(len(d.Rows) * 400)
	for _, r := range d.Rows {
		b.WriteString(`<tr class="msg`)
		if r.Unread {
			b.WriteString(` unread`)
		}
		b.WriteString(`">`)
		if !d.Search {
			b.WriteString(`<td class="sel"><input type="checkbox" name="uid" value="`)
			b.WriteString(strconv.FormatUint(uint64(r.UID), 10))
			b.WriteString(`" aria-label="Sélectionner"></td>`)
		}
		b.WriteString(`<td class="from">`)
		b.WriteString(html.EscapeString(r.Who))
		b.WriteString(`</td><td class="subject"><a href="`)
		b.WriteString(html.EscapeString(r.Href))
		b.WriteString(`">`)
		b.WriteString(html.EscapeString(r.Subject))
		b.WriteString(`</a>`)
		if r.Clip {
			b.WriteString(` <span class="clip" title="Pièce jointe">📎</span>`)
		}
		if r.Answered {
			b.WriteString(` <span class="hint" title="Répondu">↩</span>`)
		}
		b.WriteString(`</td>`)
		if d.Search {
			b.WriteString(`<td class="folder">`)
			b.WriteString(html.EscapeString(r.Folder))
			b.WriteString(`</td>`)
		}
		b.WriteString(`<td class="date">`)
		b.WriteString(html.EscapeString(r.Date))
		b.WriteString("</td></tr>\n")
	}
	return template.HTML(b.String())
}

// mailList shows a folder (INBOX by default), newest first, a page at a
// time.
func (s *Server) mailList(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	ctx := r.Context()
	folders, err := s.mailFolders(ctx, a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var cur *mailFolder
	if d := r.URL.Query().Get("dossier"); d != "" {
		id, _ := strconv.ParseInt(d, 10, 64)
		for i := range folders {
			if folders[i].ID == id {
				cur = &folders[i]
			}
		}
	} else {
		for i := range folders {
			if folders[i].Name == mailbox.Inbox {
				cur = &folders[i]
			}
		}
	}
	if cur == nil {
		http.NotFound(w, r)
		return
	}
	total := cur.Total
	pages := max(1, (total+mailPageSize-1)/mailPageSize)
	page := min(max(1, atoiDefault(r.URL.Query().Get("page"), 1)), pages)
	rows, err := mailview.FolderPage(ctx, s.cfg.St, cur.ID, (page-1)*mailPageSize, mailPageSize)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := &mailListData{Nav: mailNav{Folders: folders, Current: cur.ID}, Folder: *cur, Rows: mailRows(a.ID, *cur, rows, nil),
		Page: page, Pages: pages, Total: total}
	d.RowsHTML = d.rowsHTML()
	if page > 1 {
		d.Prev = page - 1
	}
	if page < pages {
		d.Next = page + 1
	}
	s.render(w, r, sess, "mail_list", http.StatusOK, &view{Title: cur.Label, Acting: a, Data: d})
}

// mailSearchLimit bounds the results of a search.
const mailSearchLimit = 200

// mailSearch finds messages of the acting account's folders by sender,
// subject or text (« Rechercher »).
func (s *Server) mailSearch(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	ctx := r.Context()
	folders, err := s.mailFolders(ctx, a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q, in := r.URL.Query().Get("q"), r.URL.Query().Get("dans")
	if !slices.Contains([]string{mailview.InAll, mailview.InFrom, mailview.InSubject, mailview.InText}, in) {
		in = mailview.InAll
	}
	rows, err := mailview.Search(ctx, s.cfg.St, a.ID, q, in, mailSearchLimit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	labels := map[int64]string{}
	for _, f := range folders {
		labels[f.ID] = f.Label
	}
	d := &mailListData{Nav: mailNav{Folders: folders, Query: q, In: in}, Rows: mailRows(a.ID, mailFolder{}, rows, labels), Search: true,
		Limit: mailSearchLimit, Folder: mailFolder{Label: "Rechercher"}}
	d.RowsHTML = d.rowsHTML()
	s.render(w, r, sess, "mail_list", http.StatusOK, &view{Title: "Rechercher", Acting: a, Data: d})
}

// mailDelete moves the selected messages of a folder to the Trash
// (« Supprimer »); from the Trash, it deletes them for good.
func (s *Server) mailDelete(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	ctx := r.Context()
	folderID, _ := strconv.ParseInt(r.FormValue("dossier"), 10, 64)
	f, err := s.ownFolder(ctx, a.ID, folderID)
	if err == errNoEntry {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	back := "/a/" + itoa(a.ID) + "/mail/?dossier=" + itoa(f.ID)
	var uids []uint32
	for _, v := range r.Form["uid"] {
		if n, err := strconv.ParseUint(v, 10, 32); err == nil {
			uids = append(uids, uint32(n))
		}
	}
	if len(uids) == 0 {
		redirectFlash(w, r, back, "Aucun message sélectionné.")
		return
	}
	slices.Sort(uids)
	uids = slices.Compact(uids)
	trash, err := mailbox.FolderByName(ctx, s.cfg.St, a.ID, mailbox.Trash)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var done []uint32
	err = s.cfg.St.Tx(ctx, func(tx *store.Tx) error {
		var err error
		if f.ID == trash.ID {
			done, err = mailbox.Remove(ctx, tx, f.ID, uids)
		} else {
			done, _, err = mailbox.Move(ctx, tx, f.ID, uids, trash.ID)
		}
		if err == nil {
			err = boxTrashedTx(ctx, tx, a, sess.User, f.Name, len(done), f.ID == trash.ID)
		}
		return err
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(done) == 0 {
		http.NotFound(w, r)
		return
	}
	s.log.Info("webmail: messages deleted", "account", a.Login, "user", sess.User.Login, "folder", f.Name, "count", len(done),
		"permanently", f.ID == trash.ID)
	msg := "Message déplacé dans la corbeille."
	switch {
	case f.ID == trash.ID && len(done) > 1:
		msg = strconv.Itoa(len(done)) + " messages supprimés définitivement."
	case f.ID == trash.ID:
		msg = "Message supprimé définitivement."
	case len(done) > 1:
		msg = strconv.Itoa(len(done)) + " messages déplacés dans la corbeille."
	}
	redirectFlash(w, r, back, msg)
}

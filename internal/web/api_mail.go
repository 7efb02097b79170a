package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"

	hmail "github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/mailview"
	"github.com/hygie-sante/hygie/internal/store"
)

// The device API's mail endpoints: folders, messages (paged), reading a
// message (an opening), sending (the routing rules of submission), marking
// read or unread, moving to the Trash. Every folder and message is looked
// up with the reached account's id, so another account's ids answer 404.

func init() {
	registerAPI("GET /api/v1/accounts/{acct}/folders", func(s *Server) apiHandler { return s.apiFolders })
	registerAPI("GET /api/v1/accounts/{acct}/messages", func(s *Server) apiHandler { return s.apiMessages })
	registerAPI("GET /api/v1/accounts/{acct}/messages/{folder}/{uid}", func(s *Server) apiHandler { return s.apiMessage })
	registerAPI("POST /api/v1/accounts/{acct}/messages/{folder}/{uid}/read", func(s *Server) apiHandler { return s.apiMarkRead })
	registerAPI("POST /api/v1/accounts/{acct}/messages/{folder}/{uid}/unread", func(s *Server) apiHandler { return s.apiMarkUnread })
	registerAPI("POST /api/v1/accounts/{acct}/messages/{folder}/{uid}/trash", func(s *Server) apiHandler { return s.apiTrash })
	registerAPI("POST /api/v1/accounts/{acct}/send", func(s *Server) apiHandler { return s.apiSend })
}

// API paging: per_page defaults to 50, at most 200.
const (
	apiPerPage    = 50
	apiMaxPerPage = 200
)

// apiFolderView is a folder as the API shows it.
type apiFolderView struct {
	ID     int64  `json:"id"`
	Name   string `json:"name"`
	Label  string `json:"label"`
	Total  int    `json:"total"`
	Unread int    `json:"unread"`
}

func (s *Server) apiFolders(w http.ResponseWriter, r *http.Request, c *apiCall) {
	a, ok := s.apiAccount(w, r, c)
	if !ok {
		return
	}
	fs, err := s.mailFolders(r.Context(), a.ID)
	if err != nil {
		s.apiInternal(w, r, err)
		return
	}
	out := make([]apiFolderView, 0, len(fs))
	for _, f := range fs {
		out = append(out, apiFolderView{ID: f.ID, Name: f.Name, Label: f.Label, Total: f.Total, Unread: f.Unread})
	}
	apiJSON(w, http.StatusOK, map[string]any{"folders": out})
}

// apiSummary is a message in a list.
type apiSummary struct {
	// ID names the message: "folder/uid", as in its URL.
	ID          string    `json:"id"`
	FolderID    int64     `json:"folder_id"`
	UID         uint32    `json:"uid"`
	From        string    `json:"from"`
	FromName    string    `json:"from_name,omitempty"`
	Recipients  string    `json:"recipients,omitempty"`
	Subject     string    `json:"subject"`
	Date        time.Time `json:"date"`
	Seen        bool      `json:"seen"`
	Answered    bool      `json:"answered"`
	Attachments bool      `json:"attachments"`
}

// apiMessages lists a folder (query folder=NAME, default INBOX, or
// folder_id=ID), newest first, a page at a time (page from 1, per_page).
func (s *Server) apiMessages(w http.ResponseWriter, r *http.Request, c *apiCall) {
	a, ok := s.apiAccount(w, r, c)
	if !ok {
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	fs, err := s.mailFolders(ctx, a.ID)
	if err != nil {
		s.apiInternal(w, r, err)
		return
	}
	var cur *mailFolder
	name := q.Get("folder")
	if name == "" && q.Get("folder_id") == "" {
		name = mailbox.Inbox
	}
	id, _ := strconv.ParseInt(q.Get("folder_id"), 10, 64)
	for i := range fs {
		// INBOX is case-insensitive (RFC 9051 §5.1), other names are not.
		byName := name != "" && (fs[i].Name == name || (fs[i].Name == mailbox.Inbox && strings.EqualFold(name, mailbox.Inbox)))
		if byName || (name == "" && fs[i].ID == id) {
			cur = &fs[i]
			break
		}
	}
	if cur == nil {
		apiFail(w, http.StatusNotFound, "Dossier introuvable.")
		return
	}
	per := atoiDefault(q.Get("per_page"), apiPerPage)
	if per < 1 || per > apiMaxPerPage {
		apiFail(w, http.StatusBadRequest, fmt.Sprintf("per_page doit être compris entre 1 et %d.", apiMaxPerPage))
		return
	}
	page := atoiDefault(q.Get("page"), 1)
	if page < 1 {
		apiFail(w, http.StatusBadRequest, "page doit être supérieur ou égal à 1.")
		return
	}
	pages := max(1, (cur.Total+per-1)/per)
	rows, err := mailview.FolderPage(ctx, s.cfg.St, cur.ID, (page-1)*per, per)
	if err != nil {
		s.apiInternal(w, r, err)
		return
	}
	out := make([]apiSummary, 0, len(rows))
	for _, row := range rows {
		v := apiSummary{ID: itoa(row.FolderID) + "/" + strconv.FormatUint(uint64(row.UID), 10), FolderID: row.FolderID, UID: row.UID,
			From: row.FromAddr, FromName: row.FromName, Subject: row.Subject, Date: row.Date, Seen: row.Seen,
			Answered: row.Answered(), Attachments: row.Attachments}
		if cur.IsSent {
			v.Recipients = row.Recipients
		}
		out = append(out, v)
	}
	apiJSON(w, http.StatusOK, map[string]any{
		"folder": apiFolderView{ID: cur.ID, Name: cur.Name, Label: cur.Label, Total: cur.Total, Unread: cur.Unread},
		"page":   page, "per_page": per, "pages": pages, "total": cur.Total, "messages": out,
	})
}

// apiAddress is an address of a message.
type apiAddress struct {
	Name    string `json:"name,omitempty"`
	Address string `json:"address"`
}

func apiAddrs(list []*mail.Address) []apiAddress {
	out := make([]apiAddress, 0, len(list))
	for _, a := range list {
		out = append(out, apiAddress{Name: a.Name, Address: a.Address})
	}
	return out
}

// apiPart is an attachment of a message (its content is not sent).
type apiPart struct {
	Part        string `json:"part"`
	Filename    string `json:"filename"`
	ContentType string `json:"content_type"`
	Size        int    `json:"size"`
}

// apiMessageView is a message being read.
type apiMessageView struct {
	ID          string       `json:"id"`
	FolderID    int64        `json:"folder_id"`
	Folder      string       `json:"folder"`
	UID         uint32       `json:"uid"`
	MessageID   string       `json:"message_id,omitempty"`
	From        []apiAddress `json:"from"`
	To          []apiAddress `json:"to"`
	Cc          []apiAddress `json:"cc"`
	Subject     string       `json:"subject"`
	Date        time.Time    `json:"date"`
	Seen        bool         `json:"seen"`
	Text        string       `json:"text"`
	HTML        string       `json:"html,omitempty"`
	Attachments []apiPart    `json:"attachments"`
}

// apiEntry finds the message of the {folder} and {uid} path values for
// account accountID, answering 404 when there is none.
func (s *Server) apiEntry(w http.ResponseWriter, r *http.Request, accountID int64) (*mailEntry, bool) {
	e, err := s.lookupRef(r.Context(), accountID, r.PathValue("folder")+"/"+r.PathValue("uid"))
	if errors.Is(err, errNoEntry) {
		apiFail(w, http.StatusNotFound, "Message introuvable.")
		return nil, false
	}
	if err != nil {
		s.apiInternal(w, r, err)
		return nil, false
	}
	return e, true
}

// apiMessage reads a message: it is marked \Seen and, as in the webmail,
// counts as an opening by the recipient (Pipeline.Opened).
func (s *Server) apiMessage(w http.ResponseWriter, r *http.Request, c *apiCall) {
	a, ok := s.apiAccount(w, r, c)
	if !ok {
		return
	}
	e, ok := s.apiEntry(w, r, a.ID)
	if !ok {
		return
	}
	ctx := r.Context()
	m, err := s.loadMessage(ctx, e)
	if err != nil {
		s.apiInternal(w, r, err)
		return
	}
	if err := s.open(ctx, a, e); err != nil {
		s.apiInternal(w, r, err)
		return
	}
	v := apiMessageView{ID: e.Ref(), FolderID: e.Folder.ID, Folder: e.Folder.Name, UID: e.UID, MessageID: m.MessageID,
		From: apiAddrs(m.From), To: apiAddrs(m.To), Cc: apiAddrs(m.Cc), Subject: m.Subject, Date: m.Date, Seen: true,
		Text: m.BodyText(), Attachments: []apiPart{}}
	if m.HasHTML {
		v.HTML = mailview.SanitizeHTML(m.HTML, mailview.Options{Inline: m.Inline})
	}
	if len(v.From) == 0 && m.FromRaw != "" {
		v.From = []apiAddress{{Address: m.FromRaw}}
	}
	for _, p := range m.Attachments {
		v.Attachments = append(v.Attachments, apiPart{Part: p.Path, Filename: p.Filename, ContentType: p.ContentType, Size: p.Size()})
	}
	s.log.Info("api: message read", "account", a.Login, "user", c.User.Login, "device", c.Device.ID, "message", e.MessageID)
	s.boxRead(ctx, a, c.User, m.Subject, e.Folder.Name)
	apiJSON(w, http.StatusOK, v)
}

func (s *Server) apiMarkRead(w http.ResponseWriter, r *http.Request, c *apiCall) {
	s.apiSetSeen(w, r, c, mailbox.FlagsAdd)
}

func (s *Server) apiMarkUnread(w http.ResponseWriter, r *http.Request, c *apiCall) {
	s.apiSetSeen(w, r, c, mailbox.FlagsRemove)
}

// apiSetSeen marks a message read or unread (the \Seen flag, RFC 9051
// §2.3.2), without counting as an opening.
func (s *Server) apiSetSeen(w http.ResponseWriter, r *http.Request, c *apiCall, op mailbox.FlagOp) {
	a, ok := s.apiAccount(w, r, c)
	if !ok {
		return
	}
	e, ok := s.apiEntry(w, r, a.ID)
	if !ok {
		return
	}
	ctx := r.Context()
	err := s.cfg.St.Tx(ctx, func(tx *store.Tx) error {
		_, err := mailbox.StoreFlags(ctx, tx, e.Folder.ID, []uint32{e.UID}, op, []string{mailbox.FlagSeen})
		return err
	})
	if err != nil {
		s.apiInternal(w, r, err)
		return
	}
	apiJSON(w, http.StatusOK, map[string]any{"id": e.Ref(), "seen": op == mailbox.FlagsAdd})
}

// apiTrash moves a message to the Trash; a message already in the Trash
// stays there (deleting for good is left to the webmail and IMAP).
func (s *Server) apiTrash(w http.ResponseWriter, r *http.Request, c *apiCall) {
	a, ok := s.apiAccount(w, r, c)
	if !ok {
		return
	}
	e, ok := s.apiEntry(w, r, a.ID)
	if !ok {
		return
	}
	ctx := r.Context()
	trash, err := mailbox.FolderByName(ctx, s.cfg.St, a.ID, mailbox.Trash)
	if err != nil {
		s.apiInternal(w, r, err)
		return
	}
	if e.Folder.ID == trash.ID {
		apiJSON(w, http.StatusOK, map[string]any{"id": e.Ref(), "folder_id": trash.ID, "uid": e.UID})
		return
	}
	var to []uint32
	err = s.cfg.St.Tx(ctx, func(tx *store.Tx) error {
		var err error
		_, to, err = mailbox.Move(ctx, tx, e.Folder.ID, []uint32{e.UID}, trash.ID)
		return err
	})
	if err != nil {
		s.apiInternal(w, r, err)
		return
	}
	if len(to) == 0 {
		apiFail(w, http.StatusNotFound, "Message introuvable.")
		return
	}
	s.log.Info("api: message moved to trash", "account", a.Login, "user", c.User.Login, "device", c.Device.ID)
	s.boxTrashed(ctx, a, c.User, e.Folder.Name, len(to))
	apiJSON(w, http.StatusOK, map[string]any{"id": itoa(trash.ID) + "/" + strconv.FormatUint(uint64(to[0]), 10),
		"folder_id": trash.ID, "uid": to[0]})
}

// apiSendRequest is the body of POST /api/v1/accounts/{acct}/send.
type apiSendRequest struct {
	To      []string `json:"to"`
	Cc      []string `json:"cc"`
	Subject string   `json:"subject"`
	Body    string   `json:"body"`
}

// apiSend sends a plain-text message as the reached account (or box), with
// the routing rules of submission (SPEC §1): each recipient through
// Router.Route, then Pipeline.Deliver. A refused recipient answers 422
// with the enhanced status code (RFC 3463) and the reason in French.
func (s *Server) apiSend(w http.ResponseWriter, r *http.Request, c *apiCall) {
	a, ok := s.apiAccount(w, r, c)
	if !ok {
		return
	}
	var req apiSendRequest
	if !apiDecode(w, r, s.maxMessageSize()+apiMaxBody, &req) {
		return
	}
	ctx := r.Context()
	var to, cc []*mail.Address
	for _, list := range []struct {
		in  []string
		out *[]*mail.Address
	}{{req.To, &to}, {req.Cc, &cc}} {
		for _, raw := range list.in {
			addr, err := mail.ParseAddress(raw)
			if err != nil {
				apiJSON(w, http.StatusUnprocessableEntity, apiError{Error: "Adresse invalide : " + raw, Code: "5.1.3", Recipient: raw})
				return
			}
			*list.out = append(*list.out, addr)
		}
	}
	if len(to)+len(cc) == 0 {
		apiFail(w, http.StatusUnprocessableEntity, "Indiquez au moins un destinataire.")
		return
	}
	if len(to)+len(cc) > mailMaxRecipients {
		apiJSON(w, http.StatusUnprocessableEntity, apiError{Error: fmt.Sprintf("Trop de destinataires : %d au plus par message.", mailMaxRecipients), Code: "5.5.3"})
		return
	}
	var dests []hmail.Destination
	seen := map[string]bool{}
	for _, addr := range append(append([]*mail.Address{}, to...), cc...) {
		key := strings.ToLower(addr.Address)
		if seen[key] {
			continue
		}
		seen[key] = true
		dest, err := s.cfg.Router.Route(ctx, a, addr.Address)
		if err != nil {
			var me *hmail.Error
			status, code := http.StatusUnprocessableEntity, ""
			if errors.As(err, &me) {
				code = fmt.Sprintf("%d.%d.%d", me.Enhanced[0], me.Enhanced[1], me.Enhanced[2])
				if me.Temporary() {
					status = http.StatusServiceUnavailable
				}
			} else {
				status = http.StatusServiceUnavailable
			}
			apiJSON(w, status, apiError{Error: s.refusal(a, addr.Address, err), Code: code, Recipient: addr.Address})
			return
		}
		dests = append(dests, dest)
	}
	from := &mail.Address{Name: a.DisplayName(), Address: fromAddress(a)}
	msg, err := mailview.Build(&mailview.Compose{From: from, To: to, Cc: cc, Subject: req.Subject,
		Text: strings.ReplaceAll(req.Body, "\r\n", "\n"), Date: s.cfg.Now(), MessageID: s.cfg.Pipeline.NewMessageID()})
	if err != nil {
		s.apiInternal(w, r, err)
		return
	}
	if int64(len(msg)) > s.maxMessageSize() {
		apiJSON(w, http.StatusRequestEntityTooLarge, apiError{Error: tooBigMessage(s.maxMessageSize()), Code: "5.3.4"})
		return
	}
	env := hmail.Envelope{Source: hmail.SourceWeb, From: fromAddress(a), Identity: a, User: c.User, Recipients: dests,
		RemoteIP: clientIP(r), Route: "api"}
	res, err := s.cfg.Pipeline.Deliver(ctx, env, msg)
	var me *hmail.Error
	if errors.As(err, &me) {
		s.log.Warn("api: message refused", "account", a.Login, "err", err)
		status := http.StatusUnprocessableEntity
		if me.Temporary() {
			status = http.StatusServiceUnavailable
		}
		apiJSON(w, status, apiError{Error: "Envoi refusé : le message n'a pas pu être accepté. Réessayez plus tard.",
			Code: fmt.Sprintf("%d.%d.%d", me.Enhanced[0], me.Enhanced[1], me.Enhanced[2])})
		return
	}
	if err != nil {
		s.apiInternal(w, r, err)
		return
	}
	if err := s.afterSend(ctx, a, composeForm{}, res.ID, msg); err != nil {
		s.log.Error("api: after sending", "account", a.Login, "err", err)
	}
	s.log.Info("api: message sent", "account", a.Login, "user", c.User.Login, "device", c.Device.ID, "message_id", res.MessageID,
		"recipients", len(dests))
	apiJSON(w, http.StatusCreated, map[string]any{"message_id": res.MessageID, "recipients": len(dests)})
}

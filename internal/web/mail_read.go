package web

import (
	"context"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/mailview"
	"github.com/hygie-sante/hygie/internal/store"
)

// mailHTMLPolicy is the Content-Security-Policy of a mail's HTML body: a
// sandbox without scripts, and nothing loaded from anywhere (images only as
// data: URIs).
const mailHTMLPolicy = "sandbox; default-src 'none'; img-src data:; style-src 'unsafe-inline'; frame-ancestors 'self'"

// mailAttachmentPolicy keeps a downloaded file from running anything should
// a browser display it.
const mailAttachmentPolicy = "sandbox; default-src 'none'"

// mailReadData is a message being read.
type mailReadData struct {
	Nav         mailNav
	Entry       *mailEntry
	Msg         *mailview.Message
	Attachments []mailAttachmentView
	Folder      mailFolder
}

// mailAttachmentView is an attachment in the read view; an XDM package
// lists its documents.
type mailAttachmentView struct {
	*mailview.Part
	XDM      bool
	Docs     []mailview.XDMDocument
	XDMError bool
}

// open marks entry e of account a \Seen and reports the opening (an opening
// by a recipient: not of what one wrote oneself, in Sent or Drafts); the
// webmail and the device API read through it.
func (s *Server) open(ctx context.Context, a *account.Account, e *mailEntry) error {
	if !mailbox.HasFlag(e.Flags, mailbox.FlagSeen) {
		err := s.cfg.St.Tx(ctx, func(tx *store.Tx) error {
			_, err := mailbox.StoreFlags(ctx, tx, e.Folder.ID, []uint32{e.UID}, mailbox.FlagsAdd, []string{mailbox.FlagSeen})
			return err
		})
		if err != nil {
			return err
		}
	}
	if e.Folder.Name != mailbox.Sent && e.Folder.Name != mailbox.Drafts && s.cfg.Pipeline != nil {
		if err := s.cfg.Pipeline.Opened(ctx, a, e.MessageID); err != nil {
			s.log.Error("web: opening not recorded", "account", a.Login, "message", e.MessageID, "err", err)
		}
	}
	return nil
}

// mailRead shows a message (« De », « À », « Cc », « Date », « Objet »,
// the body, the attachments), marks it \Seen and reports the opening.
func (s *Server) mailRead(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	e, ok := s.entryFromPath(w, r, a)
	if !ok {
		return
	}
	ctx := r.Context()
	m, err := s.loadMessage(ctx, e)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.open(ctx, a, e); err != nil {
		s.fail(w, r, err)
		return
	}
	s.boxRead(ctx, a, sess.User, m.Subject, e.Folder.Name)
	folders, err := s.mailFolders(ctx, a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := &mailReadData{Nav: mailNav{Folders: folders, Current: e.Folder.ID}, Entry: e, Msg: m}
	for _, f := range folders {
		if f.ID == e.Folder.ID {
			d.Folder = f
		}
	}
	for _, p := range m.Attachments {
		if p.ContentID != "" && m.Inline[p.ContentID] == p && m.HasHTML && strings.Contains(m.HTML, "cid:"+p.ContentID) {
			// An image shown in the body.
			continue
		}
		v := mailAttachmentView{Part: p}
		if p.IsXDM() {
			v.XDM = true
			docs, err := mailview.XDMDocuments(p.Data)
			v.Docs, v.XDMError = docs, err != nil
		}
		d.Attachments = append(d.Attachments, v)
	}
	title := m.Subject
	if title == "" {
		title = "(sans objet)"
	}
	s.render(w, r, sess, "mail_read", http.StatusOK, &view{Title: title, Acting: a, Data: d})
}

// mailHTML serves the HTML body of a message, sanitised, for the sandboxed
// frame of the read view; its policy forbids scripts and remote loads.
func (s *Server) mailHTML(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	e, ok := s.entryFromPath(w, r, a)
	if !ok {
		return
	}
	m, err := s.loadMessage(r.Context(), e)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !m.HasHTML {
		http.NotFound(w, r)
		return
	}
	page := mailview.SanitizeHTML(m.HTML, mailview.Options{Inline: m.Inline})
	h := w.Header()
	h.Set("Content-Security-Policy", mailHTMLPolicy)
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.Write([]byte(page))
}

// mailAttachment downloads an attachment, intact (an XDM zip as received).
func (s *Server) mailAttachment(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	e, ok := s.entryFromPath(w, r, a)
	if !ok {
		return
	}
	m, err := s.loadMessage(r.Context(), e)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := m.FindPart(r.PathValue("part"))
	if p == nil {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", downloadType(p.ContentType))
	h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": p.Filename}))
	h.Set("Content-Length", strconv.Itoa(len(p.Data)))
	h.Set("Content-Security-Policy", mailAttachmentPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "private, no-store")
	w.Write(p.Data)
}

// downloadType labels a download with its own media type, unless a browser
// could run it (HTML, SVG, XML with scripts): those are octet streams.
func downloadType(ct string) string {
	switch {
	case ct == "", strings.Contains(ct, "html"), strings.Contains(ct, "svg"), strings.Contains(ct, "xml"),
		strings.Contains(ct, "javascript"), strings.Contains(ct, "ecmascript"):
		return "application/octet-stream"
	}
	return ct
}

package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"strings"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/address"
	hmail "github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/mailview"
	"github.com/hygie-sante/hygie/internal/store"
)

// Header fields a draft keeps for when it is sent.
const (
	draftSignatureField = "X-Hygie-Signature"
	draftAnswersField   = "X-Hygie-Answers"
)

// mailMaxRecipients bounds the recipients of one message, as SMTP
// submission does (smtp.max_recipients default).
const mailMaxRecipients = 100

// mailFormOverhead is what a compose form may add to the message size
// (fields, multipart boundaries).
const mailFormOverhead = 1 << 20

// mailLimitBody bounds the compose form before anything reads it: a form
// larger than the SMTP size limit gets the French error at once, and a
// longer body than announced is cut.
func (s *Server) mailLimitBody(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		limit := s.maxMessageSize() + mailFormOverhead
		if r.ContentLength > limit {
			// Read (a bounded part of) the upload so that the browser gets
			// the answer rather than a reset connection.
			io.Copy(io.Discard, io.LimitReader(r.Body, 4*limit))
			s.mailTooBig(w, r)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next(w, r)
	}
}

// mailTooBig answers a compose form over the size limit.
func (s *Server) mailTooBig(w http.ResponseWriter, r *http.Request) {
	msg := tooBigMessage(s.maxMessageSize())
	sess, err := s.session(r)
	if err != nil || sess == nil {
		http.Error(w, msg, http.StatusRequestEntityTooLarge)
		return
	}
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	d := &mailComposeData{Heading: "Nouveau message", From: formatAddr(&mail.Address{Name: a.DisplayName(), Address: fromAddress(a)})}
	s.renderCompose(w, r, sess, a, d, http.StatusRequestEntityTooLarge, map[string]string{"files": msg})
}

func tooBigMessage(max int64) string {
	return "Le message dépasse la taille maximale autorisée (" + mailSize(int(max)) + ", pièces jointes comprises). Retirez ou allégez des pièces jointes."
}

// composeForm is what the compose form posts.
type composeForm struct {
	To, Cc, Subject, Body  string
	Draft, Source, Answers string
	InReplyTo, References  string
	Kept                   []string
	SignatureID            int64
}

func readComposeForm(r *http.Request) composeForm {
	return composeForm{
		To: r.FormValue("to"), Cc: r.FormValue("cc"), Subject: r.FormValue("subject"),
		Body:  strings.ReplaceAll(r.FormValue("body"), "\r\n", "\n"),
		Draft: r.FormValue("brouillon"), Source: r.FormValue("source"), Answers: r.FormValue("repond"),
		InReplyTo: r.FormValue("in_reply_to"), References: r.FormValue("references"),
		Kept: r.Form["garder"], SignatureID: int64(atoiDefault(r.FormValue("signature"), 0)),
	}
}

// mailSend sends the composed message (« Envoyer ») or saves it in the
// Drafts folder (« Enregistrer le brouillon »).
func (s *Server) mailSend(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	if r.MultipartForm != nil {
		defer r.MultipartForm.RemoveAll()
	}
	ctx := r.Context()
	f := readComposeForm(r)
	d := &mailComposeData{Heading: "Nouveau message", From: formatAddr(&mail.Address{Name: a.DisplayName(), Address: fromAddress(a)}),
		To: f.To, Cc: f.Cc, Subject: f.Subject, Body: f.Body, Draft: f.Draft, Source: f.Source, Answers: f.Answers,
		InReplyTo: f.InReplyTo, References: f.References, SignatureID: f.SignatureID}
	atts, kept, uploaded, err := s.composeAttachments(ctx, a, f, r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Kept, d.Resend = kept, uploaded
	errs := map[string]string{}
	c := &mailview.Compose{
		From:    &mail.Address{Name: a.DisplayName(), Address: fromAddress(a)},
		Subject: f.Subject, Text: f.Body, HTML: s.htmlWithSignature(ctx, a, f),
		Date: s.cfg.Now(), MessageID: s.cfg.Pipeline.NewMessageID(), InReplyTo: f.InReplyTo, References: f.References,
		Attachments: atts,
	}
	to, badTo := parseRecipients(f.To)
	cc, badCc := parseRecipients(f.Cc)
	if r.FormValue("action") == "brouillon" {
		c.To, c.Cc = to, cc
		if len(badTo) > 0 {
			c.ToRaw = f.To
		}
		if len(badCc) > 0 {
			c.CcRaw = f.Cc
		}
		s.saveDraft(w, r, sess, a, f, c, d)
		return
	}
	for field, bad := range map[string][]string{"to": badTo, "cc": badCc} {
		for _, b := range bad {
			addError(errs, field, "Adresse invalide : "+b)
		}
	}
	if len(to)+len(cc) == 0 && len(errs) == 0 {
		errs["to"] = "Indiquez au moins un destinataire."
	}
	if len(to)+len(cc) > mailMaxRecipients {
		errs["to"] = fmt.Sprintf("Trop de destinataires : %d au plus par message.", mailMaxRecipients)
		to, cc = nil, nil
	}
	// The routing rules of the core (SPEC §1), with their reasons in French.
	var dests []hmail.Destination
	seen := map[string]bool{}
	for _, fl := range []struct {
		field string
		list  []*mail.Address
	}{{"to", to}, {"cc", cc}} {
		for _, addr := range fl.list {
			key := strings.ToLower(addr.Address)
			if seen[key] {
				continue
			}
			seen[key] = true
			dest, err := s.cfg.Router.Route(ctx, a, addr.Address)
			if err != nil {
				addError(errs, fl.field, s.refusal(a, addr.Address, err))
				continue
			}
			dests = append(dests, dest)
		}
	}
	if len(errs) > 0 {
		s.renderCompose(w, r, sess, a, d, http.StatusUnprocessableEntity, errs)
		return
	}
	c.To, c.Cc = to, cc
	msg, err := mailview.Build(c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if int64(len(msg)) > s.maxMessageSize() {
		s.renderCompose(w, r, sess, a, d, http.StatusRequestEntityTooLarge, map[string]string{"files": tooBigMessage(s.maxMessageSize())})
		return
	}
	env := hmail.Envelope{Source: hmail.SourceWeb, From: fromAddress(a), Identity: a, User: sess.User, Recipients: dests,
		RemoteIP: clientIP(r), Route: "web"}
	res, err := s.cfg.Pipeline.Deliver(ctx, env, msg)
	var me *hmail.Error
	if errors.As(err, &me) {
		s.log.Warn("webmail: message refused", "account", a.Login, "err", err)
		s.renderCompose(w, r, sess, a, d, http.StatusUnprocessableEntity, map[string]string{"": "Envoi refusé : le message n'a pas pu être accepté. Réessayez plus tard."})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("webmail: message sent", "account", a.Login, "user", sess.User.Login, "message_id", res.MessageID, "recipients", len(dests))
	if err := s.afterSend(ctx, a, f, res.ID, msg); err != nil {
		// The message is sent; only the draft or the \Answered flag lag.
		s.log.Error("webmail: after sending", "account", a.Login, "err", err)
	}
	redirectFlash(w, r, "/a/"+itoa(a.ID)+"/mail/", "Message envoyé.")
}

// afterSend records the sent message's summary, removes the draft it was
// written in and marks the message it answers \Answered.
func (s *Server) afterSend(ctx context.Context, a *account.Account, f composeForm, id int64, msg []byte) error {
	var draft, answered *mailEntry
	if f.Draft != "" {
		if e, err := s.lookupRef(ctx, a.ID, f.Draft); err == nil && e.Folder.Name == mailbox.Drafts {
			draft = e
		}
	}
	if f.Answers != "" {
		if e, err := s.lookupRef(ctx, a.ID, f.Answers); err == nil {
			answered = e
		}
	}
	sum := mailview.Summarize(msg)
	return s.cfg.St.Tx(ctx, func(tx *store.Tx) error {
		if err := mailview.Save(ctx, tx, id, sum); err != nil {
			return err
		}
		if draft != nil {
			if _, err := mailbox.Remove(ctx, tx, draft.Folder.ID, []uint32{draft.UID}); err != nil {
				return fmt.Errorf("remove draft: %w", err)
			}
		}
		if answered != nil {
			if _, err := mailbox.StoreFlags(ctx, tx, answered.Folder.ID, []uint32{answered.UID}, mailbox.FlagsAdd,
				[]string{mailbox.FlagAnswered}); err != nil {
				return fmt.Errorf("flag answered: %w", err)
			}
		}
		return nil
	})
}

// saveDraft files the message in the Drafts folder (\Draft), replacing the
// draft it was reopened from, and reopens it.
func (s *Server) saveDraft(w http.ResponseWriter, r *http.Request, sess *Session, a *account.Account, f composeForm, c *mailview.Compose, d *mailComposeData) {
	ctx := r.Context()
	if f.SignatureID != 0 {
		c.Extra = append(c.Extra, [2]string{draftSignatureField, itoa(f.SignatureID)})
	}
	if f.Answers != "" {
		c.Extra = append(c.Extra, [2]string{draftAnswersField, f.Answers})
	}
	msg, err := mailview.Build(c)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if int64(len(msg)) > s.maxMessageSize() {
		s.renderCompose(w, r, sess, a, d, http.StatusRequestEntityTooLarge, map[string]string{"files": tooBigMessage(s.maxMessageSize())})
		return
	}
	drafts, err := mailbox.FolderByName(ctx, s.cfg.St, a.ID, mailbox.Drafts)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var old *mailEntry
	if f.Draft != "" {
		if e, err := s.lookupRef(ctx, a.ID, f.Draft); err == nil && e.Folder.ID == drafts.ID {
			old = e
		}
	}
	var uid uint32
	err = s.cfg.St.Tx(ctx, func(tx *store.Tx) error {
		if old != nil {
			if _, err := mailbox.Remove(ctx, tx, drafts.ID, []uint32{old.UID}); err != nil {
				return err
			}
		}
		var err error
		uid, err = mailbox.AppendMessage(ctx, tx, drafts.ID, msg, []string{mailbox.FlagDraft, mailbox.FlagSeen}, s.cfg.Now())
		if err != nil {
			return err
		}
		var id int64
		if err := tx.QueryRow(ctx, `SELECT message_id FROM entries WHERE mailbox_id = ? AND uid = ?`, drafts.ID, int64(uid)).Scan(&id); err != nil {
			return err
		}
		return mailview.Save(ctx, tx, id, mailview.Summarize(msg))
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	redirectFlash(w, r, fmt.Sprintf("/a/%d/mail/nouveau?brouillon=%d/%d", a.ID, drafts.ID, uid), "Brouillon enregistré.")
}

// composeAttachments gathers the files of the message: those uploaded, and
// those kept from the source message (forwarded message or draft). It also
// returns the kept parts (to offer them again) and whether files were
// uploaded.
func (s *Server) composeAttachments(ctx context.Context, a *account.Account, f composeForm, r *http.Request) ([]mailview.Attachment, []*mailview.Part, bool, error) {
	var out []mailview.Attachment
	var kept []*mailview.Part
	if f.Source != "" && len(f.Kept) > 0 {
		e, err := s.lookupRef(ctx, a.ID, f.Source)
		switch {
		case errors.Is(err, errNoEntry):
			// Not the acting account's: nothing is kept.
		case err != nil:
			return nil, nil, false, err
		default:
			m, err := s.loadMessage(ctx, e)
			if err != nil {
				return nil, nil, false, err
			}
			for _, path := range f.Kept {
				if p := m.FindPart(path); p != nil {
					kept = append(kept, p)
					out = append(out, mailview.Attachment{Filename: p.Filename, ContentType: p.ContentType, Data: p.Data})
				}
			}
		}
	}
	uploaded := false
	if r.MultipartForm != nil {
		for _, fh := range r.MultipartForm.File["files"] {
			if fh.Filename == "" && fh.Size == 0 {
				continue
			}
			file, err := fh.Open()
			if err != nil {
				return nil, nil, false, fmt.Errorf("read upload: %w", err)
			}
			data, err := io.ReadAll(io.LimitReader(file, s.maxMessageSize()+1))
			file.Close()
			if err != nil {
				return nil, nil, false, fmt.Errorf("read upload: %w", err)
			}
			uploaded = true
			out = append(out, mailview.Attachment{Filename: fh.Filename, ContentType: fh.Header.Get("Content-Type"), Data: data})
		}
	}
	return out, kept, uploaded, nil
}

// htmlWithSignature returns the HTML alternative of the body when it still
// holds the inserted signature: the text, with the signature in its rich
// form. Otherwise the message is plain text ("").
func (s *Server) htmlWithSignature(ctx context.Context, a *account.Account, f composeForm) string {
	if f.SignatureID == 0 {
		return ""
	}
	sig, err := s.cfg.Accounts.SignatureByID(ctx, a.ID, f.SignatureID)
	if err != nil {
		return ""
	}
	marker := signatureSeparator + mailview.HTMLToText(sig.HTML)
	i := strings.Index(f.Body, marker)
	if i < 0 {
		return ""
	}
	return `<div style="font-family:sans-serif">` + mailview.TextToHTML(f.Body[:i]) +
		`<div class="signature">-- <br>` + mailview.SanitizeFragment(sig.HTML) + `</div>` +
		mailview.TextToHTML(f.Body[i+len(marker):]) + `</div>`
}

// parseRecipients reads a recipient field: addresses separated by commas or
// semicolons, bare or as « Nom <adresse> ». It returns the addresses and
// what could not be read.
func parseRecipients(s string) ([]*mail.Address, []string) {
	s = strings.NewReplacer(";", ",", "\n", ",", "\r", "").Replace(s)
	if strings.TrimSpace(strings.ReplaceAll(s, ",", "")) == "" {
		return nil, nil
	}
	if list, err := mail.ParseAddressList(strings.Trim(strings.TrimSpace(s), ",")); err == nil {
		return list, nil
	}
	var out []*mail.Address
	var bad []string
	for _, tok := range strings.Split(s, ",") {
		tok = strings.TrimSpace(tok)
		if tok == "" {
			continue
		}
		a, err := mail.ParseAddress(tok)
		if err != nil {
			bad = append(bad, tok)
			continue
		}
		out = append(out, a)
	}
	return out, bad
}

func addError(errs map[string]string, field, msg string) {
	if errs[field] != "" {
		errs[field] += "\n"
	}
	errs[field] += msg
}

// refusal says in French why the routing rules refuse rcpt (SPEC §1), from
// the enhanced status code of the refusal (RFC 3463).
func (s *Server) refusal(a *account.Account, rcpt string, err error) string {
	var me *hmail.Error
	if !errors.As(err, &me) {
		return "Vérification impossible pour " + rcpt + " : réessayez plus tard."
	}
	p := s.cfg.PlatformName
	switch me.Enhanced {
	case [3]int{5, 1, 1}:
		return "Adresse inconnue : " + rcpt + " n'existe pas sur " + p + "."
	case [3]int{5, 1, 3}:
		return "Adresse invalide : " + rcpt
	case [3]int{5, 2, 1}:
		return "Boîte désactivée : " + rcpt + " ne reçoit plus de messages."
	case [3]int{5, 7, 1}:
		trusted := s.cfg.Router != nil && s.cfg.Router.Trust != nil && s.cfg.Router.Trust.IsTrusted(address.Domain(strings.ToLower(rcpt)))
		if !a.Kind.CanLeavePlatform() && trusted {
			return "Un compte " + p + " (MED) ne peut écrire qu'aux utilisateurs de " + p + " : " + rcpt +
				" est chez un autre opérateur MSSanté. Demandez à un compte Personnel ou organisationnel de l'envoyer (délégation)."
		}
		return rcpt + " n'appartient pas à l'espace de confiance MSSanté : seules les adresses des opérateurs de santé sont joignables."
	}
	if me.Temporary() {
		return "Vérification impossible pour " + rcpt + " pour le moment : réessayez plus tard."
	}
	return "Destinataire refusé : " + rcpt
}

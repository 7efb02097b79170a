package web

import (
	"context"
	"errors"
	"net/http"
	"net/mail"
	"strings"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mailview"
)

// Compose modes (the mode query value).
const (
	modeReply    = "repondre"
	modeReplyAll = "tous"
	modeForward  = "transferer"
)

// signatureSeparator starts a signature in plain text (RFC 3676 §4.3).
const signatureSeparator = "-- \n"

// mailComposeData is the compose form (« Nouveau message », « Répondre »,
// « Répondre à tous », « Transférer », a draft).
type mailComposeData struct {
	Nav     mailNav
	Heading string
	From    string
	To, Cc  string
	Subject string
	Body    string
	// Draft names the draft being edited ("folder/uid"); Source the message
	// whose attachments are offered (Kept); Answers the message replied to.
	Draft, Source, Answers string
	Kept                   []*mailview.Part
	InReplyTo, References  string
	// SignatureID is the signature inserted in Body (0: none).
	SignatureID int64
	MaxSize     int64
	MaxSizeText string
	// Resend tells that files chosen before an error must be chosen again.
	Resend bool
}

// mailCompose shows the compose form: empty with the default signature, or
// prepared from a message (reply, reply all, forward) or a draft.
func (s *Server) mailCompose(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return
	}
	ctx := r.Context()
	q := r.URL.Query()
	d := &mailComposeData{Heading: "Nouveau message", From: formatAddr(&mail.Address{Name: a.DisplayName(), Address: fromAddress(a)}),
		To: q.Get("a")}
	sig, sigText, err := s.defaultSignature(ctx, a)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	withSig := func(rest string) string {
		if sigText == "" {
			return rest
		}
		d.SignatureID = sig.ID
		return "\n\n" + signatureSeparator + sigText + rest
	}
	switch {
	case q.Get("brouillon") != "":
		e, err := s.lookupRef(ctx, a.ID, q.Get("brouillon"))
		if errors.Is(err, errNoEntry) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		m, err := s.loadMessage(ctx, e)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		d.Heading = "Brouillon"
		d.Draft, d.Source = e.Ref(), e.Ref()
		d.To, d.Cc = draftAddrs(m.To, m.ToRaw), draftAddrs(m.Cc, m.CcRaw)
		d.Subject, d.Body = m.Subject, m.BodyText()
		d.InReplyTo, d.References = m.InReplyTo, m.References
		d.Kept = m.Attachments
		d.SignatureID = int64(atoiDefault(m.Header.Get(draftSignatureField), 0))
		d.Answers = m.Header.Get(draftAnswersField)
	case q.Get("src") != "":
		e, err := s.lookupRef(ctx, a.ID, q.Get("src"))
		if errors.Is(err, errNoEntry) {
			http.NotFound(w, r)
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		m, err := s.loadMessage(ctx, e)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		switch q.Get("mode") {
		case modeForward:
			d.Heading = "Transférer"
			d.Subject = prefixSubject("TR: ", m.Subject)
			d.Body = withSig("\n\n" + forwardBlock(m))
			d.Source, d.Kept = e.Ref(), m.Attachments
		case modeReplyAll:
			d.Heading = "Répondre à tous"
			to, cc := replyAll(a, m)
			d.To, d.Cc = mailAddrs(to), mailAddrs(cc)
			d.Subject = prefixSubject("RE: ", m.Subject)
			d.Body = withSig("\n\n" + quoteBlock(m))
		default:
			d.Heading = "Répondre"
			d.To = mailAddrs(replyTo(m))
			d.Subject = prefixSubject("RE: ", m.Subject)
			d.Body = withSig("\n\n" + quoteBlock(m))
		}
		if q.Get("mode") != modeForward {
			d.Answers = e.Ref()
			d.InReplyTo = m.MessageID
			d.References = strings.TrimSpace(m.References + " " + m.MessageID)
			if m.References == "" && m.InReplyTo != "" {
				d.References = strings.TrimSpace(m.InReplyTo + " " + m.MessageID)
			}
		}
	default:
		d.Body = withSig("")
	}
	s.renderCompose(w, r, sess, a, d, http.StatusOK, nil)
}

// renderCompose shows the compose form with errors by field.
func (s *Server) renderCompose(w http.ResponseWriter, r *http.Request, sess *Session, a *account.Account, d *mailComposeData, status int, errs map[string]string) {
	folders, err := s.mailFolders(r.Context(), a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Nav = mailNav{Folders: folders}
	d.MaxSize = s.maxMessageSize()
	d.MaxSizeText = mailSize(int(d.MaxSize))
	s.render(w, r, sess, "mail_compose", status, &view{Title: d.Heading, Acting: a, Data: d, Errors: errs})
}

// defaultSignature returns the default signature of the acting account and
// its text, or nil and "".
func (s *Server) defaultSignature(ctx context.Context, a *account.Account) (*account.Signature, string, error) {
	sig, err := s.cfg.Accounts.DefaultSignature(ctx, a.ID)
	if err != nil || sig == nil {
		return nil, "", err
	}
	return sig, mailview.HTMLToText(sig.HTML), nil
}

// draftAddrs shows the recipients of a draft as typed.
func draftAddrs(list []*mail.Address, raw string) string {
	if len(list) > 0 {
		return mailAddrs(list)
	}
	return raw
}

// prefixSubject adds « RE: » or « TR: » unless the subject already has it.
func prefixSubject(prefix, subject string) string {
	low := strings.ToLower(strings.TrimSpace(subject))
	p := strings.ToLower(strings.TrimSpace(prefix))
	if strings.HasPrefix(low, p) || strings.HasPrefix(low, strings.TrimSuffix(p, ":")+" :") ||
		(p == "re:" && strings.HasPrefix(low, "réf")) {
		return subject
	}
	return prefix + subject
}

// replyTo is whom a reply goes to: Reply-To, else From (RFC 5322 §3.6.3).
func replyTo(m *mailview.Message) []*mail.Address {
	if len(m.ReplyTo) > 0 {
		return m.ReplyTo
	}
	return m.From
}

// replyAll returns the recipients of « Répondre à tous »: the author and
// every recipient but the acting account itself, each once.
func replyAll(a *account.Account, m *mailview.Message) (to, cc []*mail.Address) {
	seen := map[string]bool{}
	add := func(dst []*mail.Address, list []*mail.Address) []*mail.Address {
		for _, x := range list {
			k := strings.ToLower(x.Address)
			if seen[k] || a.HasAddress(x.Address) {
				continue
			}
			seen[k] = true
			dst = append(dst, x)
		}
		return dst
	}
	to = add(to, replyTo(m))
	to = add(to, m.To)
	cc = add(cc, m.Cc)
	return to, cc
}

func author(m *mailview.Message) string {
	if len(m.From) > 0 {
		return formatAddr(m.From[0])
	}
	return m.FromRaw
}

// quoteBlock quotes the text of m under an attribution line.
func quoteBlock(m *mailview.Message) string {
	var b strings.Builder
	if !m.Date.IsZero() {
		t := m.Date.In(paris)
		b.WriteString("Le " + t.Format("02/01/2006") + " à " + t.Format("15:04") + ", " + author(m) + " a écrit :\n")
	} else {
		b.WriteString(author(m) + " a écrit :\n")
	}
	text := strings.TrimRight(strings.ReplaceAll(m.BodyText(), "\r\n", "\n"), "\n")
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, ">") {
			b.WriteString(">" + l + "\n")
		} else {
			b.WriteString("> " + l + "\n")
		}
	}
	return b.String()
}

// forwardBlock shows the forwarded message's header fields and text.
func forwardBlock(m *mailview.Message) string {
	var b strings.Builder
	b.WriteString("-------- Message transféré --------\n")
	b.WriteString("De : " + author(m) + "\n")
	if !m.Date.IsZero() {
		b.WriteString("Date : " + mailDateLong(m.Date) + "\n")
	}
	b.WriteString("Objet : " + m.Subject + "\n")
	if len(m.To) > 0 {
		b.WriteString("À : " + mailAddrs(m.To) + "\n")
	}
	if len(m.Cc) > 0 {
		b.WriteString("Cc : " + mailAddrs(m.Cc) + "\n")
	}
	b.WriteString("\n" + strings.ReplaceAll(m.BodyText(), "\r\n", "\n") + "\n")
	return b.String()
}

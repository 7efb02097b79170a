package mailview

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"path"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"
)

// Attachment is a file attached to a message being composed.
type Attachment struct {
	Filename    string
	ContentType string
	Data        []byte
}

// Compose is a message written in the webmail.
type Compose struct {
	From *mail.Address
	To   []*mail.Address
	Cc   []*mail.Address
	// ToRaw and CcRaw replace To and Cc when set: a draft keeps what was
	// typed, even when it is not (yet) a valid address list.
	ToRaw, CcRaw string
	Subject      string
	// Text is the body; HTML, when set, is its rich alternative (RFC 2046
	// §5.1.4 multipart/alternative).
	Text string
	HTML string
	Date time.Time
	// MessageID is the Message-ID with its angle brackets (RFC 5322
	// §3.6.4); In-Reply-To and References thread a reply.
	MessageID   string
	InReplyTo   string
	References  string
	Attachments []Attachment
	// Extra are further header fields (name, value), e.g. for drafts.
	Extra [][2]string
}

// Build writes c as an RFC 5322 message with MIME structure (RFC 2045,
// 2046): text/plain alone, or multipart/alternative with text/html, inside
// multipart/mixed when files are attached (base64, file names encoded per
// RFC 2231). Text is sent as UTF-8 quoted-printable.
func Build(c *Compose) ([]byte, error) {
	var h gomail.Header
	if c.Date.IsZero() {
		c.Date = time.Now()
	}
	h.SetDate(c.Date)
	if c.From != nil {
		h.SetAddressList("From", []*mail.Address{c.From})
	}
	setAddrs(&h, "To", c.To, c.ToRaw)
	setAddrs(&h, "Cc", c.Cc, c.CcRaw)
	h.SetSubject(oneLine(c.Subject))
	if c.MessageID != "" {
		h.Set("Message-ID", oneLine(c.MessageID))
	}
	if c.InReplyTo != "" {
		h.Set("In-Reply-To", oneLine(c.InReplyTo))
	}
	if c.References != "" {
		h.Set("References", oneLine(c.References))
	}
	for _, f := range c.Extra {
		h.Set(f[0], mime.QEncoding.Encode("utf-8", oneLine(f[1])))
	}
	var buf bytes.Buffer
	text := normalizeNewlines(c.Text)
	if len(c.Attachments) == 0 {
		if c.HTML == "" {
			h.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
			w, err := gomail.CreateSingleInlineWriter(&buf, h)
			if err != nil {
				return nil, fmt.Errorf("build message: %w", err)
			}
			if _, err := io.WriteString(w, text); err != nil {
				return nil, fmt.Errorf("build message: %w", err)
			}
			if err := w.Close(); err != nil {
				return nil, fmt.Errorf("build message: %w", err)
			}
			return buf.Bytes(), nil
		}
		iw, err := gomail.CreateInlineWriter(&buf, h)
		if err != nil {
			return nil, fmt.Errorf("build message: %w", err)
		}
		if err := writeAlternatives(iw, text, c.HTML); err != nil {
			return nil, err
		}
		return buf.Bytes(), nil
	}
	mw, err := gomail.CreateWriter(&buf, h)
	if err != nil {
		return nil, fmt.Errorf("build message: %w", err)
	}
	if c.HTML == "" {
		var th gomail.InlineHeader
		th.SetContentType("text/plain", map[string]string{"charset": "utf-8"})
		w, err := mw.CreateSingleInline(th)
		if err != nil {
			return nil, fmt.Errorf("build message: %w", err)
		}
		if _, err := io.WriteString(w, text); err != nil {
			return nil, fmt.Errorf("build message: %w", err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("build message: %w", err)
		}
	} else {
		iw, err := mw.CreateInline()
		if err != nil {
			return nil, fmt.Errorf("build message: %w", err)
		}
		if err := writeAlternatives(iw, text, c.HTML); err != nil {
			return nil, err
		}
	}
	for _, a := range c.Attachments {
		var ah gomail.AttachmentHeader
		name := cleanFilename(a.Filename)
		if name == "" {
			name = "piece-jointe.bin"
		}
		ct := AttachmentType(a.ContentType, name)
		ah.SetContentType(ct, map[string]string{"name": name})
		ah.SetFilename(name)
		w, err := mw.CreateAttachment(ah)
		if err != nil {
			return nil, fmt.Errorf("build message: attachment %s: %w", name, err)
		}
		if _, err := w.Write(a.Data); err != nil {
			return nil, fmt.Errorf("build message: attachment %s: %w", name, err)
		}
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("build message: attachment %s: %w", name, err)
		}
	}
	if err := mw.Close(); err != nil {
		return nil, fmt.Errorf("build message: %w", err)
	}
	return buf.Bytes(), nil
}

func writeAlternatives(iw *gomail.InlineWriter, text, htmlBody string) error {
	for _, alt := range []struct{ ct, body string }{{"text/plain", text}, {"text/html", normalizeNewlines(htmlBody)}} {
		var ph gomail.InlineHeader
		ph.SetContentType(alt.ct, map[string]string{"charset": "utf-8"})
		w, err := iw.CreatePart(ph)
		if err != nil {
			return fmt.Errorf("build message: %w", err)
		}
		if _, err := io.WriteString(w, alt.body); err != nil {
			return fmt.Errorf("build message: %w", err)
		}
		if err := w.Close(); err != nil {
			return fmt.Errorf("build message: %w", err)
		}
	}
	if err := iw.Close(); err != nil {
		return fmt.Errorf("build message: %w", err)
	}
	return nil
}

func setAddrs(h *gomail.Header, key string, list []*mail.Address, raw string) {
	if raw = oneLine(raw); raw != "" {
		h.Set(key, mime.QEncoding.Encode("utf-8", raw))
		return
	}
	if len(list) > 0 {
		h.SetAddressList(key, list)
	}
}

// oneLine keeps a header value on one line (no header injection).
func oneLine(s string) string {
	return strings.TrimSpace(strings.Map(func(r rune) rune {
		if r == '\r' || r == '\n' || r == 0 {
			return ' '
		}
		return r
	}, s))
}

func normalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// AttachmentType returns the media type to label a file with: the one
// given when it parses, else the one its extension suggests, else
// application/octet-stream. Parameters are dropped.
func AttachmentType(given, filename string) string {
	if t, _, err := mime.ParseMediaType(given); err == nil && strings.Contains(t, "/") && t != "application/octet-stream" {
		return strings.ToLower(t)
	}
	if t := mime.TypeByExtension(strings.ToLower(path.Ext(filename))); t != "" {
		if mt, _, err := mime.ParseMediaType(t); err == nil {
			return mt
		}
	}
	return "application/octet-stream"
}

// Package mailview is what the webmail needs of messages beyond storage:
// reading a stored message for display (RFC 5322 header fields decoded,
// MIME parts of RFC 2045/2046, attachments, the documents of an IHE XDM
// zip), making the HTML of a mail safe to show, the summary of each message
// for folder lists and search, and building the messages people compose.
package mailview

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	gomessage "github.com/emersion/go-message"
	// Registers the common charsets (ISO-8859-*, Windows-125x…) with go-message.
	_ "github.com/emersion/go-message/charset"
	gomail "github.com/emersion/go-message/mail"
)

// Limits on hostile structures.
const (
	maxDepth = 16
	maxParts = 500
)

// Message is a stored message read for display.
type Message struct {
	From    []*mail.Address
	To      []*mail.Address
	Cc      []*mail.Address
	ReplyTo []*mail.Address
	// FromRaw is the decoded From field when it does not parse as addresses.
	FromRaw string
	// ToRaw and CcRaw are the decoded fields as written (drafts keep what
	// was typed, valid or not).
	ToRaw, CcRaw string
	Subject      string
	Date         time.Time
	// MessageID is the Message-ID field with its angle brackets.
	MessageID  string
	InReplyTo  string
	References string
	// Text and HTML are the first text/plain and text/html bodies, in UTF-8.
	Text string
	HTML string
	// HasHTML tells that HTML is the body to show.
	HasHTML bool
	// Attachments are the other leaf parts, in order.
	Attachments []*Part
	// Inline are the parts referenced by Content-ID (images of an HTML body).
	Inline map[string]*Part
	// Header gives access to the other fields.
	Header gomail.Header
}

// Part is a leaf MIME part (RFC 2046).
type Part struct {
	// Path numbers the part as IMAP does (RFC 9051 §6.4.5): "1", "2.1"…
	Path        string
	ContentType string
	Filename    string
	ContentID   string
	Inline      bool
	// Data is the decoded content (transfer encoding removed; text parts
	// converted to UTF-8).
	Data []byte
}

// Size is the decoded size of the part.
func (p *Part) Size() int { return len(p.Data) }

// IsXDM reports whether the part is an IHE XDM package (an IHE_XDM.zip
// attachment, SPEC §5).
func (p *Part) IsXDM() bool { return IsXDMName(p.Filename) }

// Parse reads a stored message. A malformed part ends the walk without
// failing: what was read is shown.
func Parse(body []byte) (*Message, error) {
	e, err := gomessage.Read(bytes.NewReader(body))
	if err != nil && e == nil {
		return nil, fmt.Errorf("read message: %w", err)
	}
	h := gomail.Header{Header: e.Header}
	m := &Message{Header: h, Inline: map[string]*Part{}}
	m.From, _ = h.AddressList("From")
	if len(m.From) == 0 {
		m.FromRaw = decodeText(h.Get("From"))
	}
	m.To, _ = h.AddressList("To")
	m.Cc, _ = h.AddressList("Cc")
	m.ReplyTo, _ = h.AddressList("Reply-To")
	m.ToRaw, m.CcRaw = decodeText(h.Get("To")), decodeText(h.Get("Cc"))
	m.Subject = decodeText(h.Get("Subject"))
	if d, err := h.Date(); err == nil {
		m.Date = d
	}
	m.MessageID = strings.TrimSpace(h.Get("Message-Id"))
	m.InReplyTo = strings.TrimSpace(h.Get("In-Reply-To"))
	m.References = strings.Join(strings.Fields(h.Get("References")), " ")
	w := &walker{m: m}
	w.walk(e, "", 0)
	return m, nil
}

type walker struct {
	m     *Message
	count int
}

func (w *walker) walk(e *gomessage.Entity, path string, depth int) {
	w.count++
	if depth > maxDepth || w.count > maxParts {
		return
	}
	if mr := e.MultipartReader(); mr != nil {
		for i := 1; ; i++ {
			p, err := mr.NextPart()
			if err != nil {
				if !errors.Is(err, io.EOF) && !gomessage.IsUnknownCharset(err) && !gomessage.IsUnknownEncoding(err) {
					return
				}
				if p == nil {
					return
				}
			}
			child := strconv.Itoa(i)
			if path != "" {
				child = path + "." + child
			}
			w.walk(p, child, depth+1)
		}
	}
	if path == "" {
		path = "1"
	}
	data, _ := io.ReadAll(e.Body)
	ct, params, err := e.Header.ContentType()
	if err != nil || ct == "" {
		ct = "text/plain"
	}
	ct = strings.ToLower(ct)
	disp, dparams, _ := e.Header.ContentDisposition()
	name := dparams["filename"]
	if name == "" {
		name = params["name"]
	}
	name = cleanFilename(decodeText(name))
	cid := strings.Trim(strings.TrimSpace(e.Header.Get("Content-Id")), "<>")
	p := &Part{Path: path, ContentType: ct, Filename: name, ContentID: cid, Inline: !strings.EqualFold(disp, "attachment"), Data: data}
	isBody := p.Inline && name == "" && (ct == "text/plain" || ct == "text/html")
	switch {
	case isBody && ct == "text/plain" && w.m.Text == "" && !w.m.HasHTML:
		w.m.Text = toUTF8(data)
		return
	case isBody && ct == "text/html" && !w.m.HasHTML:
		w.m.HTML, w.m.HasHTML = toUTF8(data), true
		return
	case isBody:
		// A second body (the other alternative): not an attachment.
		if ct == "text/plain" && w.m.Text == "" {
			w.m.Text = toUTF8(data)
		}
		return
	}
	if cid != "" && p.Inline && strings.HasPrefix(ct, "image/") {
		w.m.Inline[cid] = p
	}
	if p.Filename == "" {
		p.Filename = defaultName(path, ct)
	}
	w.m.Attachments = append(w.m.Attachments, p)
}

// FindPart returns the leaf part numbered path among the attachments, or nil.
func (m *Message) FindPart(path string) *Part {
	for _, p := range m.Attachments {
		if p.Path == path {
			return p
		}
	}
	return nil
}

// BodyText is the text of the message: its text/plain body, or the text of
// its HTML body.
func (m *Message) BodyText() string {
	if m.Text != "" {
		return m.Text
	}
	if m.HasHTML {
		return HTMLToText(m.HTML)
	}
	return ""
}

var wordDecoder = &mime.WordDecoder{CharsetReader: gomessage.CharsetReader}

// decodeText decodes RFC 2047 encoded words; undecodable text is kept.
func decodeText(s string) string {
	if d, err := wordDecoder.DecodeHeader(s); err == nil {
		s = d
	}
	return strings.TrimSpace(strings.ToValidUTF8(s, "\uFFFD"))
}

// DecodeHeader decodes the RFC 2047 encoded words of a header value.
func DecodeHeader(s string) string { return decodeText(s) }

// toUTF8 returns a text body as UTF-8 with \n line ends.
func toUTF8(b []byte) string {
	if utf8.Valid(b) {
		return normalizeNewlines(string(b))
	}
	// Undeclared 8-bit text is most often Latin-1 in France.
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return normalizeNewlines(string(r))
}

// cleanFilename keeps only the last path element of a file name and drops
// control characters, so that a download cannot name a path.
func cleanFilename(s string) string {
	if i := strings.LastIndexAny(s, `/\`); i >= 0 {
		s = s[i+1:]
	}
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if s == "." || s == ".." {
		return ""
	}
	if len(s) > 200 {
		s = s[:200]
		s = strings.ToValidUTF8(s, "")
	}
	return s
}

// defaultName names a part that has no file name.
func defaultName(path, ct string) string {
	ext := ".bin"
	switch {
	case ct == "message/rfc822":
		ext = ".eml"
	case ct == "text/plain":
		ext = ".txt"
	case ct == "text/html":
		ext = ".html"
	default:
		if exts, _ := mime.ExtensionsByType(ct); len(exts) > 0 {
			ext = exts[0]
		}
	}
	return "piece-" + strings.ReplaceAll(path, ".", "-") + ext
}

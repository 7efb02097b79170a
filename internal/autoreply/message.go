package autoreply

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"html"
	"mime"
	"mime/quotedprintable"
	"regexp"
	"strings"
	"time"
	"unicode"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/htmlsafe"
)

// SubjectPrefix starts the subject of a reply whose « Objet » is empty.
const SubjectPrefix = "Réponse automatique : "

// maxSubjectRunes bounds the answered subject repeated in the reply.
const maxSubjectRunes = 200

var msgIDRe = regexp.MustCompile(`<[^<>\s]{1,250}>`)

// Build returns the automatic reply of account a, configured as ar, to the
// message described by p (RFC 3834 §3): From the account (its MSSanté
// address when it has one), To the envelope sender, Subject « Objet » or
// SubjectPrefix and the original subject, In-Reply-To and References
// threading it under the original (RFC 5322 §3.6.4), Auto-Submitted:
// auto-replied (RFC 3834 §5), and a multipart/alternative body (RFC 2046
// §5.1.4) with a text rendering and the sanitised HTML.
func Build(a *account.Account, ar account.AutoReply, p Job, msgID string, now time.Time) []byte {
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }
	from := replyAddress(a)
	if name := headerText(a.DisplayName()); name != "" {
		w("From: %s <%s>", encodeWords(name), from)
	} else {
		w("From: <%s>", from)
	}
	w("To: <%s>", p.Sender)
	subject := headerText(ar.Subject)
	if subject == "" {
		orig := headerText(p.Subject)
		if r := []rune(orig); len(r) > maxSubjectRunes {
			orig = string(r[:maxSubjectRunes]) + "…"
		}
		subject = SubjectPrefix + orig
	}
	w("Subject: %s", encodeWords(subject))
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: %s", msgID)
	if id := msgIDRe.FindString(p.MessageID); id != "" {
		w("In-Reply-To: %s", id)
		refs := msgIDRe.FindAllString(p.References, -1)
		if len(refs) > 10 {
			refs = append(refs[:1], refs[len(refs)-9:]...)
		}
		w("References: %s", strings.Join(append(refs, id), "\r\n "))
	}
	w("Auto-Submitted: auto-replied")
	// Asks Microsoft servers not to answer the answer.
	w("X-Auto-Response-Suppress: All")
	w("MIME-Version: 1.0")
	boundary := "=_autoreply_" + randomHex(12)
	w("Content-Type: multipart/alternative; boundary=\"%s\"", boundary)
	w("")
	body := htmlsafe.Sanitize(ar.HTML)
	text := htmlsafe.ToText(body)
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=utf-8")
	w("Content-Transfer-Encoding: quoted-printable")
	w("")
	writeQP(&b, text)
	w("")
	w("--%s", boundary)
	w("Content-Type: text/html; charset=utf-8")
	w("Content-Transfer-Encoding: quoted-printable")
	w("")
	writeQP(&b, "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>"+html.EscapeString(subject)+
		"</title></head><body>"+body+"</body></html>")
	w("")
	w("--%s--", boundary)
	return b.Bytes()
}

// headerText makes s fit in a header field: one line, no control
// characters.
func headerText(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// encodeWords encodes s as RFC 2047 encoded words when it is not plain
// ASCII, folding between words so that lines stay short (RFC 5322 §2.1.1).
func encodeWords(s string) string {
	enc := mime.QEncoding.Encode("utf-8", s)
	return strings.ReplaceAll(enc, "?= =?", "?=\r\n =?")
}

func writeQP(b *bytes.Buffer, s string) {
	s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
	qp := quotedprintable.NewWriter(b)
	qp.Write([]byte(s))
	qp.Close()
}

func randomHex(n int) string {
	buf := make([]byte, n)
	rand.Read(buf)
	return hex.EncodeToString(buf)
}

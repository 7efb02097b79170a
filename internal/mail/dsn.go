package mail

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"mime"
	"mime/quotedprintable"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/emersion/go-message/textproto"
)

// FailedRecipient is one recipient reported in a delivery status
// notification (RFC 3464 §2.3).
type FailedRecipient struct {
	// Address is the recipient as given in RCPT TO (Final-Recipient).
	Address string
	// Status is the RFC 3463 status code, "5.x.x" for a failure.
	Status string
	// Diagnostic is the remote MTA's reply ("550 5.1.1 no such user"), or a
	// description of the local error when no MTA answered.
	Diagnostic string
	// DiagnosticType is the diagnostic-type of Diagnostic-Code (RFC 3464
	// §2.3.6): "smtp" (the default) for an SMTP reply, DiagnosticLocal for
	// an error seen here (connection, TLS, DNS).
	DiagnosticType string
	// RemoteMTA is the host name of the MTA that gave Diagnostic; empty
	// when no remote MTA was reached (RFC 3464 §2.3.5).
	RemoteMTA string
}

// DiagnosticLocal is the diagnostic-type of errors that are not SMTP
// replies: an extension type, as RFC 3464 §2.3.6 allows ("X-" prefix).
const DiagnosticLocal = "X-Hygie"

// maxFieldText keeps generated DSN fields well under the 998-octet line
// limit of RFC 5322 §2.1.1.
const maxFieldText = 900

// BuildDSN returns an RFC 3464 delivery status notification telling
// originalFrom that failed could not be delivered. It is a multipart/report
// (RFC 6522) of report-type delivery-status holding a human-readable part in
// French then English, a message/delivery-status part (Reporting-MTA, then
// per recipient Final-Recipient, Action: failed, Status, Remote-MTA,
// Diagnostic-Code) and a text/rfc822-headers part with originalHeader (the
// header section of the original message; a whole message may be given, its
// body is cut off). The Arrival-Date is the date of originalHeader's topmost
// Received field, this MTA's own trace (RFC 5321 §4.4); it is omitted when
// there is none.
//
// The DSN comes from MAILER-DAEMON@hostname and carries Auto-Submitted:
// auto-replied (RFC 3834 §5); it must be sent with a null reverse-path
// (RFC 5321 §4.5.5) so that it never causes another DSN.
func BuildDSN(hostname, reportingMTA, originalFrom, originalMsgID string, failed []FailedRecipient, originalHeader []byte, now time.Time) []byte {
	boundary := randomToken(16)
	header := HeaderSection(originalHeader)
	var b bytes.Buffer
	w := func(format string, args ...any) { fmt.Fprintf(&b, format+"\r\n", args...) }

	w("From: Mail Delivery System <MAILER-DAEMON@%s>", hostname)
	w("To: <%s>", fieldText(originalFrom))
	w("Subject: %s", mime.QEncoding.Encode("utf-8", "Non distribué / Undelivered Mail Returned to Sender"))
	w("Date: %s", now.Format(time.RFC1123Z))
	w("Message-ID: <%s@%s>", randomToken(12), hostname)
	if id := fieldText(originalMsgID); strings.HasPrefix(id, "<") && strings.HasSuffix(id, ">") {
		// RFC 5322 §3.6.4: thread the report under the message it is about.
		w("In-Reply-To: %s", id)
		w("References: %s", id)
	}
	w("Auto-Submitted: auto-replied")
	w("MIME-Version: 1.0")
	w("Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary=\"%s\"", boundary)
	w("")
	w("This is a MIME-encapsulated delivery status notification (RFC 3464).")
	w("")

	// Part 1: for people (RFC 3464 §2.1, RFC 6522 §3).
	w("--%s", boundary)
	w("Content-Type: text/plain; charset=utf-8")
	w("Content-Transfer-Encoding: quoted-printable")
	w("")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(humanText(hostname, originalMsgID, failed)))
	qp.Close()
	w("")

	// Part 2: for machines (RFC 3464 §2.2 and §2.3).
	w("--%s", boundary)
	w("Content-Type: message/delivery-status")
	w("")
	w("Reporting-MTA: dns; %s", fieldText(reportingMTA))
	if at, ok := arrivalDate(header); ok {
		w("Arrival-Date: %s", at.Format(time.RFC1123Z))
	}
	for _, f := range failed {
		w("")
		w("Final-Recipient: rfc822; %s", fieldText(f.Address))
		w("Action: failed")
		w("Status: %s", fieldText(f.Status))
		if f.RemoteMTA != "" {
			w("Remote-MTA: dns; %s", fieldText(f.RemoteMTA))
		}
		if f.Diagnostic != "" {
			typ := f.DiagnosticType
			if typ == "" {
				typ = "smtp"
			}
			w("Diagnostic-Code: %s; %s", typ, fieldText(f.Diagnostic))
		}
		w("Last-Attempt-Date: %s", now.Format(time.RFC1123Z))
	}
	w("")

	// Part 3: the original header, never the body (RFC 3464 §2.1,
	// text/rfc822-headers of RFC 6522 §4).
	w("--%s", boundary)
	w("Content-Type: text/rfc822-headers")
	if !isASCII(header) {
		w("Content-Transfer-Encoding: 8bit")
	}
	w("")
	b.Write(header)
	w("--%s--", boundary)
	return b.Bytes()
}

// humanText is the explanation shown to the sender, French first (SPEC).
func humanText(hostname, msgID string, failed []FailedRecipient) string {
	var fr, en strings.Builder
	fmt.Fprintf(&fr, "Ceci est un message automatique du serveur de messagerie %s.\n\n", hostname)
	fr.WriteString("Votre message n'a pas pu être remis aux destinataires suivants :\n\n")
	fmt.Fprintf(&en, "This is an automatic message from the mail server %s.\n\n", hostname)
	en.WriteString("Your message could not be delivered to the following recipients:\n\n")
	for _, f := range failed {
		line := fmt.Sprintf("  <%s>\n    %s\n", fieldText(f.Address), fieldText(f.Diagnostic))
		fr.WriteString(line)
		en.WriteString(line)
	}
	if msgID != "" {
		fmt.Fprintf(&fr, "\nMessage concerné : %s\n", fieldText(msgID))
		fmt.Fprintf(&en, "\nMessage: %s\n", fieldText(msgID))
	}
	fr.WriteString("Aucune nouvelle tentative ne sera faite. Vérifiez l'adresse du destinataire ou contactez le support de votre messagerie.\n")
	en.WriteString("No further attempts will be made. Check the recipient's address or contact your mail support.\n")
	return fr.String() + "\n-- English --\n\n" + en.String()
}

// HeaderSection returns the header section of msg up to and including the
// empty line that ends it (RFC 5322 §2.1), with CRLF line endings. A message
// without body separator is all header.
func HeaderSection(msg []byte) []byte {
	end := len(msg)
	if i := bytes.Index(msg, []byte("\n\n")); i >= 0 {
		end = i + 1
	}
	if i := bytes.Index(msg, []byte("\n\r\n")); i >= 0 && i+1 < end {
		end = i + 1
	}
	h := bytes.ReplaceAll(msg[:end], []byte("\r\n"), []byte("\n"))
	h = bytes.TrimRight(h, "\r\n")
	if len(h) == 0 {
		return nil
	}
	return append(bytes.ReplaceAll(h, []byte("\n"), []byte("\r\n")), "\r\n\r\n"...)
}

// arrivalDate reads the date of the topmost Received field (RFC 5321 §4.4:
// the time stamp follows the last ';').
func arrivalDate(header []byte) (time.Time, bool) {
	if len(header) == 0 {
		return time.Time{}, false
	}
	h, err := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(header)))
	if err != nil {
		return time.Time{}, false
	}
	rcv := h.Get("Received")
	i := strings.LastIndexByte(rcv, ';')
	if i < 0 {
		return time.Time{}, false
	}
	t, err := netmail.ParseDate(strings.TrimSpace(rcv[i+1:]))
	return t, err == nil
}

// fieldText makes s safe inside a generated header field: one line of
// printable US-ASCII (other characters become '?'), at most maxFieldText.
func fieldText(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e {
			return '?'
		}
		return r
	}, s)
	if len(s) > maxFieldText {
		s = s[:maxFieldText]
	}
	return s
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c > 0x7e {
			return false
		}
	}
	return true
}

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

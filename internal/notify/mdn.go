package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/address"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
)

// Disposition is the disposition field of Hygie's receipts (RFC 8098
// §3.2.6): the reader displayed the message (manual-action), and the
// receipt left without asking the reader each time, as the platform is
// configured to answer receipt requests (MDN-sent-automatically).
const Disposition = "manual-action/MDN-sent-automatically; displayed"

// mdnJob is the payload of a JobMDN job: everything the receipt says, so
// that it can be built even once the original message is gone.
type mdnJob struct {
	MessageID  int64  `json:"message_id"` // stored message, for traces
	ReaderID   int64  `json:"reader_id"`
	ReaderAddr string `json:"reader_addr"`
	To         string `json:"to"`
	OrigMsgID  string `json:"orig_msgid,omitempty"`
	OrigRcpt   string `json:"orig_rcpt,omitempty"`
	Subject    string `json:"subject,omitempty"`
	Sent       int64  `json:"sent"`
	Opened     int64  `json:"opened"`
}

// mdnRequest decides whether the opening of a message calls for a receipt
// (RFC 8098 §2.1): it must carry Disposition-Notification-To with a single
// address, equal to the envelope sender (the Return-Path: otherwise a
// receipt needs the reader's explicit consent, which Hygie does not ask),
// and must not itself be a report (never a receipt for a receipt, §2.1 and
// §3: nor for a DSN).
func (n *Notifier) mdnRequest(reader *account.Account, readerAddr, sender string, h *mail.Header, messageID int64, sent, now time.Time) (mdnJob, bool) {
	if h.DispositionNotificationTo == "" {
		return mdnJob{}, false
	}
	if ct, params, err := mime.ParseMediaType(h.Fields.Get("Content-Type")); err == nil && ct == "multipart/report" {
		n.log.Info("notify: no receipt for a report", "message", messageID, "report-type", params["report-type"])
		return mdnJob{}, false
	}
	rp, err := address.Parse(sender)
	if err != nil {
		n.log.Info("notify: no receipt for a message with a null reverse-path", "message", messageID)
		return mdnJob{}, false
	}
	mh := gomail.Header{Header: message.Header{Header: h.Fields}}
	list, err := mh.AddressList("Disposition-Notification-To")
	if err != nil || len(list) == 0 {
		n.log.Info("notify: unreadable Disposition-Notification-To", "message", messageID, "err", err)
		return mdnJob{}, false
	}
	to := ""
	for _, a := range list {
		norm, err := address.Parse(a.Address)
		if err != nil || to != "" && norm != to {
			n.log.Info("notify: no receipt: Disposition-Notification-To names several addresses", "message", messageID)
			return mdnJob{}, false
		}
		to = norm
	}
	if to != rp {
		n.log.Info("notify: no receipt: Disposition-Notification-To differs from the return path", "message", messageID,
			"to", to, "return_path", rp)
		return mdnJob{}, false
	}
	return mdnJob{MessageID: messageID, ReaderID: reader.ID, ReaderAddr: readerAddr, To: to,
		OrigMsgID: h.MessageID, OrigRcpt: oneLine(h.Fields.Get("Original-Recipient")), Subject: h.Subject,
		Sent: sent.Unix(), Opened: now.Unix()}, true
}

// mdnDeliveryKey marks the context of a receipt's delivery with the id of
// its job, so that the Received effect settles the job inside the delivery
// transaction.
type mdnDeliveryKey struct{}

// errMDNSettled means the receipt's job was already settled: another runner
// delivered it.
var errMDNSettled = errors.New("receipt already delivered")

// settleMDN deletes the receipt's job inside the delivery transaction; when
// it is gone already the delivery is rolled back.
func settleMDN(ctx context.Context, tx *store.Tx, job int64) error {
	res, err := tx.Exec(ctx, `DELETE FROM jobs WHERE id = ? AND kind = ?`, job, JobMDN)
	if err != nil {
		return err
	}
	if k, _ := res.RowsAffected(); k == 0 {
		return errMDNSettled
	}
	return nil
}

// HandleMDN is the queue handler of JobMDN: it builds the receipt and
// delivers it through the pipeline, routed as if the reader wrote to the
// requester (so a MED reader's receipt to another operator is not sent,
// SPEC §1). The delivery uses SourceSystem: mail generated here, kept out
// of the reader's Sent folder, with a null reverse-path (RFC 8098 §3: no
// report about a report); it may leave for a trusted operator like any
// message. With the Received effect installed, the job is settled in the
// delivery transaction: delivered exactly once.
func (n *Notifier) HandleMDN(ctx context.Context, j queue.Job) error {
	var p mdnJob
	if err := json.Unmarshal(j.Payload, &p); err != nil {
		n.log.Error("notify: bad receipt job dropped", "job", j.ID, "err", err)
		return queue.Complete(ctx, n.cfg.St, j.ID, nil)
	}
	reader, err := n.cfg.Accounts.ByID(ctx, p.ReaderID)
	if errors.Is(err, account.ErrNotFound) || err == nil && reader.Disabled {
		n.log.Info("notify: receipt dropped: reader gone", "job", j.ID, "reader", p.ReaderID)
		return queue.Complete(ctx, n.cfg.St, j.ID, nil)
	}
	if err != nil {
		return n.retryMDN(ctx, j, err)
	}
	dest, err := n.cfg.Router.Route(ctx, reader, p.To)
	if err != nil {
		var me *mail.Error
		if errors.As(err, &me) && me.Temporary() {
			return n.retryMDN(ctx, j, err)
		}
		n.log.Info("notify: receipt not sent", "reader", reader.Login, "to", p.To, "reason", err)
		return queue.Complete(ctx, n.cfg.St, j.ID, nil)
	}
	data := n.BuildMDN(reader.DisplayName(), p)
	env := mail.Envelope{Source: mail.SourceSystem, Recipients: []mail.Destination{dest}, Route: "mdn from " + p.ReaderAddr}
	_, err = n.cfg.Pipeline.Deliver(context.WithValue(ctx, mdnDeliveryKey{}, j.ID), env, data)
	if errors.Is(err, errMDNSettled) {
		return nil
	}
	if err != nil {
		var me *mail.Error
		if errors.As(err, &me) && !me.Temporary() {
			n.log.Error("notify: receipt refused", "reader", reader.Login, "to", p.To, "err", err)
			return queue.Complete(ctx, n.cfg.St, j.ID, nil)
		}
		return n.retryMDN(ctx, j, err)
	}
	n.log.Info("notify: receipt delivered", "reader", p.ReaderAddr, "to", p.To, "original", p.OrigMsgID)
	// Normally settled already by the Received effect; harmless otherwise.
	return queue.Complete(ctx, n.cfg.St, j.ID, nil)
}

func (n *Notifier) retryMDN(ctx context.Context, j queue.Job, cause error) error {
	if j.Attempts >= 20 {
		n.log.Error("notify: receipt given up", "job", j.ID, "err", cause)
		return queue.Complete(ctx, n.cfg.St, j.ID, nil)
	}
	next := time.Now().Add(queue.Backoff(j.Attempts, time.Minute, time.Hour))
	return queue.Reschedule(ctx, n.cfg.St, j.ID, next, cause.Error(), nil)
}

// BuildMDN writes the receipt of RFC 8098 §3: a multipart/report of
// report-type disposition-notification with a human-readable part and a
// message/disposition-notification part, From the reader To the requester.
func (n *Notifier) BuildMDN(readerName string, p mdnJob) []byte {
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	now := n.now()

	var b bytes.Buffer
	from := (&netmail.Address{Name: readerName, Address: p.ReaderAddr}).String()
	fmt.Fprintf(&b, "From: %s\r\n", from)
	fmt.Fprintf(&b, "To: <%s>\r\n", p.To)
	subject := "Accusé de lecture"
	if p.Subject != "" {
		subject += " : " + p.Subject
	}
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", oneLine(subject)))
	fmt.Fprintf(&b, "Date: %s\r\n", now.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: %s\r\n", n.newMessageID())
	if p.OrigMsgID != "" {
		fmt.Fprintf(&b, "In-Reply-To: %s\r\nReferences: %s\r\n", oneLine(p.OrigMsgID), oneLine(p.OrigMsgID))
	}
	// RFC 3834 §5: an automatic answer; no receipt request of its own.
	b.WriteString("Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n")
	fmt.Fprintf(&b, "Content-Type: multipart/report; report-type=disposition-notification;\r\n\tboundary=\"%s\"\r\n\r\n", mw.Boundary())

	human, _ := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {"text/plain; charset=utf-8"},
		"Content-Transfer-Encoding": {"quoted-printable"},
	})
	qp := quotedprintable.NewWriter(human)
	fmt.Fprintf(qp, "Le message que vous avez envoyé le %s à %s a été affiché par son destinataire le %s.\r\n\r\n",
		n.frDate(time.Unix(p.Sent, 0)), p.ReaderAddr, n.frDate(time.Unix(p.Opened, 0)))
	qp.Write([]byte("Cet accusé indique seulement que le message a été ouvert : il ne garantit pas qu'il a été lu ni compris.\r\n"))
	qp.Close()

	report, _ := mw.CreatePart(textproto.MIMEHeader{"Content-Type": {"message/disposition-notification"}})
	host := n.cfg.Hostname
	if host == "" {
		host = "localhost"
	}
	fmt.Fprintf(report, "Reporting-UA: %s; Hygie\r\n", host)
	if p.OrigRcpt != "" {
		fmt.Fprintf(report, "Original-Recipient: %s\r\n", p.OrigRcpt)
	}
	fmt.Fprintf(report, "Final-Recipient: rfc822;%s\r\n", p.ReaderAddr)
	if p.OrigMsgID != "" {
		fmt.Fprintf(report, "Original-Message-ID: %s\r\n", oneLine(p.OrigMsgID))
	}
	fmt.Fprintf(report, "Disposition: %s\r\n", Disposition)
	mw.Close()

	b.Write(body.Bytes())
	return b.Bytes()
}

func (n *Notifier) newMessageID() string {
	var r [12]byte
	rand.Read(r[:])
	host := n.cfg.Hostname
	if host == "" {
		host = "localhost"
	}
	return "<" + hex.EncodeToString(r[:]) + "@" + host + ">"
}

// oneLine keeps header text on one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/address"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/outmail"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
)

// Opened is the pipeline's OnOpened hook (B): reader, a platform account or
// box, opened stored message messageID (webmail display, IMAP \Seen, device
// API). On the first opening by this reader only, in one transaction, it
// records the opening, queues an opening notification to the sender when
// the sender is a platform account that asked for them (notify_open), and
// queues an RFC 8098 receipt when the message asks for one. Later openings,
// one's own messages, and messages the reader does not hold do nothing.
func (n *Notifier) Opened(ctx context.Context, reader *account.Account, messageID int64) error {
	if reader == nil {
		return nil
	}
	now := n.now()
	err := n.cfg.St.Tx(ctx, func(tx *store.Tx) error {
		var sender, msgID string
		var created int64
		err := tx.QueryRow(ctx, `SELECT sender, message_id, created_at FROM messages WHERE id = ?`, messageID).Scan(&sender, &msgID, &created)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		if sender != "" && reader.HasAddress(sender) {
			return nil // one's own message (Sent, Drafts)
		}
		var held int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM entries e JOIN mailboxes b ON b.id = e.mailbox_id
			WHERE b.account_id = ? AND e.message_id = ?`, reader.ID, messageID).Scan(&held); err != nil {
			return err
		}
		if held == 0 {
			n.log.Warn("notify: opening of a message the reader does not hold ignored", "reader", reader.Login, "message", messageID)
			return nil
		}
		res, err := tx.Exec(ctx, `INSERT INTO openings (message_id, account_id, opened_at) VALUES (?, ?, ?)
			ON CONFLICT (message_id, account_id) DO NOTHING`, messageID, reader.ID, now.Unix())
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return nil // not the first opening
		}
		raw, err := mailbox.Header(ctx, tx, messageID)
		if err != nil {
			return err
		}
		h, err := mail.ParseHeader(raw)
		if err != nil {
			n.log.Warn("notify: opened message has a malformed header", "message", messageID, "err", err)
			return nil
		}
		readerAddr := readerAddress(reader, h)
		sent := time.Unix(created, 0)
		if err := n.openingNotice(ctx, tx, sender, reader, readerAddr, sent); err != nil {
			return err
		}
		if job, ok := n.mdnRequest(reader, readerAddr, sender, h, messageID, sent, now); ok {
			if _, err := queue.Enqueue(ctx, tx, JobMDN, job, time.Now()); err != nil {
				return err
			}
			n.wake(tx)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("opening of message %d by %s: %w", messageID, reader.Login, err)
	}
	return nil
}

// readerAddress is the reader's address as the sender knows it: the one of
// its addresses that the To or Cc field names, else its login.
func readerAddress(reader *account.Account, h *mail.Header) string {
	mh := gomail.Header{Header: message.Header{Header: h.Fields}}
	for _, field := range []string{"To", "Cc"} {
		list, _ := mh.AddressList(field)
		for _, a := range list {
			if reader.HasAddress(a.Address) {
				if norm, err := address.Parse(a.Address); err == nil {
					return norm
				}
			}
		}
	}
	return reader.Login
}

// openingNotice queues the opening notification when sender is a platform
// account or box with notify_open and somewhere to send it.
func (n *Notifier) openingNotice(ctx context.Context, tx *store.Tx, sender string, reader *account.Account, readerAddr string, sent time.Time) error {
	norm, err := address.Parse(sender)
	if err != nil {
		return nil // null or foreign reverse-path: nobody here to tell
	}
	var id int64
	var kind, login, notify, first, last, label string
	var open int
	err = tx.QueryRow(ctx, `SELECT id, kind, login, notify, notify_open, first_name, last_name, label FROM accounts
		WHERE (login = ? OR mss = ?) AND disabled = 0`, norm, norm).Scan(&id, &kind, &login, &notify, &open, &first, &last, &label)
	if errors.Is(err, sql.ErrNoRows) {
		return nil // a user of another operator: opening is not reported there
	}
	if err != nil {
		return err
	}
	if open == 0 {
		return nil
	}
	isBox := account.Kind(kind) == account.ORG
	ts, err := targets(ctx, tx, id, isBox, notify, true)
	if err != nil {
		return err
	}
	who := name(reader.DisplayName(), readerAddr)
	for _, t := range ts {
		var b strings.Builder
		b.WriteString("Bonjour,\n\n")
		if isBox {
			fmt.Fprintf(&b, "%s a ouvert le message envoyé le %s par la boîte organisationnelle %s.\n\n", who, n.frDate(sent), name(label, login))
		} else {
			fmt.Fprintf(&b, "%s a ouvert votre message du %s.\n\n", who, n.frDate(sent))
		}
		fmt.Fprintf(&b, "Pour retrouver ce message, connectez-vous à %s :\n%s\n\n", n.cfg.PlatformName, n.mailLink(id))
		b.WriteString("Par sécurité, cette notification n'indique ni l'objet ni le contenu du message.\n\n")
		b.WriteString("Vous recevez cette notification parce que les notifications d'ouverture sont activées " +
			"(Gérer mon compte > Notifications).\n")
		m := outmail.Mail{To: t.To, Subject: n.cfg.PlatformName + " : votre message a été ouvert",
			Text: b.String(), Kind: KindOpened}
		if err := outmail.Enqueue(ctx, tx, m); err != nil {
			n.log.Warn("notify: opening notification not queued", "sender", login, "to", t.To, "err", err)
			continue
		}
		n.wake(tx)
	}
	return nil
}

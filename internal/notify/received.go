package notify

import (
	"context"
	"fmt"
	"strings"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/outmail"
	"github.com/hygie-sante/hygie/internal/store"
)

// target is one address a notification goes to.
type target struct {
	To string
	// Member is set when To is a box member's own address, not the box's.
	Member bool
}

// targets returns where a notification about account or box a goes: its
// own notification address when own is set (and known), and for a box the
// own addresses of the members who kept « recevoir les notifications sur
// mon adresse individuelle » (SPEC §2.2 C.2). Each address appears once.
func targets(ctx context.Context, q store.Querier, id int64, isBox bool, notify string, own bool) ([]target, error) {
	var out []target
	seen := map[string]bool{}
	add := func(addr string, member bool) {
		k := strings.ToLower(strings.TrimSpace(addr))
		if k == "" || seen[k] {
			return
		}
		seen[k] = true
		out = append(out, target{To: addr, Member: member})
	}
	if own {
		add(notify, false)
	}
	if !isBox {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT a.notify FROM box_members m JOIN accounts a ON a.id = m.account_id
		WHERE m.box_id = ? AND m.notify = 1 AND a.disabled = 0 AND a.notify <> '' ORDER BY a.id`, id)
	if err != nil {
		return nil, fmt.Errorf("box members to notify: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var addr string
		if err := rows.Scan(&addr); err != nil {
			return nil, fmt.Errorf("box members to notify: %w", err)
		}
		add(addr, true)
	}
	return out, rows.Err()
}

// Received is the delivery effect of A.1 (register it in the pipeline's
// Effects): for each local account or box whose INBOX got the message, one
// mail to each notification address saying that a message arrived, with a
// link to the webmail. It never names the sender, the subject or anything
// of the content (SPEC §1).
func (n *Notifier) Received(ctx context.Context, tx *store.Tx, d *mail.Delivery) error {
	if job, ok := ctx.Value(mdnDeliveryKey{}).(int64); ok {
		// This delivery is a receipt built by the mdn job: settle the job
		// in the same transaction, so that it is delivered exactly once.
		if err := settleMDN(ctx, tx, job); err != nil {
			return err
		}
	}
	for _, a := range d.Local {
		if d.Envelope.Identity != nil && d.Envelope.Identity.ID == a.ID {
			continue // one's own message to oneself
		}
		facts, ok := d.Facts[a.ID]
		if !ok {
			continue // deleted meanwhile
		}
		ts, err := targets(ctx, tx, a.ID, a.IsBox(), a.Notify, facts.NotifyEach)
		if err != nil {
			return fmt.Errorf("notify %s: %w", a.Login, err)
		}
		for _, t := range ts {
			m := outmail.Mail{To: t.To, Subject: n.cfg.PlatformName + " : vous avez reçu un nouveau message",
				Text: n.receivedText(a, t.Member), Kind: KindMessage}
			if err := outmail.Enqueue(ctx, tx, m); err != nil {
				// A malformed stored address must not refuse the message.
				n.log.Warn("notify: notification not queued", "account", a.Login, "to", t.To, "err", err)
				continue
			}
			d.Queued = true
		}
	}
	return nil
}

// receivedText is the body of an arrival notification: who received a
// message and where to read it; nothing about the message itself.
func (n *Notifier) receivedText(a *account.Account, member bool) string {
	var b strings.Builder
	b.WriteString("Bonjour,\n\n")
	if a.IsBox() {
		fmt.Fprintf(&b, "Un nouveau message est arrivé dans la boîte organisationnelle %s de votre messagerie %s.\n\n",
			name(a.DisplayName(), a.Login), n.cfg.PlatformName)
	} else {
		fmt.Fprintf(&b, "Un nouveau message est arrivé dans votre messagerie %s, pour %s.\n\n",
			n.cfg.PlatformName, name(a.DisplayName(), a.Login))
	}
	fmt.Fprintf(&b, "Pour le lire, connectez-vous à %s :\n%s\n\n", n.cfg.PlatformName, n.mailLink(a.ID))
	b.WriteString("Par sécurité, cette notification n'indique ni l'expéditeur, ni l'objet, ni le contenu du message : " +
		"ils restent dans l'espace de confiance de la messagerie sécurisée de santé.\n\n")
	if member {
		b.WriteString("Vous recevez cette notification parce que la case « recevoir les notifications sur mon adresse individuelle » " +
			"est cochée pour cette boîte (Gérer mon compte > Identifiants de connexion).\n")
	} else {
		b.WriteString("Vous recevez cette notification parce que l'option « recevoir une notification à chaque message reçu » " +
			"est cochée (Gérer mon compte > Notifications).\n")
	}
	return b.String()
}

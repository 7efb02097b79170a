package mail

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"strings"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
)

// DelegationHeader marks a delegation copy with the address of the account
// the message was received for (SPEC §2.6). Its value is that account's
// login address.
const DelegationHeader = "X-Hygie-Delegation"

// DelegationSubjectPrefix returns the subject prefix of a copy received for
// the account named name: « [Délégation de Jean Dupont] ».
func DelegationSubjectPrefix(name string) string {
	return "[Délégation de " + name + "] "
}

// DelegationCopies is the delivery Effect of « Délégations » (SPEC §2.6):
// every message stored in the INBOX of an account that has delegates is
// copied, in the same transaction, into each enabled delegate's INBOX,
// visibly marked as received for the delegating account (a DelegationHeader
// field and a subject prefix). A copy is a new stored message written here,
// not a delivery: it runs no effect, so copies are never copied again and
// mutual or chained delegations cannot loop. A delegate that received the
// original in the same delivery gets no copy of it.
func DelegationCopies(ctx context.Context, tx *store.Tx, d *Delivery) error {
	if len(d.Local) == 0 {
		return nil
	}
	got := make(map[int64]bool, len(d.Local))
	for _, a := range d.Local {
		got[a.ID] = true
	}
	var original []byte
	for _, owner := range d.Local {
		if !d.Facts[owner.ID].HasDelegates {
			continue
		}
		delegates, err := account.DelegatesTx(ctx, tx, owner.ID)
		if err != nil {
			return fmt.Errorf("delegation copies: %w", err)
		}
		for _, del := range delegates {
			if got[del.ID] {
				continue
			}
			if original == nil {
				if original, err = mailbox.Body(ctx, tx, d.ID); err != nil {
					return fmt.Errorf("delegation copies: %w", err)
				}
			}
			subject := DelegationSubjectPrefix(owner.DisplayName()) + d.Header.Subject
			body := delegationCopy(original, owner.Login, subject)
			id, err := mailbox.InsertMessage(ctx, tx, mailbox.Message{MessageID: d.MessageID, Sender: d.Envelope.From,
				Subject: subject, Body: body}, d.Now)
			if err != nil {
				return fmt.Errorf("delegation copy for %s: %w", del.Login, err)
			}
			// Filed with the delivery's own entries, in mailbox order.
			d.fileLater(del.ID, mailbox.Inbox, id, nil)
		}
	}
	return nil
}

// delegationCopy returns msg with the DelegationHeader field and a new
// Subject field (RFC 2047 encoded when needed, folded at encoded-word
// boundaries: RFC 5322 §2.2.3) in front of its header, and without its
// former Subject and DelegationHeader fields (a sender cannot plant a
// misleading mark).
func delegationCopy(msg []byte, owner, subject string) []byte {
	var b bytes.Buffer
	b.Grow(len(msg) + 200)
	fmt.Fprintf(&b, "%s: %s\r\n", DelegationHeader, owner)
	enc := mime.QEncoding.Encode("utf-8", subject)
	fmt.Fprintf(&b, "Subject: %s\r\n", strings.ReplaceAll(enc, "?= =?", "?=\r\n =?"))
	b.Write(dropFields(msg, "subject", strings.ToLower(DelegationHeader)))
	return b.Bytes()
}

// dropFields removes the header fields named (lower case) from msg, with
// their continuation lines; the body is kept byte for byte.
func dropFields(msg []byte, names ...string) []byte {
	out := make([]byte, 0, len(msg))
	skipping := false
	rest := msg
	for len(rest) > 0 {
		i := bytes.IndexByte(rest, '\n')
		line := rest
		if i >= 0 {
			line = rest[:i+1]
		}
		rest = rest[len(line):]
		trimmed := bytes.TrimRight(line, "\r\n")
		if len(trimmed) == 0 {
			// End of the header section: the body follows untouched.
			out = append(out, line...)
			return append(out, rest...)
		}
		if trimmed[0] == ' ' || trimmed[0] == '\t' {
			if !skipping {
				out = append(out, line...)
			}
			continue
		}
		skipping = false
		if k, _, ok := bytes.Cut(trimmed, []byte(":")); ok {
			name := strings.ToLower(strings.TrimSpace(string(k)))
			for _, n := range names {
				if name == n {
					skipping = true
				}
			}
		}
		if !skipping {
			out = append(out, line...)
		}
	}
	return out
}

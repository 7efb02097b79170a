package relay

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/mail"
)

// bounce is a DSN ready to be delivered.
type bounce struct {
	env  mail.Envelope
	data []byte
}

// prepareDSN builds the DSN telling the sender of p that failed could not
// be delivered, addressed to the sender's local mailbox. It returns nil
// when no DSN is due: nothing failed; the envelope sender is null, as for
// a DSN itself (RFC 3464 §2, RFC 5321 §6.1: no report about a report, to
// prevent loops); or the sender is not (or no longer) a mailbox here. Only
// a failure to look the sender up is an error.
func (r *Relay) prepareDSN(ctx context.Context, p mail.RemoteJob, body []byte, failed []outcome, now time.Time) (*bounce, error) {
	if len(failed) == 0 {
		return nil, nil
	}
	log := r.log.With("msgid", p.MsgID, "rcpts", rcptsOf(failed))
	if p.From == "" {
		log.Info("relay: no DSN for a message with a null reverse-path")
		return nil, nil
	}
	if r.cfg.Accounts == nil {
		log.Warn("relay: no account service, DSN dropped", "from", p.From)
		return nil, nil
	}
	a, err := r.cfg.Accounts.ByAddress(ctx, p.From)
	switch {
	case errors.Is(err, account.ErrNotFound), errors.Is(err, account.ErrInvalid):
		log.Warn("relay: sender is not a mailbox of this platform, DSN dropped", "from", p.From)
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("relay: DSN: look up sender %s: %w", p.From, err)
	case a.Disabled:
		log.Warn("relay: sender's mailbox is disabled, DSN dropped", "from", p.From)
		return nil, nil
	}
	frs := make([]mail.FailedRecipient, len(failed))
	for i, o := range failed {
		fr := mail.FailedRecipient{Address: o.Rcpt, Status: o.Status, Diagnostic: o.Text, RemoteMTA: o.RemoteMTA}
		if o.Code == 0 {
			fr.DiagnosticType = mail.DiagnosticLocal
			fr.Diagnostic = o.describe()
		}
		frs[i] = fr
	}
	data := mail.BuildDSN(r.cfg.Hostname, r.cfg.Hostname, p.From, p.MsgID, frs, mail.HeaderSection(body), now)
	return &bounce{
		env: mail.Envelope{Source: mail.SourceSystem, From: "", Route: "dsn",
			Recipients: []mail.Destination{{Address: p.From, Local: a}}},
		data: data,
	}, nil
}

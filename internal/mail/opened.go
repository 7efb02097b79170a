package mail

import (
	"context"

	"github.com/hygie-sante/hygie/internal/account"
)

// Opened records that reader opened stored message messageID for the first
// time (webmail display, IMAP \Seen, device API), so that its sender can be
// told (opening notification, RFC 8098 receipt). Protocol adapters call it
// on every opening; it does something only the first time.
func (p *Pipeline) Opened(ctx context.Context, reader *account.Account, messageID int64) error {
	if p.OnOpened == nil {
		return nil
	}
	return p.OnOpened(ctx, reader, messageID)
}

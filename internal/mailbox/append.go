package mailbox

import (
	"context"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// AppendMessage stores a message given by a client (IMAP APPEND, RFC 9051
// §6.3.12) and files it into folder folderID with the given flags and
// internal date. It returns the new UID.
func AppendMessage(ctx context.Context, tx *store.Tx, folderID int64, body []byte, flags []string, date time.Time) (uint32, error) {
	if err := CheckFlags(flags); err != nil {
		return 0, err
	}
	id, err := InsertMessage(ctx, tx, ParseMessage(body), time.Now())
	if err != nil {
		return 0, err
	}
	return Append(ctx, tx, folderID, id, flags, date)
}

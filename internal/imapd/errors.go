package imapd

import (
	"context"
	"errors"

	"github.com/emersion/go-imap/v2"

	"github.com/hygie-sante/hygie/internal/mailbox"
)

// no returns a tagged NO with a response code (RFC 5530).
func no(code imap.ResponseCode, text string) *imap.Error {
	return &imap.Error{Type: imap.StatusResponseTypeNo, Code: code, Text: text}
}

// bad returns a tagged BAD.
func bad(text string) *imap.Error {
	return &imap.Error{Type: imap.StatusResponseTypeBad, Text: text}
}

var (
	errNonexistent = no(imap.ResponseCodeNonExistent, "No such folder")
	errTryCreate   = no(imap.ResponseCodeTryCreate, "No such folder")
	errReadOnly    = no(imap.ResponseCode("READ-ONLY"), "Folder is read-only (EXAMINE)")
	errRevoked     = no(imap.ResponseCodeNoPerm, "Access to this shared box was withdrawn")
)

// fail turns an error of the layers below into the tagged response of
// command op: known conditions become NO with a response code, anything
// else is logged and reported as a server-side failure.
func (s *session) fail(op string, err error) error {
	var ie *imap.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ie):
		return ie
	case errors.Is(err, mailbox.ErrNoFolder):
		return errNonexistent
	case errors.Is(err, mailbox.ErrFolderExists):
		return no(imap.ResponseCodeAlreadyExists, "Folder already exists")
	case errors.Is(err, mailbox.ErrBadName):
		return no(imap.ResponseCodeCannot, "Invalid folder name")
	case errors.Is(err, mailbox.ErrProtected):
		return no(imap.ResponseCodeCannot, "Standard folders cannot be deleted or renamed")
	case errors.Is(err, mailbox.ErrBadFlag):
		return bad(err.Error())
	case errors.Is(err, context.Canceled):
		return no(imap.ResponseCodeUnavailable, "Server shutting down")
	}
	s.srv.log.Error("imap command failed", "op", op, "user", s.login(), "ip", s.remoteIP, "err", err)
	return no(imap.ResponseCodeServerBug, "Internal error, please try again")
}

// Package mail owns the life of a message inside Hygie: header handling, the
// routing rules of SPEC §1, and the delivery pipeline that stores a message,
// its mailbox entries and every side effect (as jobs) in one transaction.
package mail

import "fmt"

// Error is a refusal that protocol adapters can show as is: an SMTP reply
// code, an enhanced status code (RFC 3463) and a reason safe to show.
type Error struct {
	Code     int
	Enhanced [3]int
	Message  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d %d.%d.%d %s", e.Code, e.Enhanced[0], e.Enhanced[1], e.Enhanced[2], e.Message)
}

// Temporary reports whether the sender may try again later (4xx).
func (e *Error) Temporary() bool { return e.Code >= 400 && e.Code < 500 }

func refuse(code int, a, b, c int, format string, args ...any) *Error {
	return &Error{Code: code, Enhanced: [3]int{a, b, c}, Message: fmt.Sprintf(format, args...)}
}

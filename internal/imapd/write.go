package imapd

import (
	"errors"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// write runs fn in a write transaction, and again (up to three times) when
// PostgreSQL picked it as the victim of a deadlock or of a serialization
// failure (SQLSTATE 40P01, 40001): concurrent sessions may lock the same
// entries and messages. fn must set its results anew on each run.
func (s *session) write(fn func(tx *store.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.srv.cfg.St.Tx(s.ctx, fn)
		if err == nil || attempt == 3 || !retryable(err) {
			return err
		}
		s.srv.log.Warn("imap: transaction retried", "user", s.login(), "err", err)
		time.Sleep(time.Duration(attempt) * 5 * time.Millisecond)
	}
}

func retryable(err error) bool {
	var se interface{ SQLState() string }
	if !errors.As(err, &se) {
		return false
	}
	code := se.SQLState()
	return code == "40P01" || code == "40001"
}

package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
	// The zone database is embedded: the auto-reply dates are days in
	// Europe/Paris whatever the machine has installed.
	_ "time/tzdata"

	"github.com/hygie-sante/hygie/internal/htmlsafe"
	"github.com/hygie-sante/hygie/internal/store"
)

// AutoReply is « Réponse automatique » (SPEC §2.4): while enabled and
// within its dates, each sender of a message to the account gets one
// automatic reply per period (see internal/autoreply for the rules of
// RFC 3834).
type AutoReply struct {
	Enabled bool
	// Start and End are the first and last days (YYYY-MM-DD, inclusive,
	// in the platform's time zone, Europe/Paris); empty means open-ended.
	Start, End string
	// Subject is « Objet »; empty means « Réponse automatique : » followed
	// by the subject of the message answered.
	Subject string
	// HTML is the body, rich text, sanitised.
	HTML string
	// Period is bumped at every save: a sender gets at most one reply per
	// period, so saving again starts a new round of replies.
	Period int64
}

// Auto-reply limits.
const (
	MaxAutoReplySubjectLen = 200
	MaxAutoReplyBytes      = 512 << 10
)

// Reasons an automatic reply is refused; they wrap ErrInvalid.
var (
	ErrAutoReplyStartDate = fmt.Errorf("%w: the start date is not a date (YYYY-MM-DD)", ErrInvalid)
	ErrAutoReplyEndDate   = fmt.Errorf("%w: the end date is not a date (YYYY-MM-DD)", ErrInvalid)
	ErrAutoReplyDateOrder = fmt.Errorf("%w: the end date is before the start date", ErrInvalid)
	ErrAutoReplySubject   = fmt.Errorf("%w: the subject is longer than %d characters or holds control characters", ErrInvalid, MaxAutoReplySubjectLen)
	ErrAutoReplyTooLarge  = fmt.Errorf("%w: the automatic reply is larger than %d bytes", ErrInvalid, MaxAutoReplyBytes)
)

// Paris is the time zone of the auto-reply dates.
var Paris = loadParis()

func loadParis() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic("account: Europe/Paris: " + err.Error()) // the database is embedded
	}
	return loc
}

// ActiveAt reports whether the reply is enabled and t's day in Paris lies
// within [Start, End].
func (ar AutoReply) ActiveAt(t time.Time) bool {
	if !ar.Enabled {
		return false
	}
	day := t.In(Paris).Format(time.DateOnly)
	return (ar.Start == "" || day >= ar.Start) && (ar.End == "" || day <= ar.End)
}

// AutoReplyOf returns the automatic reply of account accountID (the zero
// value, disabled, when none was ever saved).
func (s *Service) AutoReplyOf(ctx context.Context, accountID int64) (AutoReply, error) {
	return AutoReplyTx(ctx, s.st, accountID)
}

// AutoReplyTx is AutoReplyOf inside a transaction (the delivery effect).
func AutoReplyTx(ctx context.Context, q store.Querier, accountID int64) (AutoReply, error) {
	var ar AutoReply
	var enabled int
	err := q.QueryRow(ctx, `SELECT enabled, start_date, end_date, subject, html, period FROM autoreplies WHERE account_id = ?`, accountID).
		Scan(&enabled, &ar.Start, &ar.End, &ar.Subject, &ar.HTML, &ar.Period)
	if errors.Is(err, sql.ErrNoRows) {
		return AutoReply{}, nil
	}
	if err != nil {
		return AutoReply{}, fmt.Errorf("automatic reply of account %d: %w", accountID, err)
	}
	ar.Enabled = enabled != 0
	ar.HTML = htmlsafe.Sanitize(ar.HTML)
	return ar, nil
}

// SaveAutoReply validates and stores the automatic reply of accountID: the
// dates are days (YYYY-MM-DD) with End not before Start, the HTML is
// sanitised, and the period is bumped so that every sender may get a reply
// again. It returns the stored value.
func (s *Service) SaveAutoReply(ctx context.Context, accountID int64, ar AutoReply) (AutoReply, error) {
	ar.Start, ar.End = strings.TrimSpace(ar.Start), strings.TrimSpace(ar.End)
	ar.Subject = strings.TrimSpace(ar.Subject)
	if ar.Start != "" {
		if _, err := time.Parse(time.DateOnly, ar.Start); err != nil {
			return AutoReply{}, ErrAutoReplyStartDate
		}
	}
	if ar.End != "" {
		if _, err := time.Parse(time.DateOnly, ar.End); err != nil {
			return AutoReply{}, ErrAutoReplyEndDate
		}
	}
	if ar.Start != "" && ar.End != "" && ar.End < ar.Start {
		return AutoReply{}, ErrAutoReplyDateOrder
	}
	if !utf8.ValidString(ar.Subject) || strings.ContainsFunc(ar.Subject, unicode.IsControl) ||
		utf8.RuneCountInString(ar.Subject) > MaxAutoReplySubjectLen {
		return AutoReply{}, ErrAutoReplySubject
	}
	ar.HTML = htmlsafe.Sanitize(ar.HTML)
	if len(ar.HTML) > MaxAutoReplyBytes {
		return AutoReply{}, ErrAutoReplyTooLarge
	}
	enabled := 0
	if ar.Enabled {
		enabled = 1
	}
	err := s.st.Tx(ctx, func(tx *store.Tx) error {
		return tx.QueryRow(ctx, `INSERT INTO autoreplies (account_id, enabled, start_date, end_date, subject, html, period)
			VALUES (?, ?, ?, ?, ?, ?, 1)
			ON CONFLICT (account_id) DO UPDATE SET enabled = excluded.enabled, start_date = excluded.start_date,
				end_date = excluded.end_date, subject = excluded.subject, html = excluded.html, period = autoreplies.period + 1
			RETURNING period`, accountID, enabled, ar.Start, ar.End, ar.Subject, ar.HTML).Scan(&ar.Period)
	})
	if err != nil {
		return AutoReply{}, fmt.Errorf("save automatic reply of account %d: %w", accountID, err)
	}
	return ar, nil
}

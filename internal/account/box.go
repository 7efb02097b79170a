package account

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// Organisational boxes as their members manage them (SPEC §3): the
// read-only fields only an administrator changes, the login accounts
// (members) added and removed from « Identifiants de connexion », and the
// box's journal of which member did what (SPEC §4, traceability).

// ErrLastMember refuses removing the only login account of a box: nobody
// could reach it any more.
var ErrLastMember = errors.New("last login account of the box")

// ErrNotPerson refuses making a box a login account of a box.
var ErrNotPerson = errors.New("not an individual account")

// BoxDetails are the fields of a box that members see but only an
// administrator changes (SPEC §3, Informations personnelles B).
type BoxDetails struct {
	FINESS      string
	Responsable string
	Description string
}

// BoxDetails returns the administrator-managed fields of box id.
func (s *Service) BoxDetails(ctx context.Context, id int64) (*BoxDetails, error) {
	d := &BoxDetails{}
	err := s.st.QueryRow(ctx, `SELECT finess, responsable, description FROM accounts WHERE id = ?`, id).
		Scan(&d.FINESS, &d.Responsable, &d.Description)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("box %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("box %d details: %w", id, err)
	}
	return d, nil
}

// lockBox takes the box's row lock for the rest of tx (PostgreSQL; SQLite
// transactions are serialised), so that two concurrent membership changes
// cannot both pass the last-member check.
func lockBox(ctx context.Context, tx *store.Tx, boxID int64) error {
	// A no-op update of a column no trigger watches.
	res, err := tx.Exec(ctx, `UPDATE accounts SET default_account_id = default_account_id WHERE id = ? AND kind = ?`, boxID, string(ORG))
	if err != nil {
		return fmt.Errorf("lock box %d: %w", boxID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("box %d: %w", boxID, ErrNotFound)
	}
	return nil
}

// AddBoxMember makes the individual account owning addr (its login or
// MSSanté address) a login account of box boxID, and returns it. Refused:
// a malformed address (ErrInvalid), no platform account (ErrNotFound), a
// box (ErrNotPerson), a disabled account (ErrDisabled), a member already
// (ErrDuplicate). The change is seen at once by web, IMAP and device API
// sessions: they check membership at each request.
func (s *Service) AddBoxMember(ctx context.Context, boxID int64, addr string) (*Account, error) {
	m, err := s.ByAddress(ctx, addr)
	switch {
	case err != nil:
		return nil, fmt.Errorf("member %s: %w", addr, err)
	case m.IsBox():
		return nil, fmt.Errorf("member %s: %w", addr, ErrNotPerson)
	case m.Disabled:
		return nil, fmt.Errorf("member %s is %w", addr, ErrDisabled)
	}
	err = s.st.Tx(ctx, func(tx *store.Tx) error {
		if err := lockBox(ctx, tx, boxID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM box_members WHERE box_id = ? AND account_id = ?`, boxID, m.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%s is %w a member", m.Login, ErrDuplicate)
		}
		_, err := tx.Exec(ctx, `INSERT INTO box_members (box_id, account_id) VALUES (?, ?)`, boxID, m.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("add member to box %d: %w", boxID, err)
	}
	return m, nil
}

// RemoveBoxMember removes login account memberID from box boxID and
// returns it. The member is looked up with the box, so an id that is not
// a member is ErrNotFound; the last member is ErrLastMember.
func (s *Service) RemoveBoxMember(ctx context.Context, boxID, memberID int64) (*Account, error) {
	m, err := s.ByID(ctx, memberID)
	if err != nil {
		return nil, fmt.Errorf("member %d: %w", memberID, err)
	}
	err = s.st.Tx(ctx, func(tx *store.Tx) error { return removeMemberTx(ctx, tx, boxID, m) })
	if err != nil {
		return nil, fmt.Errorf("remove member %d from box %d: %w", memberID, boxID, err)
	}
	return m, nil
}

// JournalEntry is one line of a box's journal: which member did what.
type JournalEntry struct {
	ID          int64
	At          time.Time
	MemberID    int64
	MemberLogin string
	// Action is a short code (see the Journal* constants); Detail says
	// more in French (the message's subject, the section saved…).
	Action string
	Detail string
}

// The actions of a box journal.
const (
	JournalRead         = "read"
	JournalSend         = "send"
	JournalMove         = "move"
	JournalDelete       = "delete"
	JournalFlags        = "flags"
	JournalSettings     = "settings"
	JournalMemberAdd    = "member_add"
	JournalMemberRemove = "member_remove"
	JournalCopy         = "copy"
	JournalAppend       = "append"
)

// maxJournalDetail bounds a journal detail (subjects can be long).
const maxJournalDetail = 300

// RecordBoxAction writes to the journal of box boxID that member did
// action (Journal* constant) with detail.
func (s *Service) RecordBoxAction(ctx context.Context, boxID int64, member *Account, action, detail string) error {
	return s.st.Tx(ctx, func(tx *store.Tx) error { return RecordBoxActionTx(ctx, tx, boxID, member, action, detail) })
}

// RecordBoxActionTx is RecordBoxAction inside tx, so that an action and its
// trace commit together.
func RecordBoxActionTx(ctx context.Context, tx *store.Tx, boxID int64, member *Account, action, detail string) error {
	if len(detail) > maxJournalDetail {
		cut := maxJournalDetail
		for cut > 0 && !utf8Start(detail[cut]) {
			cut--
		}
		detail = detail[:cut] + "…"
	}
	detail = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, detail)
	var id int64
	var login string
	if member != nil {
		id, login = member.ID, member.Login
	}
	_, err := tx.Exec(ctx, `INSERT INTO box_journal (box_id, member_id, member_login, at, action, detail) VALUES (?, ?, ?, ?, ?, ?)`,
		boxID, id, login, time.Now().UnixMilli(), action, detail)
	if err != nil {
		return fmt.Errorf("box %d journal: %w", boxID, err)
	}
	return nil
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// BoxJournal returns the newest entries of box boxID's journal, newest
// first (at most limit; 0 means 200).
func (s *Service) BoxJournal(ctx context.Context, boxID int64, limit int) ([]JournalEntry, error) {
	if limit <= 0 {
		limit = 200
	}
	rows, err := s.st.Query(ctx, `SELECT id, at, member_id, member_login, action, detail FROM box_journal
		WHERE box_id = ? ORDER BY id DESC LIMIT ?`, boxID, limit)
	if err != nil {
		return nil, fmt.Errorf("box %d journal: %w", boxID, err)
	}
	defer rows.Close()
	var out []JournalEntry
	for rows.Next() {
		var e JournalEntry
		var at int64
		if err := rows.Scan(&e.ID, &at, &e.MemberID, &e.MemberLogin, &e.Action, &e.Detail); err != nil {
			return nil, fmt.Errorf("box %d journal: %w", boxID, err)
		}
		e.At = time.UnixMilli(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

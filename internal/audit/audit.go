// Package audit records traceability (SPEC §4): every login attempt and every
// message movement, and lists them for operators.
package audit

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hygie-sante/hygie/internal/store"
)

// Kinds of records.
const (
	KindLogin   = "login"
	KindMessage = "message"
)

// Record is one traceability entry.
type Record struct {
	ID         int64
	At         time.Time
	Kind       string
	Protocol   string
	Address    string
	RemoteIP   string
	Result     string
	MessageID  string
	Sender     string
	Recipients []string
	Route      string
	Detail     string
}

// Log writes records.
type Log struct{ St *store.Store }

// Login records a login attempt.
func (l *Log) Login(ctx context.Context, protocol, addr, remoteIP, result, detail string) error {
	return l.St.Tx(ctx, func(tx *store.Tx) error {
		return Write(ctx, tx, Record{Kind: KindLogin, Protocol: protocol, Address: strings.ToLower(addr), RemoteIP: remoteIP, Result: result, Detail: detail})
	})
}

// Message records a message movement outside a delivery transaction.
func (l *Log) Message(ctx context.Context, r Record) error {
	r.Kind = KindMessage
	return l.St.Tx(ctx, func(tx *store.Tx) error { return Write(ctx, tx, r) })
}

// Write records r inside tx (so that a delivery and its trace commit together).
func Write(ctx context.Context, tx *store.Tx, r Record) error {
	if r.At.IsZero() {
		r.At = time.Now()
	}
	if r.Address == "" && r.Kind == KindMessage {
		r.Address = strings.ToLower(r.Sender)
	}
	_, err := tx.Exec(ctx, `INSERT INTO audit (at, kind, protocol, address, remote_ip, result, message_id, sender, recipients, route, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, r.At.UnixMilli(), r.Kind, r.Protocol, r.Address, r.RemoteIP, r.Result,
		r.MessageID, r.Sender, strings.Join(r.Recipients, ","), r.Route, r.Detail)
	if err != nil {
		return fmt.Errorf("audit: %w", err)
	}
	if fn := observer.Load(); fn != nil {
		tx.AfterCommit(func() { (*fn)(r) })
	}
	return nil
}

// observer, when set, sees every record once it is committed (metrics).
var observer atomic.Pointer[func(Record)]

// SetObserver installs fn to see every committed record (process-wide).
func SetObserver(fn func(Record)) { observer.Store(&fn) }

// Filter selects records; zero fields match everything.
type Filter struct {
	Kind    string
	Address string // matches the address, the sender or a recipient
	Result  string
	Since   time.Time
	Limit   int
}

// List returns the newest records matching f, newest first.
func List(ctx context.Context, st *store.Store, f Filter) ([]Record, error) {
	q := `SELECT id, at, kind, protocol, address, remote_ip, result, message_id, sender, recipients, route, detail FROM audit WHERE 1=1`
	var args []any
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	if f.Address != "" {
		a := strings.ToLower(f.Address)
		q += ` AND (address = ? OR sender = ? OR recipients LIKE ?)`
		args = append(args, a, a, "%"+a+"%")
	}
	if f.Result != "" {
		q += ` AND result = ?`
		args = append(args, f.Result)
	}
	if !f.Since.IsZero() {
		q += ` AND at >= ?`
		args = append(args, f.Since.UnixMilli())
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q += ` ORDER BY id DESC LIMIT ?`
	args = append(args, f.Limit)
	rows, err := st.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("audit list: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var at int64
		var rcpts string
		if err := rows.Scan(&r.ID, &at, &r.Kind, &r.Protocol, &r.Address, &r.RemoteIP, &r.Result, &r.MessageID, &r.Sender, &rcpts, &r.Route, &r.Detail); err != nil {
			return nil, err
		}
		r.At = time.UnixMilli(at)
		if rcpts != "" {
			r.Recipients = strings.Split(rcpts, ",")
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

package mailbox

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hygie-sante/hygie/internal/store"
)

// System flags (RFC 9051 §2.3.2), in their canonical case.
const (
	FlagSeen     = `\Seen`
	FlagAnswered = `\Answered`
	FlagFlagged  = `\Flagged`
	FlagDeleted  = `\Deleted`
	FlagDraft    = `\Draft`
)

// SystemFlags lists the system flags a message can carry, in the order they
// are stored.
var SystemFlags = []string{FlagSeen, FlagAnswered, FlagFlagged, FlagDeleted, FlagDraft}

// ErrBadFlag is returned for an unknown system flag or a keyword that is not
// an IMAP atom (RFC 9051 §9 flag-keyword).
var ErrBadFlag = errors.New("invalid flag")

// CanonicalFlag returns a system flag in its canonical case (\SEEN becomes
// \Seen); keywords are returned unchanged.
func CanonicalFlag(f string) string {
	if !strings.HasPrefix(f, `\`) {
		return f
	}
	for _, s := range SystemFlags {
		if strings.EqualFold(f, s) {
			return s
		}
	}
	if strings.EqualFold(f, `\Recent`) {
		return `\Recent`
	}
	return f
}

// IsKeyword reports whether f is a keyword rather than a system flag.
func IsKeyword(f string) bool { return f != "" && !strings.HasPrefix(f, `\`) }

// HasFlag reports whether the stored flag string flags contains flag,
// ignoring case (flags are case-insensitive, RFC 9051 §2.3.2).
func HasFlag(flags, flag string) bool {
	for _, f := range strings.Fields(flags) {
		if strings.EqualFold(f, flag) {
			return true
		}
	}
	return false
}

// CheckFlags validates flags given by a client: system flags must be known
// (\Recent is accepted and ignored) and keywords must be atoms.
func CheckFlags(flags []string) error {
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			if c := CanonicalFlag(f); isSystem(c) || c == `\Recent` {
				continue
			}
			return fmt.Errorf("%w: unknown system flag %s", ErrBadFlag, f)
		}
		if f == "" || len(f) > 128 || strings.ContainsAny(f, "(){ %*\"\\]") {
			return fmt.Errorf("%w: %q", ErrBadFlag, f)
		}
		for i := 0; i < len(f); i++ {
			if f[i] <= 0x20 || f[i] >= 0x7f {
				return fmt.Errorf("%w: %q", ErrBadFlag, f)
			}
		}
	}
	return nil
}

func isSystem(f string) bool {
	for _, s := range SystemFlags {
		if f == s {
			return true
		}
	}
	return false
}

// sortFlags puts system flags first in their fixed order, then keywords in
// the order given, so that equal sets have equal stored strings.
func sortFlags(flags []string) []string {
	rank := func(f string) int {
		for i, s := range SystemFlags {
			if f == s {
				return i
			}
		}
		return len(SystemFlags)
	}
	sort.SliceStable(flags, func(i, j int) bool { return rank(flags[i]) < rank(flags[j]) })
	return flags
}

// FlagOp is the operation of a STORE (RFC 9051 §6.4.6).
type FlagOp int

// Flag operations.
const (
	FlagsSet    FlagOp = iota // FLAGS: replace
	FlagsAdd                  // +FLAGS: add
	FlagsRemove               // -FLAGS: remove
)

// FlagUpdate is the outcome of StoreFlags for one message.
type FlagUpdate struct {
	UID uint32
	// Flags is the stored flag string after the operation.
	Flags string
	// Changed tells whether the operation changed the message.
	Changed bool
}

// ApplyFlags returns the stored flag string obtained by applying op with
// flags to the stored flag string cur.
func ApplyFlags(cur string, op FlagOp, flags []string) string {
	var out []string
	switch op {
	case FlagsSet:
		out = append(out, flags...)
	case FlagsAdd:
		out = append(ParseFlags(cur), flags...)
	case FlagsRemove:
		for _, f := range ParseFlags(cur) {
			drop := false
			for _, r := range flags {
				if strings.EqualFold(f, r) {
					drop = true
					break
				}
			}
			if !drop {
				out = append(out, f)
			}
		}
	}
	return FormatFlags(sortFlags(dedupeCanonical(out)))
}

func dedupeCanonical(in []string) []string {
	seen := map[string]bool{}
	out := in[:0:0]
	for _, f := range in {
		f = CanonicalFlag(f)
		k := strings.ToLower(f)
		if f == "" || f == `\Recent` || seen[k] {
			continue
		}
		seen[k] = true
		out = append(out, f)
	}
	return out
}

// StoreFlags applies op with flags to the messages of folder folderID whose
// UIDs are listed in uids (sorted ascending), keeping entries.seen in step
// with \Seen. It returns the resulting flags of every message found, and
// wakes the folder's watchers once committed when anything changed.
func StoreFlags(ctx context.Context, tx *store.Tx, folderID int64, uids []uint32, op FlagOp, flags []string) ([]FlagUpdate, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	if err := CheckFlags(flags); err != nil {
		return nil, err
	}
	want := uidLookup(uids)
	rows, err := tx.Query(ctx, `SELECT uid, flags FROM entries WHERE mailbox_id = ? AND uid BETWEEN ? AND ? ORDER BY uid`,
		folderID, uids[0], uids[len(uids)-1])
	if err != nil {
		return nil, fmt.Errorf("store flags: %w", err)
	}
	var out []FlagUpdate
	for rows.Next() {
		var uid int64
		var cur string
		if err := rows.Scan(&uid, &cur); err != nil {
			rows.Close()
			return nil, fmt.Errorf("store flags: %w", err)
		}
		if !want(uint32(uid)) {
			continue
		}
		next := ApplyFlags(cur, op, flags)
		out = append(out, FlagUpdate{UID: uint32(uid), Flags: next, Changed: next != cur})
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("store flags: %w", err)
	}
	changed := false
	for _, u := range out {
		if !u.Changed {
			continue
		}
		changed = true
		seen := 0
		if HasFlag(u.Flags, FlagSeen) {
			seen = 1
		}
		if _, err := tx.Exec(ctx, `UPDATE entries SET flags = ?, seen = ? WHERE mailbox_id = ? AND uid = ?`,
			u.Flags, seen, folderID, u.UID); err != nil {
			return nil, fmt.Errorf("store flags: %w", err)
		}
	}
	if changed {
		tx.AfterCommit(func() { Changed(folderID) })
	}
	return out, nil
}

// uidLookup returns a membership test for a sorted list of UIDs.
func uidLookup(uids []uint32) func(uint32) bool {
	return func(u uint32) bool {
		i := sort.Search(len(uids), func(i int) bool { return uids[i] >= u })
		return i < len(uids) && uids[i] == u
	}
}

// HeaderSize returns the length of the header section of an RFC 5322
// message, blank line included (RFC 5322 §2.1); the whole message when it
// has no body.
func HeaderSize(msg []byte) int {
	for i := 0; i < len(msg); i++ {
		if msg[i] != '\n' {
			continue
		}
		// The message starts with an empty line: no header fields.
		if i == 0 || (i == 1 && msg[0] == '\r') {
			return i + 1
		}
		// A blank line right after this line end ends the header.
		rest := msg[i+1:]
		if len(rest) > 0 && rest[0] == '\n' {
			return i + 2
		}
		if len(rest) > 1 && rest[0] == '\r' && rest[1] == '\n' {
			return i + 3
		}
	}
	return len(msg)
}

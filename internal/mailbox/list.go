package mailbox

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/hygie-sante/hygie/internal/store"
)

// Delim is the hierarchy delimiter of folder names (RFC 9051 §5.1).
const Delim = "/"

// Errors of folder operations.
var (
	ErrNoFolder     = errors.New("no such folder")
	ErrFolderExists = errors.New("folder already exists")
	ErrBadName      = errors.New("invalid folder name")
	ErrProtected    = errors.New("standard folders cannot be deleted or renamed")
)

// Folder is one folder of an account or box.
type Folder struct {
	ID          int64
	AccountID   int64
	Name        string
	SpecialUse  string
	UIDValidity uint32
	UIDNext     uint32
	Subscribed  bool
}

const folderCols = `id, account_id, name, special_use, uidvalidity, uidnext, subscribed`

func scanFolder(row interface{ Scan(...any) error }) (Folder, error) {
	var f Folder
	var validity, next, sub int64
	if err := row.Scan(&f.ID, &f.AccountID, &f.Name, &f.SpecialUse, &validity, &next, &sub); err != nil {
		return Folder{}, err
	}
	f.UIDValidity, f.UIDNext, f.Subscribed = uint32(validity), uint32(next), sub != 0
	return f, nil
}

// Folders lists the folders of an account or box, by name.
func Folders(ctx context.Context, q store.Querier, accountID int64) ([]Folder, error) {
	rows, err := q.Query(ctx, `SELECT `+folderCols+` FROM mailboxes WHERE account_id = ? ORDER BY name`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list folders: %w", err)
	}
	defer rows.Close()
	var out []Folder
	for rows.Next() {
		f, err := scanFolder(rows)
		if err != nil {
			return nil, fmt.Errorf("list folders: %w", err)
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list folders: %w", err)
	}
	return out, nil
}

// FolderByName returns a folder of an account by name; ErrNoFolder when
// there is none.
func FolderByName(ctx context.Context, q store.Querier, accountID int64, name string) (Folder, error) {
	f, err := scanFolder(q.QueryRow(ctx, `SELECT `+folderCols+` FROM mailboxes WHERE account_id = ? AND name = ?`, accountID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return Folder{}, fmt.Errorf("folder %q: %w", name, ErrNoFolder)
	}
	if err != nil {
		return Folder{}, fmt.Errorf("folder %q: %w", name, err)
	}
	return f, nil
}

// FolderByID returns a folder by id; ErrNoFolder when there is none.
func FolderByID(ctx context.Context, q store.Querier, id int64) (Folder, error) {
	f, err := scanFolder(q.QueryRow(ctx, `SELECT `+folderCols+` FROM mailboxes WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Folder{}, fmt.Errorf("folder %d: %w", id, ErrNoFolder)
	}
	if err != nil {
		return Folder{}, fmt.Errorf("folder %d: %w", id, err)
	}
	return f, nil
}

// Unsubscribed returns the ids of the folders of other accounts (shared
// boxes) that person accountID unsubscribed from.
func Unsubscribed(ctx context.Context, q store.Querier, accountID int64) (map[int64]bool, error) {
	rows, err := q.Query(ctx, `SELECT mailbox_id FROM folder_unsubscriptions WHERE account_id = ?`, accountID)
	if err != nil {
		return nil, fmt.Errorf("unsubscriptions: %w", err)
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("unsubscriptions: %w", err)
		}
		out[id] = true
	}
	return out, rows.Err()
}

// NormalizeName checks a folder name given by a client and returns it in
// canonical form: "INBOX" as the first level is case-insensitive (RFC 9051
// §5.1), and a trailing delimiter is dropped (RFC 9051 §6.3.4). Names must
// not be empty, have empty levels, wildcards or control characters.
func NormalizeName(name string) (string, error) {
	name = strings.TrimSuffix(name, Delim)
	if name == "" || len(name) > 512 {
		return "", fmt.Errorf("%w: %q", ErrBadName, name)
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '*' || r == '%' {
			return "", fmt.Errorf("%w: %q", ErrBadName, name)
		}
	}
	levels := strings.Split(name, Delim)
	for _, l := range levels {
		if l == "" {
			return "", fmt.Errorf("%w: %q", ErrBadName, name)
		}
	}
	if strings.EqualFold(levels[0], Inbox) {
		levels[0] = Inbox
	}
	return strings.Join(levels, Delim), nil
}

// IsProtected reports whether name is one of the standard folders, which
// the delivery pipeline relies on (only INBOX may be renamed, and that moves
// its messages, RFC 9051 §6.3.5).
func IsProtected(name string) bool {
	for _, d := range Defaults {
		if d.Name == name {
			return true
		}
	}
	return false
}

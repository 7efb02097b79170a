package directory

import (
	"context"
	"fmt"

	"github.com/hygie-sante/hygie/internal/store"
)

// All returns up to limit directory entries (at most 5000) in account id
// order, starting after account id after (0: from the first): every
// account in the directory, for surfaces that apply their own filter (the
// LDAP address book's presence and negation filters). The visibility rule
// is the same as Search's: only visible addresses, only entries with one.
func All(ctx context.Context, st *store.Store, after int64, limit int) ([]Entry, error) {
	limit = min(max(limit, 0), 5000)
	if limit == 0 {
		return nil, nil
	}
	rows, err := st.Query(ctx, `SELECT `+entryCols+` FROM accounts a JOIN structures s ON s.id = a.structure_id
		WHERE a.id > ? AND `+inDirectory+` ORDER BY a.id LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("directory: list: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("directory: list: %w", err)
		}
		if len(e.Addresses) > 0 {
			out = append(out, e)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("directory: list: %w", err)
	}
	return out, nil
}

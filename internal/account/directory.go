package account

import (
	"context"
	"fmt"
	"strings"
)

// DirectoryEntry is one address shown by the platform directory (search,
// webmail autocomplete): an account's visible login or MSSanté address.
type DirectoryEntry struct {
	// Name is the person's « prénom nom », or a box's label.
	Name    string
	Address string
	Kind    Kind
	// AccountID is the account owning Address.
	AccountID int64
}

// maxDirectoryLimit bounds one directory answer.
const maxDirectoryLimit = 200

// SearchVisible returns the directory entries matching q by prefix (case
// insensitive) on the first name, the last name, « prénom nom », a box's
// label, or the address itself. Only what the owner left visible is
// returned (SPEC §2, Informations personnelles C): the login address when
// visible_login is set, the MSSanté address when visible_mss is set; an
// address hidden by its owner is never returned, even when typed in full.
// Disabled accounts never appear. An empty q returns nothing.
func (s *Service) SearchVisible(ctx context.Context, q string, limit int) ([]DirectoryEntry, error) {
	q = strings.ToLower(strings.TrimSpace(q))
	if q == "" || limit <= 0 {
		return nil, nil
	}
	if limit > maxDirectoryLimit {
		limit = maxDirectoryLimit
	}
	pat := likeEscape(q) + "%"
	rows, err := s.st.Query(ctx, `SELECT a.id, a.kind, a.login, COALESCE(a.mss, ''), a.first_name, a.last_name, a.label,
			a.visible_login, a.visible_mss
		FROM accounts a JOIN structures s ON s.id = a.structure_id
		WHERE a.disabled = 0 AND s.disabled = 0 AND (
			LOWER(a.first_name) LIKE ? ESCAPE '\' OR LOWER(a.last_name) LIKE ? ESCAPE '\'
			OR LOWER(a.first_name || ' ' || a.last_name) LIKE ? ESCAPE '\'
			OR LOWER(a.label) LIKE ? ESCAPE '\'
			OR (a.visible_login = 1 AND LOWER(a.login) LIKE ? ESCAPE '\')
			OR (a.visible_mss = 1 AND LOWER(COALESCE(a.mss, '')) LIKE ? ESCAPE '\'))
		AND (a.visible_login = 1 OR (a.mss IS NOT NULL AND a.visible_mss = 1))
		ORDER BY a.last_name, a.first_name, a.label, a.id LIMIT ?`,
		pat, pat, pat, pat, pat, pat, limit)
	if err != nil {
		return nil, fmt.Errorf("directory search: %w", err)
	}
	defer rows.Close()
	var out []DirectoryEntry
	for rows.Next() {
		var id int64
		var kind, login, mss, first, last, label string
		var visLogin, visMSS int
		if err := rows.Scan(&id, &kind, &login, &mss, &first, &last, &label, &visLogin, &visMSS); err != nil {
			return nil, fmt.Errorf("directory search: %w", err)
		}
		a := &Account{Kind: Kind(kind), FirstName: first, LastName: last, Label: label}
		name := a.DisplayName()
		byName := hasPrefixFold(first, q) || hasPrefixFold(last, q) || hasPrefixFold(name, q) || hasPrefixFold(label, q)
		if visLogin == 1 && (byName || hasPrefixFold(login, q)) {
			out = append(out, DirectoryEntry{Name: name, Address: login, Kind: a.Kind, AccountID: id})
		}
		if mss != "" && mss != login && visMSS == 1 && (byName || hasPrefixFold(mss, q)) {
			out = append(out, DirectoryEntry{Name: name, Address: mss, Kind: a.Kind, AccountID: id})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("directory search: %w", err)
	}
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// likeEscape escapes the LIKE wildcards of s with a backslash.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func hasPrefixFold(s, prefix string) bool {
	return strings.HasPrefix(strings.ToLower(s), prefix)
}

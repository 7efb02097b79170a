package account

import (
	"context"
	"strings"

	"github.com/hygie-sante/hygie/internal/directory"
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

// SearchVisible returns the directory entries matching q, one per visible
// address, from the platform directory's search (directory.Search: words
// matched by prefix on names, profession, spécialité, structure, city and
// visible addresses; case and accents ignored; ranked). Only what the owner
// left visible is returned (SPEC §2, Informations personnelles C): the
// login address when visible_login is set, the MSSanté address when
// visible_mss is set; an address hidden by its owner is never returned,
// even when typed in full. Disabled accounts never appear. An empty q
// returns nothing.
func (s *Service) SearchVisible(ctx context.Context, q string, limit int) ([]DirectoryEntry, error) {
	if strings.TrimSpace(q) == "" || limit <= 0 {
		return nil, nil
	}
	entries, err := directory.Search(ctx, s.st, directory.Query{Text: q, Limit: limit})
	if err != nil {
		return nil, err
	}
	var out []DirectoryEntry
	for _, e := range entries {
		for _, a := range e.Addresses {
			out = append(out, DirectoryEntry{Name: e.Name, Address: a.Address, Kind: Kind(e.Kind), AccountID: e.AccountID})
		}
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

// Package directory is the platform directory (« annuaire », SPEC §2
// Informations personnelles, §4 Directory, §5 national directory): search
// by name, profession, speciality, structure and city (case- and
// accent-insensitive, by word prefix, ranked), contact cards, and the
// national publication feed of the MSSanté addresses with its change log.
//
// Visibility (SPEC §2, Informations personnelles C) is enforced here for
// every surface (webmail directory page and recipient autocomplete, LDAP,
// feed): a login (platform) address is shown only while visible_login is
// set, an MSSanté address only while visible_mss is set; an account with
// no visible address, a disabled account and an account of a disabled
// structure are never returned.
//
// The search reads the table directory_terms (migration 0013), kept in sync
// from the accounts table: database triggers mark every changed account in
// directory_dirty, whatever code path changed it, and every read of this
// package first re-indexes the marked accounts (Sync), in the same
// transaction as the feed's change log.
package directory

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/hygie-sante/hygie/internal/store"
)

// ErrNotFound is returned by Card for an account that is not in the
// directory (unknown, disabled, or without any visible address).
var ErrNotFound = errors.New("directory: not in the directory")

// Address kinds.
const (
	// AddressPlatform is the login address, shown in the platform
	// (« Medimail ») directory when visible_login is set.
	AddressPlatform = "platform"
	// AddressMSS is the MSSanté address, shown when visible_mss is set
	// (« visible dans l'annuaire santé »).
	AddressMSS = "mssante"
)

// Address is one visible address of an entry.
type Address struct {
	Address string
	// Kind is AddressPlatform or AddressMSS.
	Kind string
}

// Entry is one account as the directory shows it: the fields of
// « Informations personnelles » A and B, its visible addresses and its
// dematerialisation flag (a contact card).
type Entry struct {
	AccountID int64
	// Kind is the account type: MED, PER, INT or ORG.
	Kind string
	// Name is « prénom nom », or an organisational box's label (raison
	// sociale, under which boxes are listed).
	Name      string
	FirstName string
	LastName  string
	// Label is an organisational box's name.
	Label         string
	Phone         string
	PostalAddress string
	// Postcode and City come from the postal address's last « code postal
	// commune » line.
	Postcode      string
	City          string
	RaisonSociale string
	Profession    string
	Specialite    string
	// Structure is the name of the structure holding the account.
	Structure string
	// Addresses are the visible addresses only: the login address first,
	// then the MSSanté address. Never empty.
	Addresses []Address
	// Dematerialisation: « accepte la dématérialisation totale des
	// échanges » (SPEC §2.7).
	Dematerialisation bool
}

// Mails returns the entry's visible addresses.
func (e *Entry) Mails() []string {
	out := make([]string, len(e.Addresses))
	for i, a := range e.Addresses {
		out[i] = a.Address
	}
	return out
}

// Query is a directory search.
type Query struct {
	// Text is what the person typed: words matched by prefix, all of
	// them, against the first and last names (a box's label), profession,
	// spécialité, raison sociale, structure, city, postcode and the
	// visible addresses (cut at their dots, @ and dashes). Case and
	// accents do not matter. Text with an @ must moreover be the
	// beginning of one of the entry's visible addresses. Empty text
	// returns nothing.
	Text string
	// Limit bounds the number of entries (default 20, at most 200).
	Limit int
}

// Default and maximum number of entries of a search.
const (
	DefaultLimit = 20
	MaxLimit     = 200
	// maxWords bounds the words of a query taken into account.
	maxWords = 8
)

// Search returns the directory entries matching q, best first:
//  1. exact last name (or box label word), 2. exact first name,
//  3. last name by prefix, 4. first name by prefix, 5. other fields
//     (exact words before longer ones), 6. the domain of a visible address;
//
// within a rank, by name. With several words every word must match; the
// entries are ordered by the sum of their words' ranks. Only visible
// addresses are returned, and only entries with at least one.
func Search(ctx context.Context, st *store.Store, q Query) ([]Entry, error) {
	words := Words(q.Text)
	if len(words) == 0 {
		return nil, nil
	}
	if len(words) > maxWords {
		words = words[:maxWords]
	}
	limit := q.Limit
	if limit <= 0 {
		limit = DefaultLimit
	}
	if limit > MaxLimit {
		limit = MaxLimit
	}
	if err := Sync(ctx, st); err != nil {
		return nil, err
	}
	// An address typed (with its @) must be the beginning of a visible
	// address of the entry: the words alone would also find the entry by
	// its name and structure.
	addr := ""
	fetch := limit
	if strings.Contains(q.Text, "@") {
		addr = strings.ToLower(strings.TrimSpace(q.Text))
		fetch = min(limit*5, MaxLimit)
	}
	var ids []int64
	var err error
	if len(words) == 1 {
		ids, err = searchOne(ctx, st, words[0], nil, fetch)
	} else {
		ids, err = searchMany(ctx, st, words, fetch)
	}
	if err != nil {
		return nil, fmt.Errorf("directory search: %w", err)
	}
	es, err := load(ctx, st, ids)
	if err != nil || addr == "" {
		return es, err
	}
	out := es[:0]
	for _, e := range es {
		for _, a := range e.Addresses {
			if strings.HasPrefix(strings.ToLower(a.Address), addr) {
				out = append(out, e)
				break
			}
		}
	}
	return out[:min(len(out), limit)], nil
}

// Card returns the contact card of account id, or ErrNotFound when the
// account is not in the directory.
func Card(ctx context.Context, st *store.Store, id int64) (*Entry, error) {
	if err := Sync(ctx, st); err != nil {
		return nil, err
	}
	es, err := load(ctx, st, []int64{id})
	if err != nil {
		return nil, err
	}
	if len(es) == 0 {
		return nil, ErrNotFound
	}
	return &es[0], nil
}

// prefixRange returns the bounds of the words starting with w: words are
// made of [a-z0-9], and '{' sorts after 'z'.
func prefixRange(w string) (lo, hi string) { return w, w + "{" }

// Ranks of directory_terms rows.
const (
	rankLast  = 1
	rankFirst = 2
	rankOther = 3
	// rankDomain: the domain of a visible address (after the @), ranked
	// last so that « medecin » finds doctors before the addresses
	// @medecin.…
	rankDomain = 4
)

// tier is one step of the single-word ranking.
type tier struct {
	rank  int
	exact bool
}

var tiers = []tier{{rankLast, true}, {rankFirst, true}, {rankLast, false}, {rankFirst, false}, {rankOther, false}, {rankDomain, false}}

// searchOne walks the tiers for word w, each an ordered index range scan
// bounded by LIMIT, until limit accounts are found. filter words (if any)
// must also match each account (EXISTS probes on (account_id, term)).
func searchOne(ctx context.Context, st *store.Store, w string, filter []string, limit int) ([]int64, error) {
	seen := map[int64]bool{}
	var ids []int64
	lo, hi := prefixRange(w)
	var cond strings.Builder
	var fargs []any
	for _, f := range filter {
		flo, fhi := prefixRange(f)
		cond.WriteString(` AND EXISTS (SELECT 1 FROM directory_terms f WHERE f.account_id = t.account_id AND f.term >= ? AND f.term < ?)`)
		fargs = append(fargs, flo, fhi)
	}
	for _, tr := range tiers {
		fetch := (limit-len(ids))*2 + len(seen) + 8
		for {
			var q string
			var args []any
			if tr.exact {
				q = `SELECT t.account_id FROM directory_terms t WHERE t.rank = ? AND t.term = ?` + cond.String() + ` ORDER BY t.sortkey LIMIT ?`
				args = append([]any{tr.rank, w}, fargs...)
			} else {
				q = `SELECT t.account_id FROM directory_terms t WHERE t.rank = ? AND t.term >= ? AND t.term < ?` + cond.String() + ` ORDER BY t.term, t.sortkey LIMIT ?`
				args = append([]any{tr.rank, lo, hi}, fargs...)
			}
			args = append(args, fetch)
			got, err := queryIDs(ctx, st, q, args...)
			if err != nil {
				return nil, err
			}
			var fresh []int64
			local := map[int64]bool{}
			for _, id := range got {
				if !seen[id] && !local[id] {
					local[id] = true
					fresh = append(fresh, id)
				}
			}
			if len(fresh) >= limit-len(ids) || len(got) < fetch {
				for _, id := range fresh {
					if len(ids) == limit {
						break
					}
					ids = append(ids, id)
				}
				break
			}
			fetch *= 4
		}
		for _, id := range ids {
			seen[id] = true
		}
		if len(ids) >= limit {
			break
		}
	}
	return ids, nil
}

// candidateCap is the number of matching rows up to which a multi-word
// search loads every candidate and ranks them in Go; above it (every word
// is very common) it walks the tiers of the rarest word with the others
// as filters.
const candidateCap = 1500

// vocabScan bounds the vocabulary words read to estimate a prefix's rows.
const vocabScan = 400

// searchMany ranks the accounts matching every word of words.
func searchMany(ctx context.Context, st *store.Store, words []string, limit int) ([]int64, error) {
	// The rarest word drives the search: its number of rows is estimated
	// from directory_vocab (a prefix of more than vocabScan distinct words
	// counts as very common).
	best, bestN := 0, -1
	counts := make([]int, len(words))
	for i, w := range words {
		lo, hi := prefixRange(w)
		var sum, n int
		if err := st.QueryRow(ctx, `SELECT COALESCE(SUM(df), 0), COUNT(*) FROM (SELECT df FROM directory_vocab WHERE term >= ? AND term < ? LIMIT ?) x`,
			lo, hi, vocabScan).Scan(&sum, &n); err != nil {
			return nil, err
		}
		if sum <= 0 && n < vocabScan {
			return nil, nil
		}
		if n >= vocabScan {
			sum = math.MaxInt32
		}
		counts[i] = sum
		if bestN < 0 || sum < bestN {
			best, bestN = i, sum
		}
	}
	others := append(append([]string(nil), words[:best]...), words[best+1:]...)
	if bestN > candidateCap {
		return searchOne(ctx, st, words[best], others, limit)
	}
	// Load the driving word's rows, then the other words' rows of those
	// candidates, and rank in Go.
	type cand struct {
		sortkey string
		score   []int // best tier per word
	}
	cands := map[int64]*cand{}
	lo, hi := prefixRange(words[best])
	rows, err := st.Query(ctx, `SELECT account_id, rank, term, sortkey FROM directory_terms WHERE rank IN (1, 2, 3, 4) AND term >= ? AND term < ?`, lo, hi)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id int64
		var rank int
		var term, sk string
		if err := rows.Scan(&id, &rank, &term, &sk); err != nil {
			rows.Close()
			return nil, err
		}
		c := cands[id]
		if c == nil {
			c = &cand{sortkey: sk, score: make([]int, len(words))}
			for i := range c.score {
				c.score[i] = -1
			}
			cands[id] = c
		}
		c.score[best] = better(c.score[best], tierOf(rank, term == words[best]))
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, w := range words {
		if i == best {
			continue
		}
		lo, hi := prefixRange(w)
		read := func(rows *sql.Rows, err error) error {
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				var id int64
				var rank int
				var term string
				if err := rows.Scan(&id, &rank, &term); err != nil {
					return err
				}
				if c := cands[id]; c != nil {
					c.score[i] = better(c.score[i], tierOf(rank, term == w))
				}
			}
			return rows.Err()
		}
		var err error
		if counts[i] <= candidateCap {
			// A rare word too: read its rows once, keep the candidates'.
			err = read(st.Query(ctx, `SELECT account_id, rank, term FROM directory_terms WHERE rank IN (1, 2, 3, 4) AND term >= ? AND term < ?`, lo, hi))
		} else {
			// A common word: probe the candidates on (account_id, term).
			dlo, dhi := prefixRange(words[best])
			err = read(st.Query(ctx, `SELECT t.account_id, t.rank, t.term FROM directory_terms d
				JOIN directory_terms t ON t.account_id = d.account_id AND t.term >= ? AND t.term < ?
				WHERE d.rank IN (1, 2, 3, 4) AND d.term >= ? AND d.term < ?`, lo, hi, dlo, dhi))
		}
		if err != nil {
			return nil, err
		}
	}
	type scored struct {
		id    int64
		total int
		key   string
	}
	var out []scored
	for id, c := range cands {
		total := 0
		ok := true
		for _, s := range c.score {
			if s < 0 {
				ok = false
				break
			}
			total += s
		}
		if ok {
			out = append(out, scored{id, total, c.sortkey})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].total != out[j].total {
			return out[i].total < out[j].total
		}
		if out[i].key != out[j].key {
			return out[i].key < out[j].key
		}
		return out[i].id < out[j].id
	})
	if len(out) > limit {
		out = out[:limit]
	}
	res := make([]int64, len(out))
	for i, s := range out {
		res[i] = s.id
	}
	return res, nil
}

// tierOf is the position in the ranking of a word matching a row of rank
// rank, exactly or by prefix (lower is better).
func tierOf(rank int, exact bool) int {
	switch {
	case rank == rankLast && exact:
		return 0
	case rank == rankFirst && exact:
		return 1
	case rank == rankLast:
		return 2
	case rank == rankFirst:
		return 3
	case rank == rankOther && exact:
		return 4
	case rank == rankOther:
		return 5
	case exact:
		return 6
	}
	return 7
}

func better(cur, t int) int {
	if cur < 0 || t < cur {
		return t
	}
	return cur
}

// chunkSize is the fixed length of IN lists: short lists are padded so that
// the statement text stays the same (SQLite's prepared-statement cache).
const chunkSize = 64

// inChunks calls fn with ids in lists of exactly chunkSize values, padded
// with 0 (no account has id 0).
func inChunks(ids []int64, fn func([]any) error) error {
	for i := 0; i < len(ids); i += chunkSize {
		chunk := make([]any, chunkSize)
		for j := range chunk {
			chunk[j] = int64(0)
			if i+j < len(ids) {
				chunk[j] = ids[i+j]
			}
		}
		if err := fn(chunk); err != nil {
			return err
		}
	}
	return nil
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

func queryIDs(ctx context.Context, q store.Querier, sqlText string, args ...any) ([]int64, error) {
	rows, err := q.Query(ctx, sqlText, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// inDirectory is the SQL condition of an account shown in the platform
// directory (accounts a, structures s).
const inDirectory = `a.disabled = 0 AND s.disabled = 0 AND (a.visible_login = 1 OR (a.mss IS NOT NULL AND a.visible_mss = 1))`

const entryCols = `a.id, a.kind, a.login, COALESCE(a.mss, ''), a.visible_login, a.visible_mss, a.first_name, a.last_name, a.label,
	a.phone, a.postal_address, a.raison_sociale, a.profession, a.specialite, s.name, a.dematerialisation`

// load returns the entries of ids still in the directory, in the order of
// ids. Visibility is checked again here, on the accounts table itself.
func load(ctx context.Context, q store.Querier, ids []int64) ([]Entry, error) {
	byID := map[int64]Entry{}
	err := inChunks(ids, func(chunk []any) error {
		rows, err := q.Query(ctx, `SELECT `+entryCols+` FROM accounts a JOIN structures s ON s.id = a.structure_id
			WHERE a.id IN (`+placeholders(len(chunk))+`) AND `+inDirectory, chunk...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			e, err := scanEntry(rows)
			if err != nil {
				return err
			}
			if len(e.Addresses) > 0 {
				byID[e.AccountID] = e
			}
		}
		return rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("directory: load entries: %w", err)
	}
	out := make([]Entry, 0, len(byID))
	for _, id := range ids {
		if e, ok := byID[id]; ok {
			out = append(out, e)
			delete(byID, id)
		}
	}
	return out, nil
}

// scanEntry reads entryCols.
func scanEntry(row interface{ Scan(...any) error }) (Entry, error) {
	var e Entry
	var login, mss string
	var visLogin, visMSS, demat int
	if err := row.Scan(&e.AccountID, &e.Kind, &login, &mss, &visLogin, &visMSS, &e.FirstName, &e.LastName, &e.Label,
		&e.Phone, &e.PostalAddress, &e.RaisonSociale, &e.Profession, &e.Specialite, &e.Structure, &demat); err != nil {
		return e, err
	}
	if e.Kind == "ORG" {
		e.Name = e.Label
		e.FirstName, e.LastName = "", ""
	} else {
		e.Name = strings.TrimSpace(e.FirstName + " " + e.LastName)
	}
	e.Postcode, e.City = City(e.PostalAddress)
	e.Dematerialisation = demat != 0
	if visLogin != 0 {
		e.Addresses = append(e.Addresses, Address{Address: login, Kind: AddressPlatform})
	}
	if mss != "" && visMSS != 0 && mss != login {
		e.Addresses = append(e.Addresses, Address{Address: mss, Kind: AddressMSS})
	}
	return e, nil
}

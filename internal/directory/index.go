package directory

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hygie-sante/hygie/internal/store"
)

// syncBatch is the number of marked accounts re-indexed per transaction.
const syncBatch = 1000

// Sync re-indexes every account marked in directory_dirty by the triggers
// of migration 0013 (any change of a field the directory shows or
// publishes, of visibility, type, names, structure or disabled state):
// its search terms, and its published state in the feed with a change-log
// row when that state changed. Search, Card and Changes call it first, so
// what they return is never older than the accounts table; concurrent
// calls are safe (each marked account is claimed by one transaction).
func Sync(ctx context.Context, st *store.Store) error {
	for {
		var one int64
		err := st.QueryRow(ctx, `SELECT account_id FROM directory_dirty LIMIT 1`).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("directory sync: %w", err)
		}
		n := 0
		err = st.Tx(ctx, func(tx *store.Tx) error {
			var err error
			n, err = syncBatchTx(ctx, tx)
			return err
		})
		if err != nil {
			return fmt.Errorf("directory sync: %w", err)
		}
		if n == 0 {
			return nil
		}
	}
}

// source is what the index and the feed need of an account.
type source struct {
	Entry
	login, mss       string
	visLogin, visMSS bool
	rpps, finess     string
	disabled         bool
}

// syncBatchTx claims up to syncBatch marked accounts and re-indexes them.
func syncBatchTx(ctx context.Context, tx *store.Tx) (int, error) {
	rows, err := tx.Query(ctx, `DELETE FROM directory_dirty WHERE account_id IN
		(SELECT account_id FROM directory_dirty ORDER BY account_id LIMIT ?) RETURNING account_id, at`, syncBatch)
	if err != nil {
		return 0, err
	}
	at := map[int64]int64{}
	var ids []int64
	for rows.Next() {
		var id, t int64
		if err := rows.Scan(&id, &t); err != nil {
			rows.Close()
			return 0, err
		}
		at[id] = t
		ids = append(ids, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	srcs := map[int64]*source{}
	err = inChunks(ids, func(chunk []any) error {
		rows, err := tx.Query(ctx, `SELECT `+entryCols+`, a.rpps, a.finess, s.finess, a.disabled + s.disabled
			FROM accounts a JOIN structures s ON s.id = a.structure_id WHERE a.id IN (`+placeholders(len(chunk))+`)`, chunk...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s source
			var login, mss string
			var visLogin, visMSS, demat, disabled int
			var sFiness string
			e := &s.Entry
			if err := rows.Scan(&e.AccountID, &e.Kind, &login, &mss, &visLogin, &visMSS, &e.FirstName, &e.LastName, &e.Label,
				&e.Phone, &e.PostalAddress, &e.RaisonSociale, &e.Profession, &e.Specialite, &e.Structure, &demat,
				&s.rpps, &s.finess, &sFiness, &disabled); err != nil {
				return err
			}
			s.login, s.mss, s.visLogin, s.visMSS = login, mss, visLogin != 0, visMSS != 0
			s.disabled = disabled != 0
			e.Dematerialisation = demat != 0
			e.Postcode, e.City = City(e.PostalAddress)
			if s.finess == "" && e.Kind == "ORG" {
				s.finess = sFiness
			}
			srcs[e.AccountID] = &s
		}
		return rows.Err()
	})
	if err != nil {
		return 0, err
	}
	// Search terms, and their counts in directory_vocab.
	df := map[string]int{}
	if err := inChunks(ids, func(chunk []any) error {
		rows, err := tx.Query(ctx, `SELECT term FROM directory_terms WHERE account_id IN (`+placeholders(len(chunk))+`)`, chunk...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var t string
			if err := rows.Scan(&t); err != nil {
				return err
			}
			df[t]--
		}
		return rows.Err()
	}); err != nil {
		return 0, err
	}
	if err := inChunks(ids, func(chunk []any) error {
		_, err := tx.Exec(ctx, `DELETE FROM directory_terms WHERE account_id IN (`+placeholders(len(chunk))+`)`, chunk...)
		return err
	}); err != nil {
		return 0, err
	}
	var terms []termRow
	for _, id := range ids {
		if s := srcs[id]; s != nil {
			terms = append(terms, s.terms()...)
		}
	}
	if err := insertTerms(ctx, tx, terms); err != nil {
		return 0, err
	}
	for _, t := range terms {
		df[t.term]++
	}
	if err := updateVocab(ctx, tx, df); err != nil {
		return 0, err
	}
	// National feed.
	old := map[int64]string{}
	err = inChunks(ids, func(chunk []any) error {
		rows, err := tx.Query(ctx, `SELECT account_id, entry FROM directory_published WHERE account_id IN (`+placeholders(len(chunk))+`)`, chunk...)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var id int64
			var e string
			if err := rows.Scan(&id, &e); err != nil {
				return err
			}
			old[id] = e
		}
		return rows.Err()
	})
	if err != nil {
		return 0, err
	}
	var changes []change
	for _, id := range ids {
		var cur string
		var listeRouge bool
		if s := srcs[id]; s != nil {
			if fe := s.published(); fe != nil {
				b, err := json.Marshal(fe)
				if err != nil {
					return 0, err
				}
				cur = string(b)
			}
			listeRouge = s.mss != "" && !s.visMSS && !s.disabled && s.Kind != "MED"
		}
		prev, had := old[id]
		var kind string
		switch {
		case cur == "" && had:
			kind = ChangeRemoved
		case cur != "" && !had:
			kind = ChangeAdded
		case cur != "" && cur != prev:
			kind = ChangeChanged
		default:
			continue
		}
		if kind == ChangeRemoved {
			// The removal names only the type of what is removed.
			var pe FeedEntry
			json.Unmarshal([]byte(prev), &pe)
			b, _ := json.Marshal(removal{Type: pe.Type, ListeRouge: listeRouge})
			cur = string(b)
		}
		changes = append(changes, change{id: id, kind: kind, entry: cur, at: at[id]})
	}
	if err := recordChanges(ctx, tx, changes); err != nil {
		return 0, err
	}
	return len(ids), nil
}

// change is one change-log row to write.
type change struct {
	id    int64
	kind  string
	entry string
	at    int64
}

// changesPerInsert is the number of rows of one multi-row INSERT of
// recordChanges (the rest is written row by row, keeping the statement
// texts few for SQLite's statement cache).
const changesPerInsert = 32

// recordChanges writes the new published state of the changed accounts and
// their change-log rows, dropping the accounts' older rows (compaction: a
// removed address leaves no trace of its former publication).
func recordChanges(ctx context.Context, tx *store.Tx, changes []change) error {
	if len(changes) == 0 {
		return nil
	}
	ids := make([]int64, len(changes))
	for i, c := range changes {
		ids[i] = c.id
	}
	for _, table := range []string{"directory_published", "directory_changes"} {
		if err := inChunks(ids, func(chunk []any) error {
			_, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE account_id IN (`+placeholders(len(chunk))+`)`, chunk...)
			return err
		}); err != nil {
			return err
		}
	}
	var pub []change
	for _, c := range changes {
		if c.kind != ChangeRemoved {
			pub = append(pub, c)
		}
	}
	if err := insertRows(ctx, tx, `INSERT INTO directory_published (account_id, entry) VALUES `, "(?, ?)", pub,
		func(c change) []any { return []any{c.id, c.entry} }, ""); err != nil {
		return err
	}
	return insertRows(ctx, tx, `INSERT INTO directory_changes (account_id, kind, at, entry) VALUES `, "(?, ?, ?, ?)", changes,
		func(c change) []any { return []any{c.id, c.kind, c.at, c.entry} }, "")
}

// insertRows inserts rows in order, changesPerInsert per statement then one
// by one.
func insertRows[T any](ctx context.Context, tx *store.Tx, head, row string, rows []T, args func(T) []any, end string) error {
	multi := head + strings.TrimSuffix(strings.Repeat(row+", ", changesPerInsert), ", ") + end
	i := 0
	for ; i+changesPerInsert <= len(rows); i += changesPerInsert {
		var a []any
		for _, c := range rows[i : i+changesPerInsert] {
			a = append(a, args(c)...)
		}
		if _, err := tx.Exec(ctx, multi, a...); err != nil {
			return err
		}
	}
	for ; i < len(rows); i++ {
		if _, err := tx.Exec(ctx, head+row+end, args(rows[i])...); err != nil {
			return err
		}
	}
	return nil
}

// removal is the entry column of a removed change.
type removal struct {
	Type       string `json:"type"`
	ListeRouge bool   `json:"listeRouge,omitempty"`
}

// termRow is one row of directory_terms.
type termRow struct {
	rank    int
	term    string
	sortkey string
	id      int64
}

// terms returns the search terms of s, none when it is not in the
// directory.
func (s *source) terms() []termRow {
	if s.disabled {
		return nil
	}
	var addrs []string
	if s.visLogin {
		addrs = append(addrs, s.login)
	}
	if s.mss != "" && s.visMSS {
		addrs = append(addrs, s.mss)
	}
	if len(addrs) == 0 {
		return nil
	}
	last, first := s.LastName, s.FirstName
	if s.Kind == "ORG" {
		last, first = s.Label, ""
	}
	sortkey := strings.Join(Words(last), " ") + " " + strings.Join(Words(first), " ")
	if len(sortkey) > 120 {
		sortkey = sortkey[:120]
	}
	var out []termRow
	seen := map[string]bool{}
	add := func(rank int, text string) {
		for _, w := range Words(text) {
			k := fmt.Sprint(rank, w)
			if !seen[k] {
				seen[k] = true
				out = append(out, termRow{rank, w, sortkey, s.AccountID})
			}
		}
	}
	add(rankLast, last)
	add(rankFirst, first)
	add(rankOther, s.Profession+" "+s.Specialite+" "+s.RaisonSociale+" "+s.Structure+" "+s.City+" "+s.Postcode)
	if s.Kind == "ORG" {
		add(rankOther, s.FirstName+" "+s.LastName)
	}
	for _, a := range addrs {
		local, domain, _ := strings.Cut(a, "@")
		add(rankOther, local)
		add(rankDomain, domain)
	}
	return out
}

// updateVocab adds the deltas of df to directory_vocab.
func updateVocab(ctx context.Context, tx *store.Tx, df map[string]int) error {
	type delta struct {
		term string
		d    int
	}
	var rows []delta
	for t, d := range df {
		if d != 0 {
			rows = append(rows, delta{t, d})
		}
	}
	// In order, so that concurrent transactions lock rows in the same order.
	sort.Slice(rows, func(i, j int) bool { return rows[i].term < rows[j].term })
	return insertRows(ctx, tx, `INSERT INTO directory_vocab (term, df) VALUES `, "(?, ?)", rows,
		func(r delta) []any { return []any{r.term, r.d} }, ` ON CONFLICT (term) DO UPDATE SET df = directory_vocab.df + excluded.df`)
}

// termsPerInsert is the fixed number of rows of one INSERT (padded by
// repeating a row, which ON CONFLICT ignores).
const termsPerInsert = 128

func insertTerms(ctx context.Context, tx *store.Tx, terms []termRow) error {
	if len(terms) == 0 {
		return nil
	}
	q := `INSERT INTO directory_terms (rank, term, sortkey, account_id) VALUES ` +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?), ", termsPerInsert), ", ") + ` ON CONFLICT DO NOTHING`
	args := make([]any, 0, 4*termsPerInsert)
	for i := 0; i < len(terms); i += termsPerInsert {
		args = args[:0]
		for j := 0; j < termsPerInsert; j++ {
			t := terms[i]
			if i+j < len(terms) {
				t = terms[i+j]
			}
			args = append(args, t.rank, t.term, t.sortkey, t.id)
		}
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("index terms: %w", err)
		}
	}
	return nil
}

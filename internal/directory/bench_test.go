package directory_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/directory"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// benchEntries is the size of the generated directory (SPEC §5: about
// 100,000 users for one operator); HYGIE_DIRBENCH_N overrides it.
const benchEntries = 100_000

var (
	benchFirst = []string{"Jean", "Marie", "Pierre", "Anne", "Éloïse", "François", "Hélène", "Jérôme", "Cécile", "Noël",
		"Louis", "Camille", "Nicolas", "Isabelle", "Thomas", "Nathalie", "Julien", "Sophie", "Céline", "Stéphane",
		"Léa", "Chloé", "Zoé", "Maël", "Inès", "Gaëlle", "Benoît", "Agnès", "Loïc", "Françoise"}
	benchLastA = []string{"Du", "Le", "Ma", "Be", "Ro", "Fa", "Gi", "La", "Mo", "Pe", "Ri", "Sa", "Va", "Bo", "Ca", "De", "Fo", "Ga", "Lu", "Me"}
	benchLastB = []string{"pont", "fèvre", "rtin", "rnard", "usseau", "ure", "rard", "mbert", "reau", "tit", "chard", "lmon",
		"llet", "nnet", "rré", "schamps", "urnier", "rnier", "cas", "rcier", "ssier", "lin", "guier", "nœud"}
	benchProf = []string{"Médecin", "Médecin", "Médecin", "Médecin", "Infirmier", "Infirmière", "Pharmacien", "Masseur-kinésithérapeute",
		"Chirurgien-dentiste", "Sage-femme", "Secrétaire médicale", "Psychologue", "Orthophoniste", "Biologiste"}
	benchSpec = []string{"", "", "Médecine générale", "Cardiologie", "Pédiatrie", "Gynécologie-obstétrique", "Dermatologie", "Psychiatrie",
		"Radiologie", "Anesthésie-réanimation", "Ophtalmologie", "Oto-rhino-laryngologie", "Pneumologie", "Néphrologie",
		"Gastro-entérologie", "Rhumatologie", "Neurologie", "Endocrinologie", "Gériatrie", "Urologie"}
	benchCity = []string{"75012 Paris", "69003 Lyon", "13005 Marseille", "31000 Toulouse", "06000 Nice", "44000 Nantes", "67000 Strasbourg",
		"34000 Montpellier", "33000 Bordeaux", "59000 Lille", "35000 Rennes", "51100 Reims", "42000 Saint-Étienne", "83000 Toulon",
		"38000 Grenoble", "21000 Dijon", "49000 Angers", "30000 Nîmes", "63000 Clermont-Ferrand", "37000 Tours", "87000 Limoges",
		"80000 Amiens", "66000 Perpignan", "57000 Metz", "25000 Besançon", "45000 Orléans", "76000 Rouen", "14000 Caen", "54000 Nancy", "97400 Saint-Denis"}
)

// benchQueries mixes what people type: short prefixes, names, first
// names, professions, specialities, cities, several words, addresses.
var benchQueries = []string{"m", "du", "mar", "dupont", "lefevre", "Lefèvre", "rous", "jean", "éloïse", "cel", "medecin", "médecin",
	"infirm", "cardio", "pédiatrie", "lyon", "paris", "saint", "69003", "jean dupont", "marie lefevre", "médecin lyon",
	"cardiologie paris", "infirmier marseille", "pharmacien strasbourg", "pediatrie toulouse", "dupont cardio lyon",
	"jean.dupont", "jean.dupont@med", "clinique", "centre hospitalier", "m d", "sage femme", "psychiatrie nice", "gaelle ro",
	"zz", "xylophone", "kine", "chirurgien dentiste bordeaux", "noel"}

// benchStores keeps the filled databases across the runs of a benchmark
// (the testing package calls it again with a larger b.N).
var benchStores = map[string]*store.Store{}

// benchStore fills a new database of the dialect with n generated
// accounts in 800 structures and builds the index.
func benchStore(b *testing.B, dsn string, n int) *store.Store {
	b.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
	const structures = 800
	err = st.Tx(ctx, func(tx *store.Tx) error {
		for i := 0; i < structures; i++ {
			name := fmt.Sprintf("Clinique %s %d", strings.TrimSpace(benchLastA[i%len(benchLastA)]+benchLastB[i%len(benchLastB)]), i)
			if i%3 == 0 {
				name = fmt.Sprintf("Centre hospitalier de %s %d", strings.SplitN(benchCity[i%len(benchCity)], " ", 2)[1], i)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO structures (name, finess, created_at) VALUES (?, ?, ?)`,
				name, fmt.Sprintf("%09d", 100000000+i), time.Now().Unix()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	var sids []int64
	rows, err := st.Query(ctx, `SELECT id FROM structures ORDER BY id`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id int64
		rows.Scan(&id)
		sids = append(sids, id)
	}
	rows.Close()
	const perStmt = 50
	cols := `(structure_id, kind, login, mss, first_name, last_name, label, rpps, finess, created_at, phone, postal_address,
		raison_sociale, profession, specialite, visible_login, visible_mss, dematerialisation, disabled)`
	ph := "(" + strings.TrimSuffix(strings.Repeat("?, ", 19), ", ") + ")"
	q := `INSERT INTO accounts ` + cols + ` VALUES ` + strings.TrimSuffix(strings.Repeat(ph+", ", perStmt), ", ")
	for base := 0; base < n; base += 5000 {
		err := st.Tx(ctx, func(tx *store.Tx) error {
			for i := base; i < min(base+5000, n); i += perStmt {
				args := make([]any, 0, 19*perStmt)
				for j := i; j < i+perStmt; j++ {
					first := benchFirst[r.IntN(len(benchFirst))]
					last := benchLastA[r.IntN(len(benchLastA))] + benchLastB[r.IntN(len(benchLastB))]
					if r.IntN(4) == 0 {
						last += "-" + benchLastA[r.IntN(len(benchLastA))] + benchLastB[r.IntN(len(benchLastB))]
					}
					kind, label, mss, rpps, finess := "PER", "", any(fmt.Sprintf("%s.%s.%d@medecin.hygie.test", first, last, j)), fmt.Sprintf("1%010d", j), ""
					switch x := r.IntN(100); {
					case x < 15:
						kind, mss, rpps = "MED", nil, ""
					case x < 20:
						kind, rpps = "INT", ""
					case x < 25:
						kind, label, rpps, finess = "ORG", "Service de "+strings.ToLower(benchSpec[2+r.IntN(len(benchSpec)-2)]), "", fmt.Sprintf("%09d", 200000000+j)
						mss = fmt.Sprintf("service.%d@hopital.hygie.test", j)
					}
					if kind == "ORG" {
						first, last = "", ""
					}
					city := benchCity[r.IntN(len(benchCity))]
					visLogin, visMSS, disabled := 1, 1, 0
					if r.IntN(10) == 0 {
						visLogin = 0
					}
					if r.IntN(10) == 0 {
						visMSS = 0
					}
					if r.IntN(100) == 0 {
						disabled = 1
					}
					args = append(args, sids[r.IntN(len(sids))], kind, fmt.Sprintf("u%d@hygie.test", j), mss, first, last, label, rpps, finess,
						time.Now().Unix(), "01 23 45 67 89", fmt.Sprintf("%d rue de la République\n%s", 1+r.IntN(200), city),
						"", benchProf[r.IntN(len(benchProf))], benchSpec[r.IntN(len(benchSpec))], visLogin, visMSS, r.IntN(2), disabled)
				}
				if _, err := tx.Exec(ctx, q, args...); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	fmt.Printf("%s: %d accounts inserted in %v\n", st.Dialect, n, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := directory.Sync(ctx, st); err != nil {
		b.Fatal(err)
	}
	var terms, published int
	st.QueryRow(ctx, `SELECT COUNT(*) FROM directory_terms`).Scan(&terms)
	st.QueryRow(ctx, `SELECT COUNT(*) FROM directory_published`).Scan(&published)
	fmt.Printf("%s: index built in %v (%d terms, %d published MSSanté addresses)\n", st.Dialect, time.Since(start).Round(time.Millisecond), terms, published)
	if st.Dialect == store.Postgres {
		// What autovacuum does soon after a bulk load; SQLite runs
		// without statistics, as in production.
		st.DB.ExecContext(ctx, `ANALYZE`)
	}
	return st
}

// BenchmarkDirectorySearch measures directory.Search over 100,000
// generated entries on SQLite and PostgreSQL, cycling through
// benchQueries, and reports the p50 and p99 latency of one query (goal:
// p99 < 20 ms). Run:
//
//	HYGIE_TEST_POSTGRES=postgres://… go test ./internal/directory -run '^$' -bench DirectorySearch -benchtime 4000x
func BenchmarkDirectorySearch(b *testing.B) {
	n := benchEntries
	if v, err := strconv.Atoi(os.Getenv("HYGIE_DIRBENCH_N")); err == nil && v > 0 {
		n = v
	}
	for name, dsn := range storetest.DSNs(b) {
		b.Run(name, func(b *testing.B) {
			st := benchStores[dsn]
			if st == nil {
				st = benchStore(b, dsn, n)
				benchStores[dsn] = st
			}
			ctx := context.Background()
			// Warm up: every query once.
			for _, q := range benchQueries {
				if _, err := directory.Search(ctx, st, directory.Query{Text: q, Limit: 20}); err != nil {
					b.Fatal(err)
				}
			}
			durs := make([]time.Duration, 0, b.N)
			perQuery := map[string][]time.Duration{}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				q := benchQueries[i%len(benchQueries)]
				t0 := time.Now()
				if _, err := directory.Search(ctx, st, directory.Query{Text: q, Limit: 20}); err != nil {
					b.Fatal(err)
				}
				d := time.Since(t0)
				durs = append(durs, d)
				perQuery[q] = append(perQuery[q], d)
			}
			b.StopTimer()
			slices.Sort(durs)
			pct := func(d []time.Duration, p float64) float64 {
				return float64(d[min(len(d)-1, int(float64(len(d))*p))].Microseconds()) / 1000
			}
			b.ReportMetric(pct(durs, 0.50), "p50_ms")
			b.ReportMetric(pct(durs, 0.99), "p99_ms")
			b.ReportMetric(float64(durs[len(durs)-1].Microseconds())/1000, "max_ms")
			type qs struct {
				q        string
				p50, p99 float64
			}
			var worst []qs
			for q, d := range perQuery {
				slices.Sort(d)
				worst = append(worst, qs{q, pct(d, 0.5), pct(d, 0.99)})
			}
			slices.SortFunc(worst, func(a, b qs) int {
				if a.p99 > b.p99 {
					return -1
				}
				if a.p99 < b.p99 {
					return 1
				}
				return 0
			})
			var lines []string
			for _, w := range worst[:min(8, len(worst))] {
				lines = append(lines, fmt.Sprintf("%q p50 %.2f ms p99 %.2f ms", w.q, w.p50, w.p99))
			}
			fmt.Printf("%s, %d entries, b.N=%d: p50 %.2f ms, p99 %.2f ms; slowest queries:\n  %s\n", name, n, b.N,
				pct(durs, 0.50), pct(durs, 0.99), strings.Join(lines, "\n  "))
		})
	}
}

package directory_test

import (
	"context"
	"strings"
	"testing"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/directory"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

type dirFixture struct {
	st  *store.Store
	svc *account.Service
	acc map[string]*account.Account
}

func newDirFixture(t *testing.T, dsn string) *dirFixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := account.NewService(st)
	if _, err := svc.CreateStructure(ctx, "Clinique des Lilas", "750000001"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateStructure(ctx, "Cabinet Fermé", ""); err != nil {
		t.Fatal(err)
	}
	f := &dirFixture{st: st, svc: svc, acc: map[string]*account.Account{}}
	mk := func(key string, n account.NewAccount) {
		if n.Structure == "" {
			n.Structure = "Clinique des Lilas"
		}
		a, err := svc.Create(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		f.acc[key] = a
	}
	mk("dupont", account.NewAccount{Kind: account.PER, Login: "jean.dupont@lilas.test", MSS: "jean.dupont@medecin.hygie.test",
		FirstName: "Jean", LastName: "Dupont", RPPS: "10000000001"})
	mk("dupontel", account.NewAccount{Kind: account.PER, Login: "a.dupontel@lilas.test", MSS: "albert.dupontel@medecin.hygie.test",
		FirstName: "Albert", LastName: "Dupontel", RPPS: "10000000002"})
	mk("eloise", account.NewAccount{Kind: account.INT, Login: "eloise@lilas.test", MSS: "eloise.lefevre@medecin.hygie.test",
		FirstName: "Éloïse", LastName: "Lefèvre"})
	mk("dupuis", account.NewAccount{Kind: account.MED, Login: "secretariat.dupuis@lilas.test", FirstName: "Dupont", LastName: "Martin"})
	mk("box", account.NewAccount{Kind: account.ORG, Login: "urgences@lilas.test", MSS: "urgences@hopital.hygie.test",
		Label: "Service des Urgences", FINESS: "750000002"})
	mk("closed", account.NewAccount{Structure: "Cabinet Fermé", Kind: account.PER, Login: "ferme@ferme.test", MSS: "ferme@medecin.hygie.test",
		FirstName: "Jacques", LastName: "Dupontier"})
	if err := svc.UpdateActivity(ctx, f.acc["dupont"].ID, account.Activity{Profession: "Médecin", Specialite: "Cardiologie", RaisonSociale: "Cabinet du Cœur"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.UpdatePersonalData(ctx, f.acc["dupont"].ID, account.PersonalData{FirstName: "Jean", LastName: "Dupont", Phone: "01 23 45 67 89",
		PostalAddress: "12 rue des Lilas\n69003 Lyon CEDEX 03"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.UpdateActivity(ctx, f.acc["eloise"].ID, account.Activity{Profession: "Médecin", Specialite: "Pédiatrie"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.UpdatePersonalData(ctx, f.acc["eloise"].ID, account.PersonalData{FirstName: "Éloïse", LastName: "Lefèvre",
		PostalAddress: "3 place Bellecour\n69002 Lyon"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.DisableStructure(ctx, "Cabinet Fermé"); err != nil {
		t.Fatal(err)
	}
	return f
}

// storetestEach runs fn on a fresh fixture of every dialect.
func storetestEach(t *testing.T, fn func(t *testing.T, f *dirFixture)) {
	storetest.Each(t, func(t *testing.T, dsn string) { fn(t, newDirFixture(t, dsn)) })
}

func (f *dirFixture) names(t *testing.T, text string) []string {
	t.Helper()
	es, err := directory.Search(context.Background(), f.st, directory.Query{Text: text})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Name)
	}
	return out
}

func (f *dirFixture) mails(t *testing.T, text string) string {
	t.Helper()
	es, err := directory.Search(context.Background(), f.st, directory.Query{Text: text})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range es {
		out = append(out, e.Mails()...)
	}
	return strings.Join(out, " ")
}

func TestSearchAccentsCasePrefixRanking(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		f := newDirFixture(t, dsn)
		check := func(text string, want ...string) {
			t.Helper()
			got := f.names(t, text)
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("search %q = %q, want %q", text, got, want)
			}
		}
		// Exact last name, then last name by prefix, then first name,
		// then other fields (the MED's first name is Dupont: first-name
		// exact ranks after last-name exact, before prefixes).
		check("dupont", "Jean Dupont", "Dupont Martin", "Albert Dupontel")
		check("DUP", "Jean Dupont", "Albert Dupontel", "Dupont Martin")
		// Accents and case, both ways.
		check("eloise", "Éloïse Lefèvre")
		check("LEFEVRE", "Éloïse Lefèvre")
		check("léfév", "Éloïse Lefèvre")
		// Profession, speciality, structure, raison sociale, city, postcode.
		check("medecin", "Jean Dupont", "Éloïse Lefèvre", "Albert Dupontel") // last: address domain
		check("cardio", "Jean Dupont")
		check("pédia", "Éloïse Lefèvre")
		check("coeur", "Jean Dupont")
		check("lyon", "Jean Dupont", "Éloïse Lefèvre")
		check("69002", "Éloïse Lefèvre")
		check("lilas urg", "Service des Urgences")
		// Several words: all must match; ranked by the sum.
		check("jean dupont", "Jean Dupont")
		check("médecin lyon pédiatrie", "Éloïse Lefèvre")
		check("dupont cardiologue")
		// Organisational boxes under their label.
		check("service", "Service des Urgences")
		check("urgences", "Service des Urgences")
		// Disabled structure: never.
		check("dupontier")
		check("jacques")
		check("")
	})
}

func TestVisibilityInSearchAndCard(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		f := newDirFixture(t, dsn)
		ctx := context.Background()
		d := f.acc["dupont"]
		if got := f.mails(t, "jean dupont"); got != "jean.dupont@lilas.test jean.dupont@medecin.hygie.test" {
			t.Fatalf("mails = %q", got)
		}
		card, err := directory.Card(ctx, f.st, d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if card.Phone != "01 23 45 67 89" || card.City != "Lyon" || card.Postcode != "69003" || card.Profession != "Médecin" ||
			card.Specialite != "Cardiologie" || card.RaisonSociale != "Cabinet du Cœur" || card.Kind != "PER" || !card.Dematerialisation ||
			card.Structure != "Clinique des Lilas" || len(card.Addresses) != 2 {
			t.Fatalf("card = %+v", card)
		}
		// Hide the MSSanté address: gone from search (even typed in
		// full), and from the card.
		if err := f.svc.SetVisibility(ctx, d.ID, true, false); err != nil {
			t.Fatal(err)
		}
		if got := f.mails(t, "jean dupont"); got != "jean.dupont@lilas.test" {
			t.Fatalf("after hiding mss, mails = %q", got)
		}
		if got := f.mails(t, "jean.dupont@medecin.hygie.test"); got != "" {
			// the words jean, dupont also match the login address; the
			// hidden address itself must not be returned
			if strings.Contains(got, "medecin.hygie.test") {
				t.Fatalf("hidden address returned: %q", got)
			}
		}
		if got := f.names(t, "jean.dupont@medecin"); len(got) != 0 {
			t.Fatalf("hidden address typed: %q", got)
		}
		if got := f.names(t, "Albert.Dupontel@med"); strings.Join(got, "|") != "Albert Dupontel" {
			t.Fatalf("visible address typed: %q", got)
		}
		if got := f.names(t, "dupont medecin.hygie.test"); strings.Join(got, "|") != "Albert Dupontel" {
			// dupont is Jean Dupont's last name, but his address in
			// medecin.hygie.test is hidden: only Dupontel matches both words.
			t.Fatalf("search by hidden address words = %q", got)
		}
		card, _ = directory.Card(ctx, f.st, d.ID)
		if len(card.Addresses) != 1 || card.Addresses[0].Address != "jean.dupont@lilas.test" {
			t.Fatalf("card addresses = %+v", card.Addresses)
		}
		// Hide both: the account leaves the directory.
		if err := f.svc.SetVisibility(ctx, d.ID, false, false); err != nil {
			t.Fatal(err)
		}
		if got := f.names(t, "dupont"); strings.Join(got, "|") != "Dupont Martin|Albert Dupontel" {
			t.Fatalf("after hiding both: %q", got)
		}
		if _, err := directory.Card(ctx, f.st, d.ID); err != directory.ErrNotFound {
			t.Fatalf("card of hidden account: %v", err)
		}
		// Autocomplete (account.SearchVisible) is the same search.
		got, err := f.svc.SearchVisible(ctx, "dupont", 10)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range got {
			if e.AccountID == d.ID {
				t.Fatalf("autocomplete returned a hidden account: %+v", e)
			}
		}
		// Visible again, then disabled: never.
		if err := f.svc.SetVisibility(ctx, d.ID, true, true); err != nil {
			t.Fatal(err)
		}
		if got := f.names(t, "jean dupont"); len(got) != 1 {
			t.Fatalf("visible again: %q", got)
		}
		if err := f.svc.SetDisabled(ctx, "jean.dupont@lilas.test", true); err != nil {
			t.Fatal(err)
		}
		if got := f.names(t, "jean dupont"); len(got) != 0 {
			t.Fatalf("disabled account found: %q", got)
		}
		if _, err := directory.Card(ctx, f.st, d.ID); err != directory.ErrNotFound {
			t.Fatalf("card of disabled account: %v", err)
		}
		// Closed structure's account has no card either.
		if _, err := directory.Card(ctx, f.st, f.acc["closed"].ID); err != directory.ErrNotFound {
			t.Fatalf("card in disabled structure: %v", err)
		}
	})
}

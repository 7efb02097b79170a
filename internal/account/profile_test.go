package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// profileFixture opens a store with a structure, a PER, a MED and a box.
type profileFixture struct {
	svc           *account.Service
	st            *store.Store
	per, med, box *account.Account
}

func newProfileFixture(t *testing.T, dsn string) *profileFixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := account.NewService(st)
	if _, err := svc.CreateStructure(ctx, "Cabinet", ""); err != nil {
		t.Fatal(err)
	}
	f := &profileFixture{svc: svc, st: st}
	mk := func(n account.NewAccount) *account.Account {
		n.Structure = "Cabinet"
		a, err := svc.Create(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	f.per = mk(account.NewAccount{Kind: account.PER, Login: "jean@cabinet.test", MSS: "jean.dupont@medecin.hygie.test", FirstName: "Jean", LastName: "Dupont"})
	f.med = mk(account.NewAccount{Kind: account.MED, Login: "marie@cabinet.test", FirstName: "Marie", LastName: "Martin"})
	f.box = mk(account.NewAccount{Kind: account.ORG, Login: "accueil@cabinet.test", MSS: "accueil@hygie.test", Label: "Accueil du cabinet"})
	return f
}

func TestProfileDefaultsAndUpdates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newProfileFixture(t, dsn)
		p, err := f.svc.Profile(ctx, f.per.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !p.VisibleLogin || !p.VisibleMSS || !p.Dematerialisation {
			t.Fatalf("defaults: %+v; want both addresses visible and dematerialisation accepted", p)
		}
		// A: personal data, trimmed and saved.
		err = f.svc.UpdatePersonalData(ctx, f.per.ID, account.PersonalData{FirstName: " Jean-Luc ", LastName: "Dupont-Moretti",
			Phone: "+33  5 61 00 00 00", PostalAddress: "1 rue de la Paix\r\n31000 Toulouse"})
		if err != nil {
			t.Fatal(err)
		}
		// B: activity.
		if err := f.svc.UpdateActivity(ctx, f.per.ID, account.Activity{RaisonSociale: "Cabinet Dupont", Profession: "Médecin", Specialite: "Cardiologie"}); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.SetDematerialisation(ctx, f.per.ID, false); err != nil {
			t.Fatal(err)
		}
		p, _ = f.svc.Profile(ctx, f.per.ID)
		want := account.Profile{FirstName: "Jean-Luc", LastName: "Dupont-Moretti", Phone: "+33 5 61 00 00 00",
			PostalAddress: "1 rue de la Paix\n31000 Toulouse", RaisonSociale: "Cabinet Dupont", Profession: "Médecin",
			Specialite: "Cardiologie", VisibleLogin: true, VisibleMSS: true, Dematerialisation: false}
		if *p != want {
			t.Fatalf("profile = %+v\nwant %+v", *p, want)
		}
		if a, _ := f.svc.ByID(ctx, f.per.ID); a.DisplayName() != "Jean-Luc Dupont-Moretti" {
			t.Fatalf("display name %q", a.DisplayName())
		}

		// Refusals: every bad field reported at once, nothing saved.
		err = f.svc.UpdatePersonalData(ctx, f.per.ID, account.PersonalData{FirstName: "", LastName: strings.Repeat("x", 101),
			Phone: "05 61 ab", PostalAddress: "bell\x07"})
		var bad account.InvalidFields
		if !errors.As(err, &bad) || !errors.Is(err, account.ErrInvalid) {
			t.Fatalf("invalid data: %v", err)
		}
		got := map[string]account.Problem{}
		for _, fe := range bad {
			got[fe.Field] = fe.Problem
		}
		wantProblems := map[string]account.Problem{"first_name": account.ProblemRequired, "last_name": account.ProblemTooLong,
			"phone": account.ProblemPhone, "postal_address": account.ProblemControl}
		for k, v := range wantProblems {
			if got[k] != v {
				t.Errorf("field %s: problem %d, want %d (all: %v)", k, got[k], v, bad)
			}
		}
		if p2, _ := f.svc.Profile(ctx, f.per.ID); *p2 != want {
			t.Fatalf("a refused save changed the profile: %+v", *p2)
		}
		for _, phone := range []string{"123", "+33 6 12 34 56 78 90 12 34", "06-12-34-56-78", "33+6", "06.12.34.56.78"} {
			err := f.svc.UpdatePersonalData(ctx, f.per.ID, account.PersonalData{FirstName: "J", LastName: "D", Phone: phone})
			if !errors.As(err, &bad) || bad[0].Field != "phone" {
				t.Errorf("phone %q accepted: %v", phone, err)
			}
		}
		if err := f.svc.UpdateActivity(ctx, f.per.ID, account.Activity{Profession: strings.Repeat("é", 101)}); !errors.As(err, &bad) || bad[0].Field != "profession" {
			t.Errorf("long profession: %v", err)
		}
		if err := f.svc.UpdateActivity(ctx, f.per.ID, account.Activity{Profession: "a\nb"}); !errors.As(err, &bad) || bad[0].Problem != account.ProblemControl {
			t.Errorf("line break in a one-line field: %v", err)
		}

		// A box has no first or last name: they are not required, nor changed.
		if err := f.svc.UpdatePersonalData(ctx, f.box.ID, account.PersonalData{Phone: "05 61 00 00 01"}); err != nil {
			t.Fatalf("box personal data: %v", err)
		}
		if b, _ := f.svc.ByID(ctx, f.box.ID); b.DisplayName() != "Accueil du cabinet" {
			t.Fatalf("box name changed: %q", b.DisplayName())
		}
		if err := f.svc.UpdateActivity(ctx, 999999, account.Activity{}); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("unknown account: %v", err)
		}
	})
}

// TestVisibilityHidesFromDirectory checks that the checkboxes of
// Informations personnelles C really remove an address from the directory
// search shared with the webmail autocomplete.
func TestVisibilityHidesFromDirectory(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newProfileFixture(t, dsn)
		addrs := func(q string) []string {
			t.Helper()
			es, err := f.svc.SearchVisible(ctx, q, 20)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, e := range es {
				out = append(out, e.Address)
			}
			return out
		}
		has := func(list []string, a string) bool {
			for _, x := range list {
				if x == a {
					return true
				}
			}
			return false
		}
		// Visible by default, by first name, last name, « prénom nom », address, label.
		for _, q := range []string{"jea", "DUP", "jean d", "jean.dupont@", "jean@cab"} {
			if got := addrs(q); !has(got, "jean@cabinet.test") && !has(got, "jean.dupont@medecin.hygie.test") {
				t.Errorf("search %q: %v", q, got)
			}
		}
		if got := addrs("jean"); !has(got, "jean@cabinet.test") || !has(got, "jean.dupont@medecin.hygie.test") {
			t.Fatalf("both addresses expected: %v", got)
		}
		if got := addrs("accueil du"); !has(got, "accueil@cabinet.test") || !has(got, "accueil@hygie.test") {
			t.Fatalf("box by label: %v", got)
		}
		es, _ := f.svc.SearchVisible(ctx, "marie", 5)
		if len(es) != 1 || es[0].Name != "Marie Martin" || es[0].Kind != account.MED || es[0].Address != "marie@cabinet.test" {
			t.Fatalf("entry = %+v", es)
		}
		// Wildcards are literal.
		if got := addrs("%"); len(got) != 0 {
			t.Fatalf("%% matched %v", got)
		}
		if got := addrs("_"); len(got) != 0 {
			t.Fatalf("_ matched %v", got)
		}

		// Hide the login address: only the MSSanté one remains, even when
		// the login address is typed in full.
		if err := f.svc.SetVisibility(ctx, f.per.ID, false, true); err != nil {
			t.Fatal(err)
		}
		if got := addrs("jean"); has(got, "jean@cabinet.test") || !has(got, "jean.dupont@medecin.hygie.test") {
			t.Fatalf("login hidden: %v", got)
		}
		if got := addrs("jean@cabinet.test"); len(got) != 0 {
			t.Fatalf("hidden login found by its address: %v", got)
		}
		// Hide both: the person is gone from the directory.
		if err := f.svc.SetVisibility(ctx, f.per.ID, false, false); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"jean", "dupont", "jean.dupont@medecin.hygie.test"} {
			if got := addrs(q); len(got) != 0 {
				t.Fatalf("hidden account found by %q: %v", q, got)
			}
		}
		if p, _ := f.svc.Profile(ctx, f.per.ID); p.VisibleLogin || p.VisibleMSS {
			t.Fatalf("flags not saved: %+v", p)
		}
		// Show the login again, keep the MSSanté address hidden.
		if err := f.svc.SetVisibility(ctx, f.per.ID, true, false); err != nil {
			t.Fatal(err)
		}
		if got := addrs("dupont"); len(got) != 1 || got[0] != "jean@cabinet.test" {
			t.Fatalf("only the login expected: %v", got)
		}
		// A MED account has no MSSanté address: its flag stays as it was.
		if err := f.svc.SetVisibility(ctx, f.med.ID, false, false); err != nil {
			t.Fatal(err)
		}
		if p, _ := f.svc.Profile(ctx, f.med.ID); p.VisibleLogin || !p.VisibleMSS {
			t.Fatalf("MED flags: %+v", p)
		}
		if got := addrs("marie"); len(got) != 0 {
			t.Fatalf("hidden MED found: %v", got)
		}
		// Disabled accounts never appear.
		if err := f.svc.SetDisabled(ctx, "accueil@cabinet.test", true); err != nil {
			t.Fatal(err)
		}
		if got := addrs("accueil"); len(got) != 0 {
			t.Fatalf("disabled box found: %v", got)
		}
		// Limit.
		if es, _ := f.svc.SearchVisible(ctx, "", 10); len(es) != 0 {
			t.Fatalf("empty query returned %v", es)
		}
	})
}

func TestAccessibleAccounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newProfileFixture(t, dsn)
		other, err := f.svc.Create(ctx, account.NewAccount{Structure: "Cabinet", Kind: account.ORG, Login: "autre@cabinet.test",
			MSS: "autre@hygie.test", Label: "Autre boîte"})
		if err != nil {
			t.Fatal(err)
		}
		if err := f.svc.AddMember(ctx, "accueil@cabinet.test", "jean@cabinet.test"); err != nil {
			t.Fatal(err)
		}
		acc, err := f.svc.BoxAccesses(ctx, f.per.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(acc) != 1 || acc[0].Box.ID != f.box.ID || !acc[0].Notify {
			t.Fatalf("accesses = %+v; want the box, notifications on by default", acc)
		}
		if def, _ := f.svc.DefaultAccount(ctx, f.per.ID); def != f.per.ID {
			t.Fatalf("default %d", def)
		}
		if err := f.svc.SaveAccess(ctx, f.per.ID, f.box.ID, map[int64]bool{f.box.ID: false}); err != nil {
			t.Fatal(err)
		}
		if def, _ := f.svc.DefaultAccount(ctx, f.per.ID); def != f.box.ID {
			t.Fatalf("default %d, want the box %d", def, f.box.ID)
		}
		if acc, _ := f.svc.BoxAccesses(ctx, f.per.ID); acc[0].Notify {
			t.Fatal("notification choice not saved")
		}
		// A box the person is not a member of, or another person's account,
		// cannot be the default.
		for _, id := range []int64{other.ID, f.med.ID} {
			if err := f.svc.SaveAccess(ctx, f.per.ID, id, nil); !errors.Is(err, account.ErrInvalid) {
				t.Fatalf("default %d accepted: %v", id, err)
			}
		}
		// Notify entries for foreign boxes do nothing.
		if err := f.svc.SaveAccess(ctx, f.per.ID, f.per.ID, map[int64]bool{other.ID: true, f.box.ID: true}); err != nil {
			t.Fatal(err)
		}
		if def, _ := f.svc.DefaultAccount(ctx, f.per.ID); def != f.per.ID {
			t.Fatalf("back to the individual account: %d", def)
		}
		var n int
		if err := f.st.QueryRow(ctx, `SELECT COUNT(*) FROM box_members WHERE account_id = ?`, f.per.ID).Scan(&n); err != nil || n != 1 {
			t.Fatalf("memberships %d %v", n, err)
		}
	})
}

func TestDelegationRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newProfileFixture(t, dsn)
		// By login or by MSSanté address, any case.
		d, err := f.svc.AddDelegation(ctx, f.med.ID, "Jean.Dupont@medecin.hygie.test")
		if err != nil || d.ID != f.per.ID {
			t.Fatalf("add by MSSanté address: %v %v", d, err)
		}
		// A box may be a delegate (the guide advises MED accounts to delegate
		// to a PER or ORG account).
		if _, err := f.svc.AddDelegation(ctx, f.med.ID, "accueil@cabinet.test"); err != nil {
			t.Fatalf("box as delegate: %v", err)
		}
		cases := []struct {
			addr string
			want error
		}{
			{"jean@cabinet.test", account.ErrDuplicate},
			{"marie@cabinet.test", account.ErrSelfDelegation},
			{"secretariat@gmail.example", account.ErrNotPlatformUser},
			{"inconnu@cabinet.test", account.ErrNotPlatformUser},
			{"pas une adresse", account.ErrInvalid},
		}
		for _, c := range cases {
			if _, err := f.svc.AddDelegation(ctx, f.med.ID, c.addr); !errors.Is(err, c.want) {
				t.Errorf("%s: %v, want %v", c.addr, err, c.want)
			}
		}
		list, err := f.svc.Delegations(ctx, f.med.ID)
		if err != nil || len(list) != 2 || list[0].Delegate.Login != "accueil@cabinet.test" || list[1].Delegate.Login != "jean@cabinet.test" {
			t.Fatalf("delegations = %+v %v", list, err)
		}
		// Delegates are the enabled ones.
		if err := f.svc.SetDisabled(ctx, "accueil@cabinet.test", true); err != nil {
			t.Fatal(err)
		}
		if ds, _ := account.DelegatesTx(ctx, f.st, f.med.ID); len(ds) != 1 || ds[0].ID != f.per.ID {
			t.Fatalf("enabled delegates = %v", ds)
		}
		if _, err := f.svc.AddDelegation(ctx, f.per.ID, "accueil@cabinet.test"); !errors.Is(err, account.ErrDisabled) {
			t.Fatalf("disabled delegate: %v", err)
		}
		// Removing is looked up with the delegating account.
		if err := f.svc.RemoveDelegation(ctx, f.per.ID, f.per.ID); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("remove a delegation of another account: %v", err)
		}
		if err := f.svc.RemoveDelegation(ctx, f.med.ID, f.per.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.RemoveDelegation(ctx, f.med.ID, f.per.ID); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("remove twice: %v", err)
		}
		if list, _ := f.svc.Delegations(ctx, f.med.ID); len(list) != 1 {
			t.Fatalf("after removal: %+v", list)
		}
	})
}

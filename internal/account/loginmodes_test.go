package account_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

func openService(t *testing.T, dsn string) (*account.Service, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return account.NewService(st), st
}

// TestLoginModes: association (idempotent, one identity per account and
// per provider), RPPS lookup, dissociation, and the last remaining login
// mode (the password counts as one).
func TestLoginModes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		svc, _ := openService(t, dsn)
		if _, err := svc.CreateStructure(ctx, "Clinique", "310000000"); err != nil {
			t.Fatal(err)
		}
		jean, err := svc.Create(ctx, account.NewAccount{Structure: "Clinique", Kind: account.PER, Login: "jean@x.example",
			FirstName: "Jean", LastName: "Dupont", RPPS: "10012345678"})
		if err != nil {
			t.Fatal(err)
		}
		anne, err := svc.Create(ctx, account.NewAccount{Structure: "Clinique", Kind: account.MED, Login: "anne@x.example", FirstName: "Anne", LastName: "Martin"})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.SetPassword(ctx, "jean@x.example", "un-mot-de-passe-solide"); err != nil {
			t.Fatal(err)
		}

		// RPPS, with or without the type digit 8 of SubjectNameID.
		for _, nid := range []string{"10012345678", "810012345678"} {
			a, err := svc.ByNationalID(ctx, nid)
			if err != nil || a.ID != jean.ID {
				t.Fatalf("ByNationalID(%s) = %v, %v", nid, a, err)
			}
		}
		if _, err := svc.ByNationalID(ctx, "899999999999"); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("unknown RPPS: %v", err)
		}

		if err := svc.Associate(ctx, jean.ID, account.ModeCPS, "810012345678"); err != nil {
			t.Fatal(err)
		}
		if err := svc.Associate(ctx, jean.ID, account.ModeCPS, "810012345678"); err != nil {
			t.Fatalf("idempotent: %v", err)
		}
		if err := svc.Associate(ctx, anne.ID, account.ModeCPS, "810012345678"); !errors.Is(err, account.ErrDuplicate) {
			t.Fatalf("same card on another account: %v", err)
		}
		if err := svc.Associate(ctx, jean.ID, account.ModeCPS, "899999999999"); !errors.Is(err, account.ErrDuplicate) {
			t.Fatalf("second card on the account: %v", err)
		}
		if err := svc.Associate(ctx, jean.ID, "facebook", "x"); !errors.Is(err, account.ErrInvalid) {
			t.Fatalf("unknown mode: %v", err)
		}
		if err := svc.Associate(ctx, jean.ID, account.ModePASS, "pass-jean"); err != nil {
			t.Fatal(err)
		}
		a, err := svc.ByLoginMode(ctx, account.ModePASS, "pass-jean")
		if err != nil || a.ID != jean.ID {
			t.Fatalf("ByLoginMode = %v, %v", a, err)
		}
		modes, err := svc.LoginModes(ctx, jean.ID)
		if err != nil || len(modes) != 2 || modes[0].Provider != "cps" || modes[1].Provider != "pass" {
			t.Fatalf("modes %+v %v", modes, err)
		}

		// Password + CPS + PASS: both modes can go, the password stays.
		if err := svc.Dissociate(ctx, jean.ID, account.ModeCPS); err != nil {
			t.Fatal(err)
		}
		if err := svc.Dissociate(ctx, jean.ID, account.ModeCPS); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("twice: %v", err)
		}
		if err := svc.Dissociate(ctx, jean.ID, account.ModePASS); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.ByLoginMode(ctx, account.ModePASS, "pass-jean"); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("after dissociation: %v", err)
		}

		// Anne has no password: her only card cannot be removed.
		if err := svc.Associate(ctx, anne.ID, account.ModeCPS, "800000000001"); err != nil {
			t.Fatal(err)
		}
		if err := svc.Dissociate(ctx, anne.ID, account.ModeCPS); !errors.Is(err, account.ErrLastLoginMode) {
			t.Fatalf("last mode: %v", err)
		}
		if _, err := svc.ByLoginMode(ctx, account.ModeCPS, "800000000001"); err != nil {
			t.Fatalf("last mode removed anyway: %v", err)
		}
		// With a second mode, one of them can go.
		if err := svc.Associate(ctx, anne.ID, account.ModePASS, "pass-anne"); err != nil {
			t.Fatal(err)
		}
		if err := svc.Dissociate(ctx, anne.ID, account.ModeCPS); err != nil {
			t.Fatal(err)
		}
		if err := svc.Dissociate(ctx, anne.ID, account.ModePASS); !errors.Is(err, account.ErrLastLoginMode) {
			t.Fatalf("last mode: %v", err)
		}
	})
}

// TestJoinWithCard: a PER account in the structure whose FINESS matches
// the activity, without password, with unique derived addresses; a pending
// request (once) when no structure matches.
func TestJoinWithCard(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		svc, st := openService(t, dsn)
		if _, err := svc.CreateStructure(ctx, "Clinique Exemple", "310000000"); err != nil {
			t.Fatal(err)
		}
		// Someone already holds jean.dupont's addresses.
		if _, err := svc.Create(ctx, account.NewAccount{Structure: "Clinique Exemple", Kind: account.PER, Login: "jean.dupont@sante.example",
			MSS: "jean.dupont@medecin.sante.example", FirstName: "Jean", LastName: "Dupont"}); err != nil {
			t.Fatal(err)
		}
		pol := account.JoinPolicy{Domain: "sante.example", MSSPattern: "{first}.{last}@medecin.{domain}"}
		j := account.CardJoin{Provider: account.ModeCPS, Subject: "810012345678", NationalID: "810012345678", FirstName: "Jean",
			LastName: "Dupont", Profession: "Médecin", Email: "jean.perso@example.test", FINESS: []string{"999999999", "310000000"},
			RaisonSociale: "CLINIQUE EXEMPLE"}
		res, err := svc.JoinWithCard(ctx, j, pol)
		if err != nil {
			t.Fatal(err)
		}
		a := res.Account
		if a == nil || a.Kind != account.PER || a.Structure != "Clinique Exemple" || a.RPPS != "10012345678" || a.HasPassword() ||
			a.Login != "jean.dupont2@sante.example" || a.MSS != "jean.dupont2@medecin.sante.example" || a.Notify != "jean.perso@example.test" {
			t.Fatalf("joined account %+v", a)
		}
		var profession string
		if err := st.QueryRow(ctx, `SELECT profession FROM accounts WHERE id = ?`, a.ID).Scan(&profession); err != nil || profession != "Médecin" {
			t.Fatalf("profession %q %v", profession, err)
		}
		if b, err := svc.ByLoginMode(ctx, account.ModeCPS, "810012345678"); err != nil || b.ID != a.ID {
			t.Fatalf("card not associated: %v", err)
		}
		// Its card is its only login mode.
		if err := svc.Dissociate(ctx, a.ID, account.ModeCPS); !errors.Is(err, account.ErrLastLoginMode) {
			t.Fatalf("dissociate the only mode: %v", err)
		}
		if _, err := svc.JoinWithCard(ctx, j, pol); !errors.Is(err, account.ErrDuplicate) {
			t.Fatalf("second join with the same card: %v", err)
		}
		// Names with accents and spaces; the third Jean Dupont gets 3.
		j2 := j
		j2.Subject, j2.NationalID = "810000000002", "810000000002"
		res, err = svc.JoinWithCard(ctx, j2, pol)
		if err != nil || res.Account.MSS != "jean.dupont3@medecin.sante.example" {
			t.Fatalf("third: %+v %v", res, err)
		}
		j3 := j
		j3.Subject, j3.NationalID, j3.FirstName, j3.LastName = "810000000003", "810000000003", "Hélène", "Le Bœuf"
		res, err = svc.JoinWithCard(ctx, j3, pol)
		if err != nil || res.Account.MSS != "helene.le-boeuf@medecin.sante.example" {
			t.Fatalf("accents: %+v %v", res, err)
		}

		// No structure with this FINESS: a pending request, transmitted once.
		j4 := j
		j4.Subject, j4.NationalID, j4.FINESS = "810000000004", "810000000004", []string{"123456789"}
		res, err = svc.JoinWithCard(ctx, j4, pol)
		if err != nil || res.Account != nil || res.Request == 0 || res.Already {
			t.Fatalf("request: %+v %v", res, err)
		}
		again, err := svc.JoinWithCard(ctx, j4, pol)
		if err != nil || again.Request != res.Request || !again.Already {
			t.Fatalf("request again: %+v %v", again, err)
		}
		reqs, err := svc.JoinRequests(ctx, "pending")
		if err != nil || len(reqs) != 1 || reqs[0].RPPS != "10000000004" || reqs[0].FINESS != "123456789" || reqs[0].LastName != "Dupont" {
			t.Fatalf("requests %+v %v", reqs, err)
		}
	})
}

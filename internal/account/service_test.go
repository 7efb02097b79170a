package account_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

func TestAccounts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		svc := account.NewService(st)
		if _, err := svc.CreateStructure(ctx, "Clinique Exemple", "310000000"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.CreateStructure(ctx, "Clinique Exemple", ""); !errors.Is(err, account.ErrDuplicate) {
			t.Fatalf("duplicate structure: %v", err)
		}
		if _, err := svc.CreateStructure(ctx, "Bad", "12"); !errors.Is(err, account.ErrInvalid) {
			t.Fatalf("bad FINESS: %v", err)
		}
		doc, err := svc.Create(ctx, account.NewAccount{Structure: "Clinique Exemple", Kind: account.PER, Login: "Jean.Dupont@Clinique.example",
			MSS: "jean.dupont@medecin.hygie.localhost", FirstName: "Jean", LastName: "Dupont", RPPS: "10001234567"})
		if err != nil {
			t.Fatal(err)
		}
		if doc.Login != "jean.dupont@clinique.example" {
			t.Fatalf("login not normalised: %q", doc.Login)
		}
		cases := []account.NewAccount{
			{Structure: "Nope", Kind: account.MED, Login: "a@x.example", FirstName: "A", LastName: "B"},
			{Structure: "Clinique Exemple", Kind: account.MED, Login: "not-an-address", FirstName: "A", LastName: "B"},
			{Structure: "Clinique Exemple", Kind: account.MED, Login: "jean.dupont@clinique.example", FirstName: "A", LastName: "B"},
			{Structure: "Clinique Exemple", Kind: account.MED, Login: "x@clinique.example", MSS: "jean.dupont@medecin.hygie.localhost", FirstName: "A", LastName: "B"},
			{Structure: "Clinique Exemple", Kind: account.MED, Login: "y@clinique.example", MSS: "y@medecin.hygie.localhost", FirstName: "A", LastName: "B"},
		}
		want := []error{account.ErrNotFound, account.ErrInvalid, account.ErrDuplicate, account.ErrInvalid, account.ErrInvalid}
		for i, c := range cases {
			if _, err := svc.Create(ctx, c); !errors.Is(err, want[i]) {
				t.Errorf("case %d: got %v, want %v", i, err, want[i])
			}
		}
		sec, err := svc.Create(ctx, account.NewAccount{Structure: "Clinique Exemple", Kind: account.MED, Login: "secretariat@clinique.example", FirstName: "Marie", LastName: "Martin"})
		if err != nil {
			t.Fatal(err)
		}
		box, err := svc.Create(ctx, account.NewAccount{Structure: "Clinique Exemple", Kind: account.ORG, Login: "cardio@clinique.example",
			MSS: "cardio@hygie.localhost", Label: "Service de cardiologie"})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.AddMember(ctx, box.Login, doc.Login); err != nil {
			t.Fatal(err)
		}
		if err := svc.AddMember(ctx, box.Login, doc.Login); !errors.Is(err, account.ErrDuplicate) {
			t.Fatalf("duplicate member: %v", err)
		}
		if _, err := svc.SenderIdentity(ctx, doc, "cardio@hygie.localhost"); err != nil {
			t.Fatalf("member cannot send as box: %v", err)
		}
		if _, err := svc.SenderIdentity(ctx, sec, "cardio@hygie.localhost"); err == nil {
			t.Fatal("non-member may send as box")
		}
		if err := svc.SetPassword(ctx, doc.Login, "s3cret-password"); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, "JEAN.DUPONT@clinique.example", "s3cret-password"); err != nil {
			t.Fatalf("login: %v", err)
		}
		if _, err := svc.Authenticate(ctx, doc.Login, "wrong-password"); !errors.Is(err, account.ErrBadLogin) {
			t.Fatalf("wrong password: %v", err)
		}
		if err := svc.SetDisabled(ctx, doc.Login, true); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Authenticate(ctx, doc.Login, "s3cret-password"); err == nil {
			t.Fatal("disabled account logged in")
		}
		boxes, err := svc.Boxes(ctx, doc.ID)
		if err != nil || len(boxes) != 1 {
			t.Fatalf("boxes = %v, %v", boxes, err)
		}
		if err := svc.RemoveMember(ctx, box.Login, doc.Login); !errors.Is(err, account.ErrLastMember) {
			t.Fatalf("removing the last member: %v", err)
		}
		if err := svc.AddMember(ctx, box.Login, sec.Login); err != nil {
			t.Fatal(err)
		}
		if err := svc.RemoveMember(ctx, box.Login, doc.Login); err != nil {
			t.Fatal(err)
		}
		if ok, _ := svc.IsMember(ctx, box.ID, doc.ID); ok {
			t.Fatal("still a member after removal")
		}
	})
}

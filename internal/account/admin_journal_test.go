package account_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// TestAdminChangesAtomic checks that the console's membership and
// structure changes are journalled with the change, that a refused change
// (the last member of a box) leaves neither change nor journal entry, and
// that the rule holds for every removal path.
func TestAdminChangesAtomic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		svc := account.NewService(st)
		by := account.Actor{ID: 0, Login: "admin@chu.test"}
		s, err := svc.AdminCreateStructure(ctx, by, "CHU", "")
		if err != nil {
			t.Fatal(err)
		}
		mk := func(n account.NewAccount) *account.Account {
			t.Helper()
			n.Structure = "CHU"
			a, err := svc.Create(ctx, n)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		jean := mk(account.NewAccount{Kind: account.PER, Login: "jean@chu.test", FirstName: "Jean", LastName: "Dupont"})
		luc := mk(account.NewAccount{Kind: account.PER, Login: "luc@chu.test", FirstName: "Luc", LastName: "Petit"})
		box := mk(account.NewAccount{Kind: account.ORG, Login: "accueil@chu.test", MSS: "accueil.mss@chu.test", Label: "Accueil"})
		if err := svc.AdminAddMember(ctx, by, box.ID, "jean@chu.test"); err != nil {
			t.Fatal(err)
		}
		// The last member: refused on every path, nothing journalled.
		if err := svc.AdminRemoveMember(ctx, by, box.ID, jean.ID); !errors.Is(err, account.ErrLastMember) {
			t.Fatalf("console removal of the last member: %v", err)
		}
		if err := svc.AdminRemoveMemberByAddress(ctx, by, box.Login, jean.Login); !errors.Is(err, account.ErrLastMember) {
			t.Fatalf("command-line removal of the last member: %v", err)
		}
		if err := svc.RemoveMember(ctx, box.Login, jean.Login); !errors.Is(err, account.ErrLastMember) {
			t.Fatalf("removal of the last member: %v", err)
		}
		if _, err := svc.RemoveBoxMember(ctx, box.ID, jean.ID); !errors.Is(err, account.ErrLastMember) {
			t.Fatalf("self-service removal of the last member: %v", err)
		}
		if ok, _ := svc.IsMember(ctx, box.ID, jean.ID); !ok {
			t.Fatal("last member removed")
		}
		if err := svc.AdminAddMember(ctx, by, box.ID, "luc@chu.test"); err != nil {
			t.Fatal(err)
		}
		if err := svc.AdminRemoveMember(ctx, by, box.ID, jean.ID); err != nil {
			t.Fatal(err)
		}
		if err := svc.AdminRemoveMember(ctx, by, box.ID, jean.ID); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("removing a non-member: %v", err)
		}
		if err := svc.AdminDisableStructure(ctx, by, s.ID); err != nil {
			t.Fatal(err)
		}
		cs, err := svc.Changes(ctx, account.Roles{Operator: true}, 20)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range cs {
			if c.Actor != by.Login {
				t.Errorf("change %+v: actor %q", c, c.Actor)
			}
			got = append(got, c.Action+" "+c.Target+" "+c.Before+">"+c.After)
		}
		want := []string{
			"structure_disable CHU actif>désactivé",
			"member_remove accueil@chu.test jean@chu.test>",
			"member_add accueil@chu.test >luc@chu.test",
			"member_add accueil@chu.test >jean@chu.test",
			"structure_create CHU >finess=",
		}
		if len(got) != len(want) {
			t.Fatalf("journal = %q, want %q", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("journal = %q, want %q", got, want)
			}
		}
		_ = luc
	})
}

package account_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// TestRolesAndAdminChanges: granting and revoking roles, what each role
// administers, the rules of an administrator's changes, and the journal.
func TestRolesAndAdminChanges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		svc := account.NewService(st)
		s1, err := svc.CreateStructure(ctx, "Clinique A", "")
		if err != nil {
			t.Fatal(err)
		}
		s2, err := svc.CreateStructure(ctx, "Clinique B", "")
		if err != nil {
			t.Fatal(err)
		}
		adm, err := svc.Create(ctx, account.NewAccount{Structure: "Clinique A", Kind: account.MED, Login: "adm@a.example", FirstName: "A", LastName: "Dm"})
		if err != nil {
			t.Fatal(err)
		}
		by := account.Actor{ID: adm.ID, Login: adm.Login}
		if err := svc.SetStructureAdmin(ctx, account.CLI, "Clinique A", "adm@a.example", true); err != nil {
			t.Fatal(err)
		}
		if err := svc.SetStructureAdmin(ctx, account.CLI, "Clinique A", "adm@a.example", true); !errors.Is(err, account.ErrDuplicate) {
			t.Fatalf("granted twice: %v", err)
		}
		r, err := svc.RolesOf(ctx, adm.ID)
		if err != nil || !r.IsAdmin() || r.Operator || !r.Administers(s1.ID) || r.Administers(s2.ID) {
			t.Fatalf("roles = %+v, %v", r, err)
		}
		// Create, then change the type: PER needs an MSSanté address.
		a, err := svc.AdminCreate(ctx, by, account.NewAccount{Structure: "Clinique A", Kind: account.MED, Login: "sec@a.example", FirstName: "S", LastName: "Ec"})
		if err != nil {
			t.Fatal(err)
		}
		var ae account.AdminError
		if err := svc.AdminUpdate(ctx, by, a.ID, account.AdminFields{Kind: account.PER}); !errors.As(err, &ae) || ae[0].Code != "mss_required" {
			t.Fatalf("PER without MSS: %v", err)
		}
		if err := svc.AdminUpdate(ctx, by, a.ID, account.AdminFields{Kind: account.ORG, MSS: "x@a.example"}); !errors.As(err, &ae) || ae[0].Code != "box_kind" {
			t.Fatalf("person to box: %v", err)
		}
		if err := svc.AdminUpdate(ctx, by, a.ID, account.AdminFields{Kind: account.PER, MSS: "sec.mss@a.example", RPPS: "10101010101", Responsable: "Dr X"}); err != nil {
			t.Fatal(err)
		}
		f, err := svc.AdminFieldsOf(ctx, a.ID)
		if err != nil || f.Kind != account.PER || f.MSS != "sec.mss@a.example" || f.Responsable != "Dr X" {
			t.Fatalf("fields = %+v, %v", f, err)
		}
		// Back to MED: the MSSanté address and RPPS go.
		if err := svc.AdminUpdate(ctx, by, a.ID, account.AdminFields{Kind: account.MED, MSS: "sec.mss@a.example", RPPS: "10101010101"}); err != nil {
			t.Fatal(err)
		}
		if a, _ = svc.ByID(ctx, a.ID); a.Kind != account.MED || a.MSS != "" || a.RPPS != "" {
			t.Fatalf("after MED: %+v", a)
		}
		if err := svc.AdminSetDisabled(ctx, by, a.ID, true); err != nil {
			t.Fatal(err)
		}
		// The journal: the structure administrator sees its structure's
		// changes; the one of Clinique B sees none of them.
		cs, err := svc.Changes(ctx, r, 100)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]string{}
		for _, c := range cs {
			if c.Target == "sec@a.example" && c.Actor == "adm@a.example" {
				got[c.Action] += c.Before + ">" + c.After + ";"
			}
		}
		if got["type"] != "PER>MED;MED>PER;" || got["create"] == "" || got["disabled"] != "actif>désactivé;" || got["responsable"] != "Dr X>;>Dr X;" {
			t.Fatalf("journal = %v", got)
		}
		if cs, err := svc.Changes(ctx, account.Roles{Structures: []int64{s2.ID}}, 100); err != nil || len(cs) != 0 {
			t.Fatalf("other structure's journal: %v %v", cs, err)
		}
		// Revoke: no role left; a disabled person has none either.
		if err := svc.SetStructureAdmin(ctx, account.CLI, "Clinique A", "adm@a.example", false); err != nil {
			t.Fatal(err)
		}
		if r, _ := svc.RolesOf(ctx, adm.ID); r.IsAdmin() {
			t.Fatalf("still admin: %+v", r)
		}
		if err := svc.SetOperator(ctx, account.CLI, "adm@a.example", true); err != nil {
			t.Fatal(err)
		}
		if r, _ := svc.RolesOf(ctx, adm.ID); !r.Operator || !r.Administers(s2.ID) {
			t.Fatalf("operator roles: %+v", r)
		}
		if err := svc.SetDisabled(ctx, "adm@a.example", true); err != nil {
			t.Fatal(err)
		}
		if r, _ := svc.RolesOf(ctx, adm.ID); r.IsAdmin() {
			t.Fatalf("disabled operator keeps a role: %+v", r)
		}
	})
}

// TestSignupRequests: a request waits for its confirmation, is listed for
// its structure once confirmed, and acceptance creates the MED account.
func TestSignupRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		svc := account.NewService(st)
		s1, err := svc.CreateStructure(ctx, "Cabinet", "")
		if err != nil {
			t.Fatal(err)
		}
		none := func(*store.Tx, account.SignupForm) error { return nil }
		f := account.SignupForm{FirstName: "Léa", LastName: "Moreau", Login: "lea@h.example", Email: "lea@gmail.example", StructureID: s1.ID}
		var ae account.AdminError
		bad := f
		bad.Email = "lea@h.example"
		if err := svc.SubmitSignup(ctx, bad, []string{"h.example"}, "", "t0", none); !errors.As(err, &ae) || ae[0].Field != "email" {
			t.Fatalf("platform address as personal: %v", err)
		}
		if err := svc.SubmitSignup(ctx, f, []string{"h.example"}, "127.0.0.1", "t1", none); err != nil {
			t.Fatal(err)
		}
		if rs, _ := svc.SignupRequests(ctx, s1.ID); len(rs) != 0 {
			t.Fatalf("unconfirmed request listed: %v", rs)
		}
		req, err := svc.ConfirmSignup(ctx, "t1")
		if err != nil || req.Status != account.SignupPending {
			t.Fatalf("confirm: %+v %v", req, err)
		}
		if _, err := svc.ConfirmSignup(ctx, "t1"); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("confirmed twice: %v", err)
		}
		rs, err := svc.SignupRequests(ctx, s1.ID)
		if err != nil || len(rs) != 1 {
			t.Fatalf("requests: %v %v", rs, err)
		}
		a, err := svc.AcceptSignup(ctx, account.CLI, s1.ID, rs[0].ID, func(*store.Tx, *account.Account, *account.SignupRequest) error { return nil })
		if err != nil || a.Kind != account.MED || a.Notify != "lea@gmail.example" || a.HasPassword() {
			t.Fatalf("accepted: %+v %v", a, err)
		}
		if err := svc.RefuseSignup(ctx, account.CLI, s1.ID, rs[0].ID, func(*store.Tx, *account.SignupRequest) error { return nil }); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("refuse after accept: %v", err)
		}
	})
}

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// TestAdminRolesCommands runs `hygie admin operator add|remove|list` and
// `hygie admin structure admin add|remove` on a database.
func TestAdminRolesCommands(t *testing.T) {
	dsn := storetest.SQLite(t)
	t.Setenv("HYGIE_DATABASE", dsn)
	t.Setenv("HYGIE_DATA_DIR", t.TempDir())
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	acc := account.NewService(st)
	if _, err := acc.CreateStructure(ctx, "Clinique", ""); err != nil {
		t.Fatal(err)
	}
	a, err := acc.Create(ctx, account.NewAccount{Structure: "Clinique", Kind: account.MED, Login: "ops@c.example", FirstName: "O", LastName: "P"})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		c := newAdmin()
		c.SetOut(&out)
		c.SetErr(&out)
		c.SetArgs(args)
		err := c.Execute()
		return out.String(), err
	}
	for _, step := range []struct {
		args []string
		want string
		fail bool
	}{
		{[]string{"operator", "add", "ops@c.example"}, "is now a platform operator", false},
		{[]string{"operator", "add", "ops@c.example"}, "already", true},
		{[]string{"operator", "list"}, "ops@c.example", false},
		{[]string{"structure", "admin", "add", "Clinique", "ops@c.example"}, "now administers", false},
		{[]string{"structure", "admin", "add", "Nulle part", "ops@c.example"}, "not found", true},
		{[]string{"structure", "admin", "remove", "Clinique", "ops@c.example"}, "no longer administers", false},
		{[]string{"operator", "remove", "ops@c.example"}, "no longer a platform operator", false},
		{[]string{"operator", "remove", "nobody@c.example"}, "not found", true},
	} {
		out, err := run(step.args...)
		if (err != nil) != step.fail {
			t.Fatalf("%v: err %v, out %q", step.args, err, out)
		}
		got := out
		if err != nil {
			got += err.Error()
		}
		if !strings.Contains(got, step.want) {
			t.Fatalf("%v: %q lacks %q", step.args, got, step.want)
		}
	}
	st, err = store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs, err := account.NewService(st).Changes(ctx, account.Roles{Operator: true}, 10)
	if err != nil || len(cs) != 4 || cs[0].Actor != "cli" || cs[0].Target != a.Login {
		t.Fatalf("journal: %+v %v", cs, err)
	}
}

package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// TestAdminCommandsJournal runs the `hygie admin` commands that change
// accounts, boxes, structures and the queue, and reads the journal of
// administrative changes they wrote (who, what, before, after); removing
// the last member of a box fails with a one-line error and journals
// nothing.
func TestAdminCommandsJournal(t *testing.T) {
	dsn := storetest.SQLite(t)
	t.Setenv("HYGIE_DATABASE", dsn)
	t.Setenv("HYGIE_DATA_DIR", t.TempDir())
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	var jobs [2]int64
	err = st.Tx(ctx, func(tx *store.Tx) error {
		for i := range jobs {
			if jobs[i], err = queue.Enqueue(ctx, tx, "test", map[string]int{"n": i}, time.Now().Add(time.Hour)); err != nil {
				return err
			}
		}
		return nil
	})
	st.Close()
	if err != nil {
		t.Fatal(err)
	}

	run := func(stdin string, args ...string) (string, error) {
		var out bytes.Buffer
		c := newAdmin()
		c.SetOut(&out)
		c.SetErr(&out)
		c.SetIn(strings.NewReader(stdin))
		c.SetArgs(args)
		err := c.Execute()
		return out.String(), err
	}
	for _, step := range []struct {
		stdin string
		args  []string
		fail  bool
	}{
		{"", []string{"structure", "create", "--name", "Clinique"}, false},
		{"", []string{"account", "create", "--structure", "Clinique", "--type", "MED", "--address", "jean@c.example", "--first", "Jean", "--last", "Dupont"}, false},
		{"", []string{"account", "create", "--structure", "Clinique", "--type", "MED", "--address", "luc@c.example", "--first", "Luc", "--last", "Petit"}, false},
		{"mot-de-passe-solide-42\n", []string{"account", "password", "jean@c.example"}, false},
		{"", []string{"account", "disable", "luc@c.example"}, false},
		{"", []string{"account", "enable", "luc@c.example"}, false},
		{"", []string{"box", "create", "--structure", "Clinique", "--address", "accueil@c.example", "--mss", "accueil.mss@c.example", "--name", "Accueil"}, false},
		{"", []string{"box", "member", "add", "accueil@c.example", "jean@c.example"}, false},
		{"", []string{"box", "member", "remove", "accueil@c.example", "jean@c.example"}, true},
		{"", []string{"box", "member", "add", "accueil@c.example", "luc@c.example"}, false},
		{"", []string{"box", "member", "remove", "accueil@c.example", "jean@c.example"}, false},
		{"", []string{"box", "disable", "accueil@c.example"}, false},
		{"", []string{"queue", "retry", fmt.Sprint(jobs[0])}, false},
		{"", []string{"queue", "drop", fmt.Sprint(jobs[1])}, false},
		{"", []string{"queue", "drop", fmt.Sprint(jobs[1])}, true},
		{"", []string{"structure", "disable", "Clinique"}, false},
	} {
		out, err := run(step.stdin, step.args...)
		if (err != nil) != step.fail {
			t.Fatalf("%v: err %v, out %q", step.args, err, out)
		}
		if step.fail && (strings.Contains(err.Error(), "\n") || err.Error() == "") {
			t.Fatalf("%v: error not one line: %q", step.args, err)
		}
		if step.fail && step.args[0] == "box" && !strings.Contains(err.Error(), "last login account") {
			t.Fatalf("%v: %v", step.args, err)
		}
	}
	st, err = store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs, err := account.NewService(st).Changes(ctx, account.Roles{Operator: true}, 50)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(cs) - 1; i >= 0; i-- {
		c := cs[i]
		if c.Actor != cliActor().Login || !strings.HasPrefix(c.Actor, "cli") {
			t.Errorf("change %+v: actor %q", c, c.Actor)
		}
		got = append(got, c.Action+" "+c.Target+" "+c.Before+">"+c.After)
	}
	want := []string{
		"structure_create Clinique >finess=",
		"create jean@c.example >type=MED adresse=jean@c.example",
		"create luc@c.example >type=MED adresse=luc@c.example",
		"password jean@c.example >modifié",
		"disabled luc@c.example actif>désactivé",
		"disabled luc@c.example désactivé>actif",
		"create accueil@c.example >type=ORG adresse=accueil@c.example mss=accueil.mss@c.example",
		"member_add accueil@c.example >jean@c.example",
		"member_add accueil@c.example >luc@c.example",
		"member_remove accueil@c.example jean@c.example>",
		"disabled accueil@c.example actif>désactivé",
		fmt.Sprintf("queue_retry envoi %d >", jobs[0]),
		fmt.Sprintf("queue_drop envoi %d >", jobs[1]),
		"structure_disable Clinique actif>désactivé",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("journal:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

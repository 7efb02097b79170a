package account_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// TestBoxMembers checks the login accounts of a box as members manage
// them: refusals, never the last member (not even by two concurrent
// removals), the administrator's read-only fields, and the journal.
func TestBoxMembers(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		st, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		svc := account.NewService(st)
		if _, err := svc.CreateStructure(ctx, "CHU", ""); err != nil {
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
		jean := mk(account.NewAccount{Kind: account.PER, Login: "jean@chu.test", MSS: "jean.dupont@chu.test", FirstName: "Jean", LastName: "Dupont"})
		luc := mk(account.NewAccount{Kind: account.PER, Login: "luc@chu.test", FirstName: "Luc", LastName: "Petit"})
		off := mk(account.NewAccount{Kind: account.MED, Login: "off@chu.test", FirstName: "Ex", LastName: "Agent"})
		box := mk(account.NewAccount{Kind: account.ORG, Login: "cardio@chu.test", MSS: "cardio.mss@chu.test", Label: "Cardiologie", FINESS: "310781406"})
		other := mk(account.NewAccount{Kind: account.ORG, Login: "pneumo@chu.test", MSS: "pneumo.mss@chu.test", Label: "Pneumologie"})
		if err := svc.SetDisabled(ctx, off.Login, true); err != nil {
			t.Fatal(err)
		}
		if _, err := st.DB.ExecContext(ctx, st.Rebind(`UPDATE accounts SET responsable = ?, description = ? WHERE id = ?`),
			"Dr Cœur", "Secrétariat", box.ID); err != nil {
			t.Fatal(err)
		}
		if d, err := svc.BoxDetails(ctx, box.ID); err != nil || *d != (account.BoxDetails{FINESS: "310781406", Responsable: "Dr Cœur", Description: "Secrétariat"}) {
			t.Fatalf("details %+v %v", d, err)
		}

		if m, err := svc.AddBoxMember(ctx, box.ID, "Jean.Dupont@chu.test"); err != nil || m.ID != jean.ID {
			t.Fatalf("add by MSSanté address: %v", err)
		}
		for addr, want := range map[string]error{"nobody@chu.test": account.ErrNotFound, "bad": account.ErrInvalid,
			"pneumo@chu.test": account.ErrNotPerson, "off@chu.test": account.ErrDisabled, "jean@chu.test": account.ErrDuplicate} {
			if _, err := svc.AddBoxMember(ctx, box.ID, addr); !errors.Is(err, want) {
				t.Errorf("add %s: %v, want %v", addr, err, want)
			}
		}
		if _, err := svc.AddBoxMember(ctx, jean.ID, "luc@chu.test"); !errors.Is(err, account.ErrNotFound) {
			t.Errorf("add to a person: %v", err)
		}
		if _, err := svc.RemoveBoxMember(ctx, box.ID, jean.ID); !errors.Is(err, account.ErrLastMember) {
			t.Fatalf("remove the last member: %v", err)
		}
		if _, err := svc.RemoveBoxMember(ctx, other.ID, jean.ID); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("remove from a box one is not a member of: %v", err)
		}
		if _, err := svc.AddBoxMember(ctx, box.ID, "luc@chu.test"); err != nil {
			t.Fatal(err)
		}
		// Two removals at once: one wins, the other finds the last member.
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for i, id := range []int64{jean.ID, luc.ID} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = svc.RemoveBoxMember(ctx, box.ID, id)
			}()
		}
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) || (!errors.Is(errs[0], account.ErrLastMember) && !errors.Is(errs[1], account.ErrLastMember)) {
			t.Fatalf("concurrent removals: %v / %v", errs[0], errs[1])
		}
		if ms, _ := svc.Members(ctx, box.ID); len(ms) != 1 {
			t.Fatalf("members after concurrent removals: %d", len(ms))
		}

		// The journal, newest first; long details cut on a character.
		if err := svc.RecordBoxAction(ctx, box.ID, jean, account.JournalRead, "a lu « Résultats »"); err != nil {
			t.Fatal(err)
		}
		if err := svc.RecordBoxAction(ctx, box.ID, luc, account.JournalSend, strings.Repeat("é", 400)+"\nfin"); err != nil {
			t.Fatal(err)
		}
		es, err := svc.BoxJournal(ctx, box.ID, 0)
		if err != nil || len(es) != 2 {
			t.Fatalf("journal %+v %v", es, err)
		}
		if es[0].MemberLogin != "luc@chu.test" || es[0].Action != account.JournalSend || !strings.HasSuffix(es[0].Detail, "…") ||
			len(es[0].Detail) > 310 || strings.ContainsRune(es[0].Detail, '\uFFFD') {
			t.Errorf("newest %+v", es[0])
		}
		if es[1].MemberID != jean.ID || es[1].Detail != "a lu « Résultats »" {
			t.Errorf("oldest %+v", es[1])
		}
		if es, _ := svc.BoxJournal(ctx, other.ID, 0); len(es) != 0 {
			t.Errorf("another box's journal: %+v", es)
		}
	})
}

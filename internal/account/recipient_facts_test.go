package account_test

import (
	"context"
	"testing"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// TestRecipientFacts reads the facts of three accounts (a list padded to
// four): delegation, automatic reply switched on, « à chaque nouveau
// message » unchecked; a missing account is absent.
func TestRecipientFacts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		f := newProfileFixture(t, dsn)
		if _, err := f.svc.AddDelegation(ctx, f.per.ID, f.med.Login); err != nil {
			t.Fatal(err)
		}
		if _, err := f.svc.SaveAutoReply(ctx, f.med.ID, account.AutoReply{Enabled: true, HTML: "<p>Absent</p>"}); err != nil {
			t.Fatal(err)
		}
		if err := f.st.Tx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, `UPDATE accounts SET notify_each = 0 WHERE id = ?`, f.box.ID)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		facts, err := account.RecipientFactsTx(ctx, f.st, []int64{f.per.ID, f.med.ID, f.box.ID, 999999})
		if err != nil {
			t.Fatal(err)
		}
		want := map[int64]account.RecipientFacts{
			f.per.ID: {NotifyEach: true, HasDelegates: true},
			f.med.ID: {NotifyEach: true, AutoReply: true},
			f.box.ID: {},
		}
		if len(facts) != len(want) {
			t.Fatalf("facts %+v, want %+v", facts, want)
		}
		for id, w := range want {
			if facts[id] != w {
				t.Errorf("account %d: %+v, want %+v", id, facts[id], w)
			}
		}
	})
}

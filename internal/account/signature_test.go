package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// signatureAccounts opens a store with two persons.
func signatureAccounts(t *testing.T, dsn string) (*account.Service, *account.Account, *account.Account) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := account.NewService(st)
	if _, err := svc.CreateStructure(ctx, "Clinique Signature", ""); err != nil {
		t.Fatal(err)
	}
	jean, err := svc.Create(ctx, account.NewAccount{Structure: "Clinique Signature", Kind: account.PER, Login: "jean@sig.example",
		MSS: "jean.dupont@medecin.sig.example", FirstName: "Jean", LastName: "Dupont"})
	if err != nil {
		t.Fatal(err)
	}
	marie, err := svc.Create(ctx, account.NewAccount{Structure: "Clinique Signature", Kind: account.MED, Login: "marie@sig.example",
		FirstName: "Marie", LastName: "Martin"})
	if err != nil {
		t.Fatal(err)
	}
	return svc, jean, marie
}

func TestSignatures(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		svc, jean, marie := signatureAccounts(t, dsn)

		a, err := svc.SaveSignature(ctx, jean.ID, account.Signature{Label: " Cabinet ", HTML: `<b>Dr Dupont</b><script>alert(1)</script><img src=x onerror=alert(1)>`, Default: true})
		if err != nil {
			t.Fatal(err)
		}
		if a.Label != "Cabinet" || a.HTML != "<b>Dr Dupont</b>" || !a.Default {
			t.Fatalf("saved %+v", a)
		}
		b, err := svc.SaveSignature(ctx, jean.ID, account.Signature{Label: "Hôpital", HTML: `<i>Service</i>`, Default: true})
		if err != nil {
			t.Fatal(err)
		}
		// At most one default: the new default un-defaults the first.
		sigs, err := svc.Signatures(ctx, jean.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(sigs) != 2 || sigs[0].Default || !sigs[1].Default {
			t.Fatalf("signatures = %+v", sigs)
		}
		if d, err := svc.DefaultSignature(ctx, jean.ID); err != nil || d == nil || d.ID != b.ID {
			t.Fatalf("default = %+v, %v", d, err)
		}
		// Updating the first as default moves the mark back.
		if _, err := svc.SaveSignature(ctx, jean.ID, account.Signature{ID: a.ID, Label: "Cabinet", HTML: "x", Default: true}); err != nil {
			t.Fatal(err)
		}
		if d, _ := svc.DefaultSignature(ctx, jean.ID); d == nil || d.ID != a.ID {
			t.Fatalf("default after update = %+v", d)
		}
		// Another account cannot read, update or delete them.
		if _, err := svc.SignatureByID(ctx, marie.ID, a.ID); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("other account read: %v", err)
		}
		if _, err := svc.SaveSignature(ctx, marie.ID, account.Signature{ID: a.ID, Label: "volée", HTML: "x"}); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("other account update: %v", err)
		}
		if err := svc.DeleteSignature(ctx, marie.ID, a.ID); !errors.Is(err, account.ErrNotFound) {
			t.Fatalf("other account delete: %v", err)
		}
		if d, _ := svc.DefaultSignature(ctx, marie.ID); d != nil {
			t.Fatalf("marie has a default signature: %+v", d)
		}
		// Validation.
		if _, err := svc.SaveSignature(ctx, jean.ID, account.Signature{Label: "  "}); !errors.Is(err, account.ErrSignatureLabelRequired) {
			t.Fatalf("empty label: %v", err)
		}
		if _, err := svc.SaveSignature(ctx, jean.ID, account.Signature{Label: strings.Repeat("x", 101)}); !errors.Is(err, account.ErrSignatureLabelTooLong) {
			t.Fatalf("long label: %v", err)
		}
		if _, err := svc.SaveSignature(ctx, jean.ID, account.Signature{Label: "Long", HTML: strings.Repeat("<p>texte</p>", 50000)}); !errors.Is(err, account.ErrSignatureTooLarge) {
			t.Fatalf("large signature: %v", err)
		}
		// Delete.
		if err := svc.DeleteSignature(ctx, jean.ID, a.ID); err != nil {
			t.Fatal(err)
		}
		if sigs, _ := svc.Signatures(ctx, jean.ID); len(sigs) != 1 || sigs[0].ID != b.ID {
			t.Fatalf("after delete: %+v", sigs)
		}
	})
}

func TestAutoReplySettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		svc, jean, _ := signatureAccounts(t, dsn)
		ar, err := svc.AutoReplyOf(ctx, jean.ID)
		if err != nil || ar.Enabled || ar.Period != 0 {
			t.Fatalf("initial = %+v, %v", ar, err)
		}
		saved, err := svc.SaveAutoReply(ctx, jean.ID, account.AutoReply{Enabled: true, Start: "2030-07-01", End: "2030-07-31",
			Subject: "Absent", HTML: `<p>En congés <a href="javascript:alert(1)">ici</a></p>`})
		if err != nil {
			t.Fatal(err)
		}
		if saved.Period != 1 || saved.HTML != "<p>En congés ici</p>" {
			t.Fatalf("saved = %+v", saved)
		}
		again, err := svc.SaveAutoReply(ctx, jean.ID, saved)
		if err != nil || again.Period != 2 {
			t.Fatalf("second save = %+v, %v", again, err)
		}
		got, err := svc.AutoReplyOf(ctx, jean.ID)
		if err != nil || got != again {
			t.Fatalf("read back %+v, %v; want %+v", got, err, again)
		}
		for _, c := range []struct {
			ar   account.AutoReply
			want error
		}{
			{account.AutoReply{Start: "2030-07-31", End: "2030-07-01"}, account.ErrAutoReplyDateOrder},
			{account.AutoReply{Start: "31/07/2030"}, account.ErrAutoReplyStartDate},
			{account.AutoReply{End: "2030-02-30"}, account.ErrAutoReplyEndDate},
			{account.AutoReply{Subject: "a\nBcc: x@y"}, account.ErrAutoReplySubject},
		} {
			if _, err := svc.SaveAutoReply(ctx, jean.ID, c.ar); !errors.Is(err, c.want) {
				t.Errorf("%+v: got %v, want %v", c.ar, err, c.want)
			}
		}
		// Dates are days in Paris, inclusive.
		ar = account.AutoReply{Enabled: true, Start: "2030-07-01", End: "2030-07-31"}
		for _, c := range []struct {
			at   string
			want bool
		}{
			{"2030-06-30T21:59:00Z", false}, // 23:59 in Paris
			{"2030-06-30T22:00:00Z", true},  // midnight in Paris
			{"2030-07-31T21:59:00Z", true},
			{"2030-07-31T22:00:00Z", false},
		} {
			at, _ := time.Parse(time.RFC3339, c.at)
			if got := ar.ActiveAt(at); got != c.want {
				t.Errorf("ActiveAt(%s) = %v", c.at, got)
			}
		}
		ar.Enabled = false
		if ar.ActiveAt(time.Date(2030, 7, 10, 12, 0, 0, 0, time.UTC)) {
			t.Error("disabled reply active")
		}
	})
}

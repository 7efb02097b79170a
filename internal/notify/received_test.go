package notify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// TestArrivalNotification checks A.1: one mail per received message to the
// notification address, with the webmail link and nothing of the message;
// for a box, to the box's address and to the members who kept the toggle.
func TestArrivalNotification(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, fixedClock(at("2026-03-10 10:00:00")))
		ctx := context.Background()
		alice := w.person(t, account.PER, "alice@a.test", "alice.martin@a.test", "Alice", "Martin", "alice.perso@gmail.example")
		bob := w.person(t, account.PER, "bob@a.test", "", "Bob", "Durand", "bob.perso@gmail.example")
		carol := w.person(t, account.MED, "carol@a.test", "", "Carol", "Petit", "carol.perso@outlook.example")
		w.person(t, account.PER, "dan@a.test", "", "Dan", "Roux", "")
		w.set(t, carol, "notify_each", 0)
		box := w.box(t, "cardio@a.test", "cardio.mss@a.test", "Cardiologie", "secretariat@clinique.example")
		m1 := w.person(t, account.PER, "m1@a.test", "", "Marc", "Un", "m1.perso@gmail.example")
		m2 := w.person(t, account.PER, "m2@a.test", "", "Marie", "Deux", "m2.perso@gmail.example")
		for _, m := range []string{"m1@a.test", "m2@a.test"} {
			if err := w.acc.AddMember(ctx, "cardio@a.test", m); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := w.st.DB.ExecContext(ctx, w.st.Rebind(`UPDATE box_members SET notify = 0 WHERE account_id = ?`), m2.ID); err != nil {
			t.Fatal(err)
		}

		const secret = "Compte rendu opératoire confidentiel"
		d := w.send(t, alice, []string{"bob@a.test", "carol@a.test", "dan@a.test", "cardio.mss@a.test", "alice@a.test"},
			rawMessage("alice@a.test", "bob@a.test", "Résultats IRM de M. Secret", "", secret))

		all := outmails(t, w.st, KindMessage)
		got := map[string]string{}
		for _, m := range all {
			if _, dup := got[m.To]; dup {
				t.Errorf("two notifications to %s", m.To)
			}
			got[m.To] = m.Subject + "\n" + m.Text
		}
		want := map[string]int64{"bob.perso@gmail.example": bob.ID, "secretariat@clinique.example": box.ID, "m1.perso@gmail.example": box.ID}
		if len(got) != len(want) {
			t.Fatalf("notifications to %v, want %v", keys(got), want)
		}
		for addr, id := range want {
			text, ok := got[addr]
			if !ok {
				t.Fatalf("no notification to %s (got %v)", addr, keys(got))
			}
			link := fmt.Sprintf("%s/a/%d/mail/", publicURL, id)
			if !strings.Contains(text, link) {
				t.Errorf("notification to %s lacks the link %s:\n%s", addr, link, text)
			}
			for _, leak := range []string{"IRM", "Secret", secret, "alice", "Alice", "Martin", d.MessageID} {
				if strings.Contains(text, leak) {
					t.Errorf("notification to %s reveals %q:\n%s", addr, leak, text)
				}
			}
			if !strings.Contains(text, "Hygie Santé") {
				t.Errorf("notification to %s does not name the platform:\n%s", addr, text)
			}
		}
		if !strings.Contains(got["bob.perso@gmail.example"], "bob@a.test") {
			t.Errorf("Bob's notification does not say which account received it:\n%s", got["bob.perso@gmail.example"])
		}
		if !strings.Contains(got["m1.perso@gmail.example"], "Cardiologie") {
			t.Errorf("member notification does not name the box:\n%s", got["m1.perso@gmail.example"])
		}
		// Alice wrote to herself: no notification; Carol unchecked it; Dan
		// has no address; Marie unticked the box toggle.
		for _, addr := range []string{"alice.perso@gmail.example", "carol.perso@outlook.example", "m2.perso@gmail.example"} {
			if _, ok := got[addr]; ok {
				t.Errorf("unexpected notification to %s", addr)
			}
		}
		_ = m1

		// The box's own toggle governs the box's address only.
		w.set(t, box, "notify_each", 0)
		w.send(t, bob, []string{"cardio@a.test"}, rawMessage("bob@a.test", "cardio@a.test", "Deuxième", "", "x"))
		all = outmails(t, w.st, KindMessage)
		if n := len(to(all, "secretariat@clinique.example")); n != 1 {
			t.Errorf("%d notifications to the box address after unchecking, want still 1", n)
		}
		if n := len(to(all, "m1.perso@gmail.example")); n != 2 {
			t.Errorf("%d notifications to the member, want 2", n)
		}
	})
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestSettings checks the stored choices, their defaults and the checks of
// the notification address.
func TestSettings(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		w := newWorld(t, dsn, fixedClock(at("2026-03-10 10:00:00")))
		ctx := context.Background()
		bob := w.person(t, account.PER, "bob@a.test", "bob.durand@a.test", "Bob", "Durand", "")
		s, err := LoadSettings(ctx, w.st, bob.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !s.Each || s.Daily || s.Open || s.Notify != "" {
			t.Fatalf("defaults %+v, want Each only", s)
		}
		for addr, want := range map[string]error{"": ErrNoAddress, "pas une adresse": ErrBadAddress,
			"bob.durand@a.test": ErrPlatformAddress, "BOB@a.test": ErrPlatformAddress} {
			err := SaveSettings(ctx, w.st, w.acc, bob.ID, Settings{Each: false, Notify: addr}, true)
			if !errors.Is(err, want) {
				t.Errorf("address %q: %v, want %v", addr, err, want)
			}
		}
		if err := SaveSettings(ctx, w.st, w.acc, bob.ID, Settings{Daily: true, Open: true, Notify: " Bob.Perso@Gmail.Example "}, true); err != nil {
			t.Fatal(err)
		}
		s, _ = LoadSettings(ctx, w.st, bob.ID)
		if s != (Settings{Daily: true, Open: true, Notify: "bob.perso@gmail.example"}) {
			t.Fatalf("stored %+v", s)
		}
		// Without setAddress the address stays.
		if err := SaveSettings(ctx, w.st, w.acc, bob.ID, Settings{Each: true, Notify: "ignored@x.example"}, false); err != nil {
			t.Fatal(err)
		}
		s, _ = LoadSettings(ctx, w.st, bob.ID)
		if s != (Settings{Each: true, Notify: "bob.perso@gmail.example"}) {
			t.Fatalf("stored %+v", s)
		}
	})
}

package directory_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/directory"
)

// feedState replays the change log from since into state (id → entry) and
// returns the new cursor and the changes read.
func feedState(t *testing.T, f *dirFixture, since int64, state map[string]*directory.FeedEntry) (int64, []directory.Change) {
	t.Helper()
	changes, more, err := directory.Changes(context.Background(), f.st, since, 0)
	if err != nil {
		t.Fatal(err)
	}
	if more {
		t.Fatal("unexpected second page")
	}
	for _, c := range changes {
		id := strconv.FormatInt(c.AccountID, 10)
		if c.Kind == directory.ChangeRemoved {
			if c.Entry != nil {
				t.Fatalf("removal carries an entry: %+v", c)
			}
			delete(state, id)
		} else {
			state[id] = c.Entry
		}
		since = c.Seq
	}
	return since, changes
}

func TestFeedChangeLog(t *testing.T) {
	storetestEach(t, func(t *testing.T, f *dirFixture) {
		ctx := context.Background()
		state := map[string]*directory.FeedEntry{}
		cur, _ := feedState(t, f, 0, state)
		// Published: the MSSanté addresses of PER, INT and ORG; not the MED
		// (no MSSanté address), not the disabled structure's account.
		var addrs []string
		for _, e := range state {
			addrs = append(addrs, e.Type+":"+e.Address)
		}
		want := map[string]bool{"PER:jean.dupont@medecin.hygie.test": true, "PER:albert.dupontel@medecin.hygie.test": true,
			"PER:eloise.lefevre@medecin.hygie.test": true, "ORG:urgences@hopital.hygie.test": true}
		if len(addrs) != len(want) {
			t.Fatalf("published = %v", addrs)
		}
		for _, a := range addrs {
			if !want[a] {
				t.Fatalf("published = %v", addrs)
			}
		}
		d := state[strconv.FormatInt(f.acc["dupont"].ID, 10)]
		if d.RPPS != "10000000001" || d.AccountType != "PER" || !d.Dematerialisation || d.ListeRouge || d.Specialite != "Cardiologie" {
			t.Fatalf("dupont entry = %+v", d)
		}
		box := state[strconv.FormatInt(f.acc["box"].ID, 10)]
		if box.FINESS != "750000002" || box.Name != "Service des Urgences" {
			t.Fatalf("box entry = %+v", box)
		}
		if e := state[strconv.FormatInt(f.acc["eloise"].ID, 10)]; e.AccountType != "INT" || e.Type != "PER" || e.RPPS != "" {
			t.Fatalf("INT entry = %+v", e)
		}
		// Nothing changed: nothing new.
		if _, ch := feedState(t, f, cur, state); len(ch) != 0 {
			t.Fatalf("idle feed: %+v", ch)
		}
		did := f.acc["dupont"].ID
		// Profile edit of a published field: changed.
		if err := f.svc.UpdateActivity(ctx, did, account.Activity{Profession: "Médecin", Specialite: "Rythmologie"}); err != nil {
			t.Fatal(err)
		}
		// A field the feed does not publish (phone): no change.
		if err := f.svc.UpdatePersonalData(ctx, f.acc["dupontel"].ID, account.PersonalData{FirstName: "Albert", LastName: "Dupontel", Phone: "0600000000"}); err != nil {
			t.Fatal(err)
		}
		var ch []directory.Change
		cur, ch = feedState(t, f, cur, state)
		if len(ch) != 1 || ch[0].Kind != directory.ChangeChanged || ch[0].Entry.Specialite != "Rythmologie" {
			t.Fatalf("after activity edit: %+v", ch)
		}
		// Dematerialisation: changed.
		if err := f.svc.SetDematerialisation(ctx, did, false); err != nil {
			t.Fatal(err)
		}
		cur, ch = feedState(t, f, cur, state)
		if len(ch) != 1 || ch[0].Kind != directory.ChangeChanged || ch[0].Entry.Dematerialisation {
			t.Fatalf("after demat: %+v", ch)
		}
		// Liste rouge: removed, flagged, and the address is gone from the
		// whole log (a reader from 0 never sees it).
		if err := f.svc.SetVisibility(ctx, did, true, false); err != nil {
			t.Fatal(err)
		}
		cur, ch = feedState(t, f, cur, state)
		if len(ch) != 1 || ch[0].Kind != directory.ChangeRemoved || !ch[0].ListeRouge || ch[0].Type != "PER" {
			t.Fatalf("after liste rouge: %+v", ch)
		}
		all, _, err := directory.Changes(ctx, f.st, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range all {
			if c.Entry != nil && strings.Contains(c.Entry.Address, "jean.dupont") {
				t.Fatalf("hidden address still in the log: %+v", c)
			}
		}
		// Hiding the platform address only does not touch the feed.
		if err := f.svc.SetVisibility(ctx, f.acc["dupontel"].ID, false, true); err != nil {
			t.Fatal(err)
		}
		if cur2, ch := feedState(t, f, cur, state); len(ch) != 0 {
			t.Fatalf("hiding the login address changed the feed: %+v", ch)
		} else {
			cur = cur2
		}
		// Visible again: added.
		if err := f.svc.SetVisibility(ctx, did, true, true); err != nil {
			t.Fatal(err)
		}
		cur, ch = feedState(t, f, cur, state)
		if len(ch) != 1 || ch[0].Kind != directory.ChangeAdded || ch[0].Entry.Address != "jean.dupont@medecin.hygie.test" {
			t.Fatalf("visible again: %+v", ch)
		}
		// Type change (an administrator turns the INT into a PER with an
		// RPPS): changed.
		eid := f.acc["eloise"].ID
		if _, err := f.st.DB.ExecContext(ctx, f.st.Rebind(`UPDATE accounts SET kind = 'PER', rpps = '10000000003' WHERE id = ?`), eid); err != nil {
			t.Fatal(err)
		}
		cur, ch = feedState(t, f, cur, state)
		if len(ch) != 1 || ch[0].Kind != directory.ChangeChanged || ch[0].Entry.AccountType != "PER" || ch[0].Entry.RPPS != "10000000003" {
			t.Fatalf("type change: %+v", ch)
		}
		// Type change to MED (no MSSanté exchange): removed, not liste rouge.
		if _, err := f.st.DB.ExecContext(ctx, f.st.Rebind(`UPDATE accounts SET kind = 'MED' WHERE id = ?`), eid); err != nil {
			t.Fatal(err)
		}
		cur, ch = feedState(t, f, cur, state)
		if len(ch) != 1 || ch[0].Kind != directory.ChangeRemoved || ch[0].ListeRouge {
			t.Fatalf("type change to MED: %+v", ch)
		}
		// Disabling: removed.
		if err := f.svc.SetDisabled(ctx, "urgences@lilas.test", true); err != nil {
			t.Fatal(err)
		}
		cur, ch = feedState(t, f, cur, state)
		if len(ch) != 1 || ch[0].Kind != directory.ChangeRemoved || ch[0].Type != "ORG" || ch[0].ListeRouge {
			t.Fatalf("disabling: %+v", ch)
		}
		// A new PER account: added.
		if _, err := f.svc.Create(ctx, account.NewAccount{Structure: "Clinique des Lilas", Kind: account.PER, Login: "new@lilas.test",
			MSS: "nouveau@medecin.hygie.test", FirstName: "Nina", LastName: "Nouvelle", RPPS: "10000000009"}); err != nil {
			t.Fatal(err)
		}
		_, ch = feedState(t, f, cur, state)
		if len(ch) != 1 || ch[0].Kind != directory.ChangeAdded || ch[0].Entry.RPPS != "10000000009" {
			t.Fatalf("new account: %+v", ch)
		}
		// The replayed state equals a fresh read from 0.
		fresh := map[string]*directory.FeedEntry{}
		feedState(t, f, 0, fresh)
		if len(fresh) != len(state) {
			t.Fatalf("replayed %d entries, fresh read %d", len(state), len(fresh))
		}
		for id, e := range fresh {
			if s := state[id]; s == nil || *s != *e {
				t.Fatalf("entry %s: replayed %+v, fresh %+v", id, s, e)
			}
		}
		// The vocabulary counts match the index after all these changes.
		var bad int
		if err := f.st.QueryRow(ctx, `SELECT COUNT(*) FROM (SELECT v.term FROM directory_vocab v
			LEFT JOIN (SELECT term, COUNT(*) AS n FROM directory_terms GROUP BY term) t ON t.term = v.term
			WHERE v.df <> COALESCE(t.n, 0)) x`).Scan(&bad); err != nil || bad != 0 {
			t.Fatalf("vocabulary out of step: %d words, %v", bad, err)
		}
		// FHIR rendering.
		b := directory.FHIRBundle(all, 0)
		if b["resourceType"] != "Bundle" {
			t.Fatalf("bundle = %v", b)
		}
	})
}

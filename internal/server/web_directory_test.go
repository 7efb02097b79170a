package server_test

import (
	"context"
	"crypto/x509/pkix"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/hygie-sante/hygie/internal/account"
	bt "github.com/hygie-sante/hygie/internal/browsertest"
	"github.com/hygie-sante/hygie/internal/server"
	"github.com/hygie-sante/hygie/internal/store/storetest"
	"github.com/hygie-sante/hygie/internal/trust"
)

const dirFeedToken = "feed-secret-token-0123456789"

type dirPeople struct {
	jean, marie, marc, paul, sophie, box *account.Account
}

// dirTestNode starts a node with the feed on, and: Jean Dupont (PER),
// Marie Curie (PER, cardiologist in Lyon), Marc Masque (PER, both
// addresses hidden), Paul Partiel (PER, MSSanté address hidden: liste
// rouge), Sophie Secrétaire (MED) and the box « Service de cardiologie ».
func dirTestNode(t *testing.T, dsn string) (*testNode, string, dirPeople) {
	t.Helper()
	ca, err := trust.NewTestCA("Test IGC")
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, nodeSpec{Hostname: "mx.web.test", Domains: []string{"web.test"}, Issuer: ca,
		DN: pkix.Name{CommonName: "mx.web.test"}, Database: dsn,
		BeforeStart: func(n *server.Node) { n.Cfg.FeedToken = dirFeedToken }})
	ctx := context.Background()
	var p dirPeople
	p.jean = n.addPerson(t, account.PER, "jean@web.test", "jean.dupont@web.test", "Jean", "Dupont")
	p.marie = n.addPerson(t, account.PER, "marie@web.test", "marie.curie@web.test", "Marie", "Curie")
	p.marc = n.addPerson(t, account.PER, "marc@web.test", "marc.masque@web.test", "Marc", "Masque")
	p.paul = n.addPerson(t, account.PER, "paul@web.test", "paul.partiel@web.test", "Paul", "Partiel")
	p.sophie = n.addPerson(t, account.MED, "sophie@web.test", "", "Sophie", "Secrétaire")
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(n.Accounts.UpdateActivity(ctx, p.marie.ID, account.Activity{Profession: "Médecin", Specialite: "Cardiologie", RaisonSociale: "Cabinet Curie"}))
	must(n.Accounts.UpdatePersonalData(ctx, p.marie.ID, account.PersonalData{FirstName: "Marie", LastName: "Curie",
		Phone: "04 72 00 00 00", PostalAddress: "1 rue Pasteur\n69003 Lyon"}))
	must(n.Accounts.UpdateActivity(ctx, p.marc.ID, account.Activity{Profession: "Médecin"}))
	must(n.Accounts.SetVisibility(ctx, p.marc.ID, false, false))
	must(n.Accounts.UpdateActivity(ctx, p.paul.ID, account.Activity{Profession: "Médecin"}))
	must(n.Accounts.SetVisibility(ctx, p.paul.ID, true, false))
	box, err := n.Accounts.Create(ctx, account.NewAccount{Structure: "Structure mx.web.test", Kind: account.ORG,
		Login: "cardio@web.test", MSS: "cardiologie@web.test", Label: "Service de cardiologie", FINESS: "690000001"})
	must(err)
	p.box = box
	return n, "http://" + n.Addrs["web"], p
}

// TestWebDirectoryBrowser: Jean opens « Annuaire », searches without case
// or accents, gets the box (label) before the cardiologist, opens Marie's
// contact card; hidden people and hidden addresses never show, in the
// page, the card or the recipient autocomplete.
func TestWebDirectoryBrowser(t *testing.T) {
	_, base, p := dirTestNode(t, storetest.SQLite(t))
	jean := bt.New(t)
	login(t, jean, base, "jean@web.test", testPassword)
	bt.Do(t, jean, "open the directory", bt.WaitVisible("#directory-link"), bt.Click("#directory-link"), bt.WaitVisible("#directory-q"))
	bt.Do(t, jean, "search CARDIO", bt.Fill("#directory-q", "CARDIO"), bt.Click("#directory-submit"), bt.WaitVisible("#directory-results"))
	names := mailEval[[]string](t, jean, `[...document.querySelectorAll("#directory-results .name")].map(a => a.textContent)`)
	if strings.Join(names, "|") != "Service de cardiologie|Marie Curie" {
		t.Fatalf("results for CARDIO: %q", names)
	}
	// (the next searches load the page of results directly: typing again
	// into the previous page would race with its replacement)
	searchURL := func(q string) string {
		return fmt.Sprintf("%s/a/%d/annuaire?q=%s", base, p.jean.ID, url.QueryEscape(q))
	}
	bt.Do(t, jean, "search médecin", chromedp.Navigate(searchURL("MÉDECIN lyon")), bt.WaitVisible("#directory-results"))
	names = mailEval[[]string](t, jean, `[...document.querySelectorAll("#directory-results .name")].map(a => a.textContent)`)
	if strings.Join(names, "|") != "Marie Curie" {
		t.Fatalf("results for « MÉDECIN lyon »: %q", names)
	}
	bt.Do(t, jean, "search medecin", chromedp.Navigate(searchURL("medecin")), bt.WaitVisible("#directory-results"))
	all := bt.Text(t, jean, "#directory-results")
	if !strings.Contains(all, "Marie Curie") || !strings.Contains(all, "Paul Partiel") || strings.Contains(all, "Masque") ||
		strings.Contains(all, "paul.partiel@") || !strings.Contains(all, "paul@web.test") {
		t.Fatalf("results for medecin: %q", all)
	}
	bt.Do(t, jean, "open Marie's card", bt.Click(fmt.Sprintf(`li[data-entry="%d"] a.name`, p.marie.ID)), bt.WaitVisible("#contact-card"))
	for sel, want := range map[string]string{"#card-name": "Marie Curie", "#card-last": "Curie", "#card-first": "Marie",
		"#card-phone": "04 72 00 00 00", "#card-profession": "Médecin", "#card-specialite": "Cardiologie",
		"#card-raison": "Cabinet Curie", "#card-kind": "Personnel (PER)",
		"#card-demat": "Accepte la dématérialisation totale des échanges"} {
		if got := bt.Text(t, jean, sel); got != want {
			t.Errorf("%s = %q, want %q", sel, got, want)
		}
	}
	if got := bt.Text(t, jean, "#card-postal"); !strings.Contains(got, "69003 Lyon") {
		t.Errorf("postal = %q", got)
	}
	if got := bt.Text(t, jean, "#card-addresses"); !strings.Contains(got, "marie@web.test") || !strings.Contains(got, "marie.curie@web.test") {
		t.Errorf("addresses = %q", got)
	}
	// Paul's card: the hidden MSSanté address is not there.
	bt.Do(t, jean, "Paul's card", chromedp.Navigate(fmt.Sprintf("%s/a/%d/annuaire/%d", base, p.jean.ID, p.paul.ID)), bt.WaitVisible("#contact-card"))
	if got := bt.Text(t, jean, "#card-addresses"); strings.Contains(got, "paul.partiel") || !strings.Contains(got, "paul@web.test") {
		t.Errorf("Paul's addresses = %q", got)
	}
	// Marc's card does not exist; neither does the autocomplete know him;
	// Paul's hidden address is never suggested, even typed in full.
	status := mailEval[int](t, jean, fmt.Sprintf(`fetch("/a/%d/annuaire/%d").then(r => r.status)`, p.jean.ID, p.marc.ID))
	if status != http.StatusNotFound {
		t.Errorf("Marc's card: %d", status)
	}
	if got := mailEval[[]map[string]string](t, jean, fmt.Sprintf(`fetch("/a/%d/mail/annuaire?q=masque").then(r => r.json())`, p.jean.ID)); len(got) != 0 {
		t.Errorf("autocomplete of a hidden account: %v", got)
	}
	got := mailEval[[]map[string]string](t, jean, fmt.Sprintf(`fetch("/a/%d/mail/annuaire?q=paul.partiel@web.test").then(r => r.json())`, p.jean.ID))
	for _, e := range got {
		if e["address"] == "paul.partiel@web.test" {
			t.Errorf("autocomplete returned a hidden address: %v", got)
		}
	}
	// The autocomplete finds by profession and accents too: the same search.
	got = mailEval[[]map[string]string](t, jean, fmt.Sprintf(`fetch("/a/%d/mail/annuaire?q=cardiologie").then(r => r.json())`, p.jean.ID))
	if len(got) != 4 || got[0]["address"] != "cardio@web.test" || got[2]["address"] != "marie@web.test" {
		t.Errorf("autocomplete cardiologie: %v", got)
	}
}

// feedGet calls the feed with token tok.
func feedGet(t *testing.T, base, query, tok string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/api/annuaire/v1/changes"+query, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

type feedPageJSON struct {
	Next    int64 `json:"next"`
	Changes []struct {
		Seq        int64  `json:"seq"`
		Kind       string `json:"kind"`
		ID         string `json:"id"`
		Type       string `json:"type"`
		ListeRouge bool   `json:"listeRouge"`
		Entry      *struct {
			Type, Address, RPPS, FINESS   string
			ListeRouge, Dematerialisation bool
		} `json:"entry"`
	} `json:"changes"`
}

// TestDirectoryFeedHTTP reads the national publication feed over HTTP on
// SQLite and PostgreSQL: authentication, what is published (liste rouge
// and hidden addresses never), the change log after liste rouge, type
// change and disabling, and the FHIR rendering.
func TestDirectoryFeedHTTP(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		n, base, p := dirTestNode(t, dsn)
		ctx := context.Background()
		if st, _ := feedGet(t, base, "?since=0", ""); st != http.StatusUnauthorized {
			t.Fatalf("no token: %d", st)
		}
		if st, _ := feedGet(t, base, "?since=0", "wrong"); st != http.StatusUnauthorized {
			t.Fatalf("wrong token: %d", st)
		}
		st, body := feedGet(t, base, "?since=0", dirFeedToken)
		if st != 200 {
			t.Fatalf("feed: %d %s", st, body)
		}
		for _, hidden := range []string{"marc", "paul.partiel", "sophie"} {
			if strings.Contains(string(body), hidden) {
				t.Fatalf("feed publishes %s: %s", hidden, body)
			}
		}
		var page feedPageJSON
		if err := json.Unmarshal(body, &page); err != nil {
			t.Fatal(err)
		}
		pub := map[string]string{}
		for _, c := range page.Changes {
			if c.Kind == "added" {
				pub[c.Entry.Address] = c.Entry.Type + " " + c.Entry.FINESS
			}
		}
		if len(pub) != 3 || pub["cardiologie@web.test"] != "ORG 690000001" || pub["marie.curie@web.test"] != "PER " || pub["jean.dupont@web.test"] == "" {
			t.Fatalf("published: %v", pub)
		}
		// FHIR.
		st, body = feedGet(t, base, "?since=0&format=fhir", dirFeedToken)
		if st != 200 || !strings.Contains(string(body), `"resourceType":"Practitioner"`) || !strings.Contains(string(body), `"resourceType":"Organization"`) ||
			!strings.Contains(string(body), `"code":"MSSANTE"`) || !strings.Contains(string(body), `"system":"email","value":"marie.curie@web.test"`) {
			t.Fatalf("fhir: %d %s", st, body)
		}
		cur := page.Next
		next := func() feedPageJSON {
			t.Helper()
			st, body := feedGet(t, base, fmt.Sprintf("?since=%d", cur), dirFeedToken)
			if st != 200 {
				t.Fatalf("feed: %d %s", st, body)
			}
			var pg feedPageJSON
			if err := json.Unmarshal(body, &pg); err != nil {
				t.Fatal(err)
			}
			cur = pg.Next
			return pg
		}
		// Marie goes on the liste rouge, then Jean's account is disabled,
		// then the box's type is changed by an administrator (to a PER).
		if err := n.Accounts.SetVisibility(ctx, p.marie.ID, true, false); err != nil {
			t.Fatal(err)
		}
		pg := next()
		if len(pg.Changes) != 1 || pg.Changes[0].Kind != "removed" || !pg.Changes[0].ListeRouge || pg.Changes[0].ID != fmt.Sprint(p.marie.ID) {
			t.Fatalf("liste rouge: %+v", pg)
		}
		if err := n.Accounts.SetDisabled(ctx, "jean@web.test", true); err != nil {
			t.Fatal(err)
		}
		pg = next()
		if len(pg.Changes) != 1 || pg.Changes[0].Kind != "removed" || pg.Changes[0].ListeRouge || pg.Changes[0].ID != fmt.Sprint(p.jean.ID) {
			t.Fatalf("disabled: %+v", pg)
		}
		if _, err := n.St.DB.ExecContext(ctx, n.St.Rebind(`UPDATE accounts SET kind = 'PER', first_name = 'Serv', last_name = 'Cardio' WHERE id = ?`), p.box.ID); err != nil {
			t.Fatal(err)
		}
		pg = next()
		if len(pg.Changes) != 1 || pg.Changes[0].Kind != "changed" || pg.Changes[0].Entry.Type != "PER" {
			t.Fatalf("type change: %+v", pg)
		}
		// Nothing new: empty page, same cursor.
		before := cur
		if pg = next(); len(pg.Changes) != 0 || cur != before {
			t.Fatalf("idle: %+v", pg)
		}
	})
}

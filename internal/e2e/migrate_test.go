package e2e

import (
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/hygie-sante/hygie/internal/store/storetest"
)

// TestMigrateToPostgres fills a SQLite installation through the running
// service (accounts, delivered messages, a queued remote delivery, login
// audit, a web session), copies it with 'hygie admin migrate --to', starts
// the service on the PostgreSQL copy and checks that people find the same
// data over IMAP, submission and the web, that the web session still holds,
// that new deliveries work and that ids continue after the copied ones.
func TestMigrateToPostgres(t *testing.T) {
	pg := storetest.Postgres(t)
	// remote.test is a trusted operator whose MX never answers: mail to it
	// stays queued.
	n := newNode(t, "", "HYGIE_TRUST_DOMAINS=remote.test", "HYGIE_ROUTES=remote.test=127.0.0.1:9")
	n.start()
	n.setupAccounts()

	c, err := dialSubmission(n.addr["submission"], alice, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := 0; i < 5; i++ {
		id := newMessageID(fmt.Sprintf("migrate-%d", i))
		ids = append(ids, id)
		if err := send(c, alice, bob, testMessage(alice, bob, id, fmt.Sprintf("Avant migration %d", i))); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	remote := newMessageID("migrate-remote")
	if err := send(c, alice, "carol@remote.test", testMessage(alice, "carol@remote.test", remote, "Vers un autre opérateur")); err != nil {
		t.Fatalf("send remote: %v", err)
	}
	c.Close()

	// A web session, kept in this cookie jar across the migration.
	jar, _ := cookiejar.New(nil)
	web := &http.Client{Jar: jar, Timeout: 10 * time.Second}
	base := "http://" + n.addr["web"]
	resp, err := web.PostForm(base+"/connexion", url.Values{"login": {bob}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	home := webPage(t, web, base+"/")
	if strings.Contains(home.url, "/connexion") {
		t.Fatalf("web login failed: landed on %s", home.url)
	}

	queueBefore := n.mustHygie("", "admin", "queue", "list")
	if !strings.Contains(queueBefore, "remote") {
		t.Fatalf("no remote job queued before the migration:\n%s", queueBefore)
	}
	db := n.openDB()
	var maxMsg, maxAudit int64
	if err := db.QueryRow(`SELECT MAX(id) FROM messages`).Scan(&maxMsg); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow(`SELECT MAX(id) FROM audit`).Scan(&maxAudit); err != nil {
		t.Fatal(err)
	}
	n.stop()

	// A target that is not PostgreSQL-empty is refused: migrate twice.
	out := n.mustHygie("", "admin", "migrate", "--to", pg)
	for _, want := range []string{"accounts", "messages", "entries", "jobs", "audit", "web_sessions", "Counts verified"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate summary lacks %q:\n%s", want, out)
		}
	}
	t.Logf("migrate:\n%s", out)
	if r := n.hygie("", "admin", "migrate", "--to", pg); r.code == 0 || !strings.Contains(r.stderr, "not empty") {
		t.Errorf("second migrate into the same database: exit %d, %s%s; want a refusal", r.code, r.stdout, r.stderr)
	}

	// The service starts on PostgreSQL, same data directory (certificate).
	n.database = pg
	n.start()
	if got := n.mustHygie("", "admin", "queue", "list"); !strings.Contains(got, "remote") {
		t.Errorf("queued job lost in the migration:\n%s", got)
	}
	pgdb := n.openDB()
	inbox := n.folderCounts(pgdb, bob, "INBOX")
	for _, id := range ids {
		if inbox[id] != 1 {
			t.Errorf("message %s is %d times in bob's INBOX after the migration, want 1", id, inbox[id])
		}
	}

	// IMAP: bob logs in and reads the five messages.
	ic, err := imapclient.DialStartTLS(n.addr["imap"], &imapclient.Options{TLSConfig: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if err := ic.Login(bob, testPassword).Wait(); err != nil {
		t.Fatalf("IMAP login after migration: %v", err)
	}
	sel, err := ic.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages != uint32(len(ids)) {
		t.Errorf("IMAP INBOX has %d messages, want %d", sel.NumMessages, len(ids))
	}
	msgs, err := ic.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Envelope: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].Envelope.Subject != "Avant migration 0" {
		t.Errorf("IMAP fetch of message 1: %v %+v", err, msgs)
	}

	// The web session made on SQLite still holds, and the webmail lists the mail.
	home = webPage(t, web, base+"/")
	if strings.Contains(home.url, "/connexion") {
		t.Fatalf("web session lost in the migration: landed on %s", home.url)
	}
	if !strings.Contains(home.body, "Avant migration 4") {
		mail := webPage(t, web, strings.TrimSuffix(home.url, "/")+"/mail/")
		if !strings.Contains(mail.body, "Avant migration 4") {
			t.Errorf("webmail (%s) does not list the migrated message", mail.url)
		}
	}

	// New deliveries work and take ids after the copied ones.
	c, err = dialSubmission(n.addr["submission"], alice, testPassword)
	if err != nil {
		t.Fatalf("submission after migration: %v", err)
	}
	after := newMessageID("migrate-after")
	if err := send(c, alice, bob, testMessage(alice, bob, after, "Après migration")); err != nil {
		t.Fatalf("send after migration: %v", err)
	}
	c.Close()
	if got := n.folderCounts(pgdb, bob, "INBOX")[after]; got != 1 {
		t.Errorf("message sent after the migration is %d times in INBOX, want 1", got)
	}
	var newMsg, newAudit int64
	if err := pgdb.QueryRow(`SELECT id FROM messages WHERE message_id = $1`, after).Scan(&newMsg); err != nil {
		t.Fatal(err)
	}
	if err := pgdb.QueryRow(`SELECT MAX(id) FROM audit`).Scan(&newAudit); err != nil {
		t.Fatal(err)
	}
	if newMsg <= maxMsg || newAudit <= maxAudit {
		t.Errorf("ids did not continue: message %d (was %d), audit %d (was %d)", newMsg, maxMsg, newAudit, maxAudit)
	}
}

// webResult is a fetched page: where the redirects ended, and its body.
type webResult struct{ url, body string }

func webPage(t *testing.T, c *http.Client, u string) webResult {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return webResult{url: resp.Request.URL.String(), body: string(b)}
}

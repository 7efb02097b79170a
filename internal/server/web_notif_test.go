package server_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/account"
	bt "github.com/hygie-sante/hygie/internal/browsertest"
	"github.com/hygie-sante/hygie/internal/notify"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
)

// notifSubmit sends a message over the submission listener with extra
// header fields (such as Disposition-Notification-To).
func notifSubmit(t *testing.T, n *testNode, login, from, to, subject, extra, body string) {
	t.Helper()
	c, err := smtp.DialStartTLS(n.Addrs["submission"], &tls.Config{RootCAs: n.issuer.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Auth(sasl.NewPlainClient("", login, testPassword)); err != nil {
		t.Fatalf("auth %s: %v", login, err)
	}
	msg := fmt.Sprintf("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\n%s\r\n%s\r\n",
		from, to, subject, time.Now().Format(time.RFC1123Z), extra, body)
	if err := c.SendMail(from, []string{to}, strings.NewReader(msg)); err != nil {
		t.Fatal(err)
	}
	if err := c.Quit(); err != nil {
		t.Fatal(err)
	}
}

// notifIMAP logs in over IMAP (STARTTLS) and selects INBOX.
func notifIMAP(t *testing.T, n *testNode, login string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialStartTLS(n.Addrs["imap"], &imapclient.Options{
		TLSConfig: &tls.Config{RootCAs: n.issuer.Pool(), ServerName: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(login, testPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestWebNotifications drives the Notifications section as Jean: the
// defaults, the guide's explanation, « Enregistrer », reload, read back,
// refusals in French; and that another person's section answers 404.
func TestWebNotifications(t *testing.T) {
	n, _, base := webNode(t)
	ctx := context.Background()
	jean, err := n.Accounts.ByAddress(ctx, "jean@web.test")
	if err != nil {
		t.Fatal(err)
	}
	luc := n.addPerson(t, account.PER, "luc@web.test", "", "Luc", "Petit")
	b := bt.New(t)
	login(t, b, base, "jean@web.test", testPassword)
	page := base + fmt.Sprintf("/a/%d/compte/notifications", jean.ID)
	bt.Do(t, b, "open Notifications", bt.WaitVisible("#me"), chromedp.Navigate(page), bt.WaitVisible("#notifications-form"))
	if cur := bt.Text(t, b, "nav.sections a[aria-current]"); cur != "Notifications" {
		t.Fatalf("menu current %q", cur)
	}
	// Defaults: a notification per message, advised to keep.
	if !bt.Checked(t, b, "#notify_each") || bt.Checked(t, b, "#notify_daily") || bt.Checked(t, b, "#notify_open") {
		t.Fatalf("defaults: each %v daily %v open %v", bt.Checked(t, b, "#notify_each"), bt.Checked(t, b, "#notify_daily"), bt.Checked(t, b, "#notify_open"))
	}
	if v := bt.Value(t, b, "#notify"); v != "jean.perso@gmail.example" {
		t.Fatalf("address %q", v)
	}
	for sel, want := range map[string]string{
		"#reception":              "Laisser cette case cochée.",
		"#autres-messageries":     "En effet, Hygie est en incapacité de savoir si le message a été ouvert lorsqu’il a été envoyé à une autre messagerie sécurisée de santé.",
		"label[for=notify_each]":  "recevoir une notification à chaque message reçu",
		"label[for=notify_daily]": "recevoir chaque jour une notification indiquant si des messages ont été reçus",
	} {
		if txt := strings.Join(strings.Fields(bt.Text(t, b, sel)), " "); !strings.Contains(txt, want) {
			t.Errorf("%s: %q lacks %q", sel, txt, want)
		}
	}

	// Change everything, « Enregistrer », reload, read back.
	bt.Do(t, b, "set options", bt.Click("#notify_each"), bt.Click("#notify_daily"), bt.Click("#notify_open"),
		bt.Fill("#notify", "jean.nouveau@gmail.example"), bt.Click("#notifications-form button[type=submit]"), bt.WaitVisible(".flash"))
	if f := bt.Text(t, b, ".flash"); f != "Modifications enregistrées" {
		t.Fatalf("flash %q", f)
	}
	bt.Do(t, b, "reload", chromedp.Navigate(page), bt.WaitVisible("#notifications-form"))
	if bt.Checked(t, b, "#notify_each") || !bt.Checked(t, b, "#notify_daily") || !bt.Checked(t, b, "#notify_open") {
		t.Fatalf("after reload: each %v daily %v open %v", bt.Checked(t, b, "#notify_each"), bt.Checked(t, b, "#notify_daily"), bt.Checked(t, b, "#notify_open"))
	}
	if v := bt.Value(t, b, "#notify"); v != "jean.nouveau@gmail.example" {
		t.Fatalf("address after reload %q", v)
	}

	// Refusals, in French, next to the field; nothing saved.
	for typed, want := range map[string]string{
		"pas-une-adresse": "n’est pas valide",
		"luc@web.test":    "et non une adresse Hygie",
		"":                "Saisissez l’adresse de messagerie",
	} {
		bt.Do(t, b, "bad address "+typed, chromedp.Navigate(page), bt.WaitVisible("#notify"), bt.Click("#notify_each"), bt.Fill("#notify", typed),
			bt.Click("#notifications-form button[type=submit]"), bt.WaitVisible("#notify-error .error"))
		if msg := bt.Text(t, b, "#notify-error .error"); !strings.Contains(msg, want) {
			t.Errorf("address %q: error %q, want %q", typed, msg, want)
		}
		if v := bt.Value(t, b, "#notify"); v != typed {
			t.Errorf("typed address not kept: %q", v)
		}
	}
	st, err := notify.LoadSettings(ctx, n.St, jean.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st != (notify.Settings{Daily: true, Open: true, Notify: "jean.nouveau@gmail.example"}) {
		t.Fatalf("stored %+v", st)
	}

	// Another person's section: 404, for reading and for saving.
	bt.Do(t, b, "Luc's page", chromedp.Navigate(base+fmt.Sprintf("/a/%d/compte/notifications", luc.ID)))
	if txt := bt.Text(t, b, "body"); !strings.Contains(txt, "404") || strings.Contains(txt, "Notifications") {
		t.Fatalf("another person's page shows %q", txt)
	}
	bt.Do(t, b, "back", chromedp.Navigate(page), bt.WaitVisible("#notifications-form"))
	status := bt.Get(t, b, "post to Luc", chromedp.Evaluate[float64](fmt.Sprintf(`(async () => {
		const csrf = document.querySelector("input[name=csrf]").value;
		const r = await fetch("/a/%d/compte/notifications", {method: "POST", headers: {"X-CSRF-Token": csrf,
			"Content-Type": "application/x-www-form-urlencoded"}, body: "notify_open=1&notify=pirate@evil.example"});
		return r.status })()`, luc.ID), chromedp.EvalAwaitPromise))
	if status != 404 {
		t.Fatalf("POST to another person's section: %v", status)
	}
	if st, _ := notify.LoadSettings(ctx, n.St, luc.ID); st.Open || st.Notify != "" {
		t.Fatalf("Luc's settings changed: %+v", st)
	}
}

// TestWebNotificationPath is the path: Jean asks for opening
// notifications in « Gérer mon compte »; Jean writes to Luc over SMTP; Luc's
// notification address gets the arrival notice at the smarthost (link, no
// content); Luc opens the message over IMAP (\Seen); Jean's notification
// address gets the opening notice. A second message asks for an RFC 8098
// receipt: Luc reads it (FETCH BODY[]) and Jean's INBOX gets the MDN.
func TestWebNotificationPath(t *testing.T) {
	n, sh, base := webNode(t)
	ctx := context.Background()
	jean, err := n.Accounts.ByAddress(ctx, "jean@web.test")
	if err != nil {
		t.Fatal(err)
	}
	luc := n.addPerson(t, account.PER, "luc@web.test", "luc.petit@web.test", "Luc", "Petit")
	if _, err := n.St.DB.ExecContext(ctx, `UPDATE accounts SET notify = 'luc.perso@outlook.example' WHERE id = ?`, luc.ID); err != nil {
		t.Fatal(err)
	}

	b := bt.New(t)
	login(t, b, base, "jean@web.test", testPassword)
	page := base + fmt.Sprintf("/a/%d/compte/notifications", jean.ID)
	bt.Do(t, b, "ask for opening notifications", bt.WaitVisible("#me"), chromedp.Navigate(page), bt.WaitVisible("#notifications-form"),
		bt.Click("#notify_open"), bt.Click("#notifications-form button[type=submit]"), bt.WaitVisible(".flash"))

	const subject, body = "Bilan sanguin de Mme Secret", "Hémoglobine glyquée : 7,2 %"
	notifSubmit(t, n, "jean@web.test", "jean@web.test", "luc.petit@web.test", subject, "", body)
	arrival := sh.WaitFor(t, "luc.perso@outlook.example", 1, 10*time.Second)[0].Data
	link := fmt.Sprintf("%s/a/%d/mail/", n.Cfg.PublicURL, luc.ID)
	if !strings.Contains(arrival, link) || !strings.HasPrefix(n.Cfg.PublicURL, base) {
		t.Errorf("arrival notice lacks %s:\n%s", link, arrival)
	}
	for _, leak := range []string{"Bilan", "Secret", "Hémoglobine", "7,2", "jean@web.test", "Jean", "Dupont"} {
		if strings.Contains(arrival, leak) {
			t.Errorf("arrival notice reveals %q:\n%s", leak, arrival)
		}
	}

	c := notifIMAP(t, n, "luc@web.test")
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagSeen}, Silent: true}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	opening := sh.WaitFor(t, "jean.perso@gmail.example", 1, 10*time.Second)[0].Data
	if !strings.Contains(opening, "Luc Petit (luc.petit@web.test) a ouvert votre message du") {
		t.Errorf("opening notice:\n%s", opening)
	}
	for _, leak := range []string{"Bilan", "Secret", "Hémoglobine"} {
		if strings.Contains(opening, leak) {
			t.Errorf("opening notice reveals %q", leak)
		}
	}
	// Seen again, then unseen and seen: no second notice.
	c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: []imap.Flag{imap.FlagSeen}, Silent: true}, nil).Close()
	c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsSet, Flags: []imap.Flag{imap.FlagSeen}, Silent: true}, nil).Close()

	// An RFC 8098 receipt, asked for and read with FETCH BODY[].
	notifSubmit(t, n, "jean@web.test", "jean@web.test", "luc.petit@web.test", "Accusé demandé",
		"Disposition-Notification-To: <jean@web.test>\r\n", "texte")
	sh.WaitFor(t, "luc.perso@outlook.example", 2, 10*time.Second)
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{{}}}).Collect(); err != nil {
		t.Fatal(err)
	}
	openings := func() int {
		k := 0
		for _, m := range sh.To("jean.perso@gmail.example") {
			if strings.Contains(m.Data, "a ouvert votre message") {
				k++
			}
		}
		return k
	}
	eventually(t, 10*time.Second, "a second opening notice", func() bool { return openings() == 2 })
	eventually(t, 10*time.Second, "the receipt in Jean's INBOX", func() bool {
		for _, m := range n.inbox(t, jean.ID) {
			if strings.Contains(m, "report-type=disposition-notification") && strings.Contains(m, "Final-Recipient: rfc822;luc.petit@web.test") &&
				strings.Contains(m, "Disposition: "+notify.Disposition) {
				return true
			}
		}
		return false
	})

	// A third message, opened in the webmail.
	notifSubmit(t, n, "jean@web.test", "jean@web.test", "luc.petit@web.test", "Lu dans le navigateur", "", "texte")
	sh.WaitFor(t, "luc.perso@outlook.example", 3, 10*time.Second)
	lb := bt.New(t)
	login(t, lb, base, "luc@web.test", testPassword)
	bt.Do(t, lb, "open the third message in the webmail", bt.WaitVisible("a[href*='/mail/lire/'][href$='/3']"),
		bt.Click("a[href*='/mail/lire/'][href$='/3']"))
	eventually(t, 10*time.Second, "a third opening notice", func() bool { return openings() == 3 })
	bt.Do(t, lb, "open it again", chromedp.Navigate(bt.Location(t, lb)), bt.WaitVisible("#me"))
	time.Sleep(300 * time.Millisecond)
	if got := openings(); got != 3 {
		t.Errorf("%d opening notices, want 3 (one per message)", got)
	}
}

// notifPendingJobs lists the queued jobs but the daily digest, which always
// waits for its next time.
func notifPendingJobs(st *store.Store) ([]queue.Job, error) {
	all, err := queue.List(context.Background(), st, "")
	var out []queue.Job
	for _, j := range all {
		if j.Kind != notify.JobDigest {
			out = append(out, j)
		}
	}
	return out, err
}

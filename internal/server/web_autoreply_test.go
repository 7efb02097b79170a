package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hygie-sante/hygie/internal/account"
	bt "github.com/hygie-sante/hygie/internal/browsertest"
)

// TestWebAutoReply drives « Réponse automatique » in Chromium: a refused
// date order, then enable, dates, objet and a bold body, « Enregistrer »,
// values read back after a reload; then a message submitted over SMTP to
// the account brings an automatic reply into the sender's INBOX, once.
func TestWebAutoReply(t *testing.T) {
	n, _, base := webNode(t)
	ctx := context.Background()
	jean, err := n.Accounts.ByAddress(ctx, "jean@web.test")
	if err != nil {
		t.Fatal(err)
	}
	marie := n.addPerson(t, account.MED, "marie@web.test", "", "Marie", "Martin")
	page := base + "/a/" + signatureItoa(jean.ID) + "/compte/reponse-automatique"
	today := time.Now().In(account.Paris)
	start, end := today.AddDate(0, 0, -1).Format(time.DateOnly), today.AddDate(0, 0, 7).Format(time.DateOnly)

	b := bt.New(t)
	login(t, b, base, "jean@web.test", testPassword)
	bt.Do(t, b, "open Réponse automatique", bt.WaitVisible("#me"), chromedp.Navigate(page), bt.WaitVisible("#enabled"))
	if bt.Checked(t, b, "#enabled") {
		t.Fatal("enabled by default")
	}

	// The end before the start: a French error next to the end date.
	bt.Do(t, b, "dates in the wrong order",
		bt.Click("#enabled"),
		chromedp.SetValue(chromedp.CSS("#start"), end),
		chromedp.SetValue(chromedp.CSS("#end"), start),
		bt.Fill("#subject", "Absent du cabinet"),
		bt.Click("#autoreply-form button[type=submit]"),
		bt.WaitVisible(".error"),
	)
	if msg := bt.Text(t, b, ".error"); !strings.Contains(msg, "date de fin doit être postérieure") {
		t.Fatalf("error = %q", msg)
	}
	// What was typed is kept.
	if v := bt.Value(t, b, "#subject"); v != "Absent du cabinet" || !bt.Checked(t, b, "#enabled") {
		t.Fatalf("form not kept after the error: subject %q", v)
	}

	bt.Do(t, b, "save",
		chromedp.SetValue(chromedp.CSS("#start"), start),
		chromedp.SetValue(chromedp.CSS("#end"), end),
		chromedp.SendKeys(chromedp.CSS("#autoreply-body"), "Je suis absent jusqu'au "+end),
		signatureSelectAll("#autoreply-body"),
		bt.Click("#autoreply-form button[data-cmd=bold]"),
		bt.Click("#autoreply-form button[type=submit]"),
		bt.WaitVisible(".flash"),
	)
	bt.Do(t, b, "reload", chromedp.Navigate(page), bt.WaitVisible("#enabled"))
	if !bt.Checked(t, b, "#enabled") {
		t.Error("not enabled after reload")
	}
	for sel, want := range map[string]string{"#start": start, "#end": end, "#subject": "Absent du cabinet"} {
		if v := bt.Value(t, b, sel); v != want {
			t.Errorf("%s = %q, want %q", sel, v, want)
		}
	}
	if h := signatureInner(t, b, "#autoreply-body"); !strings.Contains(h, "<b>") || !strings.Contains(h, "Je suis absent") {
		t.Errorf("body read back: %s", h)
	}

	// A platform user writes to jean twice: one automatic reply.
	for i := 0; i < 2; i++ {
		if err := n.submit(t, "marie@web.test", "marie@web.test", []string{"jean@web.test"}, "Question urgente"); err != nil {
			t.Fatal(err)
		}
	}
	replies := func() []string {
		var out []string
		for _, m := range n.inbox(t, marie.ID) {
			if strings.Contains(m, "Auto-Submitted: auto-replied") {
				out = append(out, m)
			}
		}
		return out
	}
	eventually(t, 10*time.Second, "automatic reply in marie's INBOX", func() bool { return len(replies()) > 0 })
	time.Sleep(300 * time.Millisecond)
	got := replies()
	if len(got) != 1 {
		t.Fatalf("%d automatic replies, want 1", len(got))
	}
	for _, want := range []string{"Subject: Absent du cabinet", "From: Jean Dupont <jean.dupont@web.test>", "To: <marie@web.test>", "In-Reply-To: <"} {
		if !strings.Contains(got[0], want) {
			t.Errorf("reply lacks %q:\n%s", want, got[0])
		}
	}
	// The reply itself is answered by nobody: jean's INBOX holds only
	// marie's two messages.
	if in := n.inbox(t, jean.ID); len(in) != 2 {
		t.Errorf("jean's INBOX has %d messages, want 2", len(in))
	}
}

package server_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

// TestIMAPBoxJournal works in a box's folders over a real IMAP session —
// APPEND, STORE +FLAGS \Deleted, EXPUNGE, COPY out, MOVE within — and reads
// the box's journal, which names the member and each action in French;
// the member's personal folders leave no trace there.
func TestIMAPBoxJournal(t *testing.T) {
	w := boxNode(t)
	ctx := context.Background()
	ic, err := imapclient.DialStartTLS(w.n.Addrs["imap"], &imapclient.Options{TLSConfig: &tls.Config{RootCAs: w.ca.Pool(), ServerName: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if err := ic.Login("jean@web.test", testPassword).Wait(); err != nil {
		t.Fatal(err)
	}
	const inbox = "Partagé/cardio@web.test/INBOX"
	appendTo := func(folder, subject string) {
		t.Helper()
		msg := fmt.Sprintf("From: jean@web.test\r\nTo: cardio@web.test\r\nSubject: %s\r\nDate: %s\r\n\r\nCorps.\r\n", subject, time.Now().Format(time.RFC1123Z))
		app := ic.Append(folder, int64(len(msg)), nil)
		app.Write([]byte(msg))
		app.Close()
		if _, err := app.Wait(); err != nil {
			t.Fatalf("append to %s: %v", folder, err)
		}
	}
	for _, s := range []string{"un", "deux", "trois", "quatre"} {
		appendTo(inbox, s)
	}
	appendTo("INBOX", "personnel")
	if _, err := ic.Select(inbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.Store(imap.SeqSetNum(1, 2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.Copy(imap.SeqSetNum(1), "INBOX").Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.Move(imap.SeqSetNum(1), "Partagé/cardio@web.test/Trash").Wait(); err != nil {
		t.Fatal(err)
	}
	// Personal folders: nothing in the box's journal.
	if _, err := ic.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	if _, err := ic.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}

	js, err := w.n.Accounts.BoxJournal(ctx, w.box.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := len(js) - 1; i >= 0; i-- {
		if js[i].MemberID != w.jean.ID || js[i].MemberLogin != "jean@web.test" {
			t.Errorf("entry %+v: not Jean's", js[i])
		}
		got = append(got, js[i].Action+": "+js[i].Detail)
	}
	want := []string{
		"append: a déposé un message dans le dossier Boîte de réception",
		"append: a déposé un message dans le dossier Boîte de réception",
		"append: a déposé un message dans le dossier Boîte de réception",
		"append: a déposé un message dans le dossier Boîte de réception",
		"flags: a marqué 2 message(s) pour suppression dans le dossier Boîte de réception",
		"delete: a supprimé 2 message(s) du dossier Boîte de réception",
		"copy: a copié 1 message(s) depuis le dossier Boîte de réception vers un dossier personnel",
		"move: a déplacé 1 message(s) depuis le dossier Boîte de réception vers le dossier Corbeille",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("journal:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The journal page shows the member and the actions.
	jean := profileHTTPLogin(t, w.base, "jean@web.test", w.jean.ID)
	_, page := jean.get(t, fmt.Sprintf("/a/%d/compte/journal", w.box.ID))
	for _, s := range []string{"jean@web.test", "a supprimé 2 message(s) du dossier Boîte de réception", "Suppression",
		"a déplacé 1 message(s) depuis le dossier Boîte de réception vers le dossier Corbeille", "Dépôt"} {
		if !strings.Contains(page, s) {
			t.Fatalf("journal page lacks %q:\n%s", s, page)
		}
	}
}

package autoreply_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime"
	netmail "net/mail"
	"strings"
	"testing"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/autoreply"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

type trusted []string

func (t trusted) IsTrusted(d string) bool {
	for _, x := range t {
		if x == d {
			return true
		}
	}
	return false
}

// world is a platform with three persons, a pipeline whose only effect is
// the auto-reply, and a clock the test sets.
type world struct {
	t                  *testing.T
	st                 *store.Store
	svc                *account.Service
	pipe               *mail.Pipeline
	r                  *autoreply.Responder
	now                time.Time
	jean, marie, sarah *account.Account
	n                  int
}

func newWorld(t *testing.T, dsn string) *world {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	svc := account.NewService(st)
	if _, err := svc.CreateStructure(ctx, "Clinique", ""); err != nil {
		t.Fatal(err)
	}
	w := &world{t: t, st: st, svc: svc}
	mk := func(kind account.Kind, login, mss, first, last string) *account.Account {
		a, err := svc.Create(ctx, account.NewAccount{Structure: "Clinique", Kind: kind, Login: login, MSS: mss, FirstName: first, LastName: last})
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	w.jean = mk(account.PER, "jean@hyg.test", "jean.dupont@mss.hyg.test", "Jean", "Dupont")
	w.marie = mk(account.MED, "marie@hyg.test", "", "Marie", "Martin")
	w.sarah = mk(account.MED, "sarah@hyg.test", "", "Sarah", "Léger")
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	w.pipe = &mail.Pipeline{St: st, Hostname: "mx.hyg.test", Log: log, Now: func() time.Time { return w.now }}
	router := &mail.Router{Accounts: svc, Trust: trusted{"peer.test"}, Domains: []string{"hyg.test", "mss.hyg.test"}}
	w.r = &autoreply.Responder{St: st, Accounts: svc, Pipeline: w.pipe, Router: router, Log: log}
	w.pipe.Effects = []mail.Effect{w.r.Effect}
	return w
}

func (w *world) at(day string) {
	t, err := time.ParseInLocation("2006-01-02 15:04", day, account.Paris)
	if err != nil {
		w.t.Fatal(err)
	}
	w.now = t
}

// send delivers a message from envelope sender from to the local account
// to, with extra header fields, and runs the auto-reply jobs.
func (w *world) send(src, from string, identity *account.Account, to *account.Account, extra string) {
	w.t.Helper()
	w.n++
	hdrTo := to.Login
	if strings.Contains(extra, "To:") {
		hdrTo = ""
	}
	msg := fmt.Sprintf("From: <%s>\r\n", from)
	if hdrTo != "" {
		msg += fmt.Sprintf("To: <%s>\r\n", hdrTo)
	}
	msg += fmt.Sprintf("Subject: Dossier %d\r\nMessage-ID: <orig%d@test>\r\nReferences: <first@test>\r\n%s\r\nBonjour.\r\n", w.n, w.n, extra)
	env := mail.Envelope{Source: src, From: from, Identity: identity, Recipients: []mail.Destination{{Address: to.Login, Local: to}}}
	if _, err := w.pipe.Deliver(context.Background(), env, []byte(msg)); err != nil {
		w.t.Fatal(err)
	}
	w.runJobs()
}

// runJobs runs every due auto-reply job, and returns the remote delivery
// jobs left.
func (w *world) runJobs() []mail.RemoteJob {
	w.t.Helper()
	ctx := context.Background()
	var remote []mail.RemoteJob
	for {
		jobs, err := queue.Claim(ctx, w.st, 10, time.Minute)
		if err != nil {
			w.t.Fatal(err)
		}
		if len(jobs) == 0 {
			return remote
		}
		for _, j := range jobs {
			switch j.Kind {
			case autoreply.JobKind:
				if err := w.r.Handle(ctx, j); err != nil {
					w.t.Fatal(err)
				}
			case mail.JobRemote:
				var p mail.RemoteJob
				json.Unmarshal(j.Payload, &p)
				remote = append(remote, p)
				queue.Complete(ctx, w.st, j.ID, nil)
			default:
				w.t.Fatalf("unexpected job %s", j.Kind)
			}
		}
	}
}

// inbox returns the messages of an account's INBOX.
func (w *world) inbox(a *account.Account) []string {
	w.t.Helper()
	rows, err := w.st.Query(context.Background(), `SELECT m.body FROM entries e JOIN mailboxes b ON b.id = e.mailbox_id
		JOIN messages m ON m.id = e.message_id WHERE b.account_id = ? AND b.name = 'INBOX' ORDER BY e.uid`, a.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			w.t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return out
}

func (w *world) replies(a *account.Account) []*netmail.Message {
	var out []*netmail.Message
	for _, m := range w.inbox(a) {
		msg, err := netmail.ReadMessage(strings.NewReader(m))
		if err != nil {
			w.t.Fatal(err)
		}
		if msg.Header.Get("Auto-Submitted") == "auto-replied" && msg.Header.Get("In-Reply-To") != "" {
			out = append(out, msg)
		}
	}
	return out
}

func (w *world) sentCount() int {
	var n int
	if err := w.st.QueryRow(context.Background(), `SELECT COUNT(*) FROM autoreply_sent`).Scan(&n); err != nil {
		w.t.Fatal(err)
	}
	return n
}

func TestAutoReply(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		ctx := context.Background()
		w := newWorld(t, dsn)
		if _, err := w.svc.SaveAutoReply(ctx, w.jean.ID, account.AutoReply{Enabled: true, Start: "2024-07-01", End: "2024-07-31",
			Subject: "Absent jusqu'au 31 juillet", HTML: `<p>Je suis <b>absent</b>.<script>alert(1)</script></p>`}); err != nil {
			t.Fatal(err)
		}
		w.at("2024-07-10 09:00")

		// A platform user writes: one reply in her INBOX, marked.
		w.send(mail.SourceSubmission, w.marie.Login, w.marie, w.jean, "")
		got := w.replies(w.marie)
		if len(got) != 1 {
			t.Fatalf("%d replies in marie's INBOX, want 1", len(got))
		}
		r := got[0]
		body, _ := io.ReadAll(r.Body)
		for k, want := range map[string]string{"Auto-Submitted": "auto-replied", "Subject": "Absent jusqu'au 31 juillet",
			"In-Reply-To": "<orig1@test>", "To": "<marie@hyg.test>"} {
			if v := r.Header.Get(k); v != want {
				t.Errorf("%s: %q, want %q", k, v, want)
			}
		}
		if from, _ := r.Header.AddressList("From"); len(from) != 1 || from[0].Address != "jean.dupont@mss.hyg.test" || from[0].Name != "Jean Dupont" {
			t.Errorf("From: %q", r.Header.Get("From"))
		}
		if refs := r.Header.Get("References"); !strings.Contains(refs, "<first@test>") || !strings.Contains(refs, "<orig1@test>") {
			t.Errorf("References: %q", refs)
		}
		if s := string(body); !strings.Contains(s, "Je suis absent.") || !strings.Contains(s, "<b>absent</b>") ||
			strings.Contains(s, "script") || !strings.Contains(s, "text/plain") || !strings.Contains(s, "text/html") {
			t.Errorf("body:\n%s", s)
		}

		// Once per sender per period.
		w.send(mail.SourceSubmission, w.marie.Login, w.marie, w.jean, "")
		w.send(mail.SourceSubmission, w.marie.Login, w.marie, w.jean, "")
		if n := len(w.replies(w.marie)); n != 1 {
			t.Fatalf("%d replies after three messages, want 1", n)
		}
		// Another sender gets its own reply, with the default subject
		// when « Objet » is empty.
		ar, _ := w.svc.AutoReplyOf(ctx, w.jean.ID)
		ar.Subject = ""
		if _, err := w.svc.SaveAutoReply(ctx, w.jean.ID, ar); err != nil {
			t.Fatal(err)
		}
		w.send(mail.SourceSubmission, w.sarah.Login, w.sarah, w.jean, "")
		if got := w.replies(w.sarah); len(got) != 1 || got[0].Header.Get("Subject") == "" {
			t.Fatalf("sarah's replies: %d", len(got))
		} else if s, _ := new(mime.WordDecoder).DecodeHeader(got[0].Header.Get("Subject")); s != "Réponse automatique : Dossier 4" {
			t.Errorf("default subject %q", s)
		}
		// Saving again starts a new period: marie gets a second reply.
		w.send(mail.SourceSubmission, w.marie.Login, w.marie, w.jean, "")
		if n := len(w.replies(w.marie)); n != 2 {
			t.Fatalf("%d replies after a new period, want 2", n)
		}

		// Automatic, list, bounce and own mail get none.
		before := w.sentCount()
		for name, c := range map[string]struct{ from, extra string }{
			"auto-generated":     {"a@peer.test", "Auto-Submitted: auto-generated\r\n"},
			"auto-replied":       {"b@peer.test", "Auto-Submitted: auto-replied\r\n"},
			"precedence bulk":    {"c@peer.test", "Precedence: bulk\r\n"},
			"precedence list":    {"d@peer.test", "Precedence: list\r\n"},
			"precedence junk":    {"e@peer.test", "Precedence: junk\r\n"},
			"list-id":            {"f@peer.test", "List-Id: <cardio.peer.test>\r\n"},
			"list-unsubscribe":   {"g@peer.test", "List-Unsubscribe: <mailto:leave@peer.test>\r\n"},
			"bounce":             {"", ""},
			"mailer-daemon":      {"MAILER-DAEMON@peer.test", ""},
			"postmaster":         {"postmaster@peer.test", ""},
			"noreply":            {"no-reply@peer.test", ""},
			"list owner":         {"owner-cardio@peer.test", ""},
			"own mss address":    {"jean.dupont@mss.hyg.test", ""},
			"blind copy":         {"h@peer.test", "To: <other@peer.test>\r\n"},
			"exchange suppress":  {"i@peer.test", "X-Auto-Response-Suppress: OOF, AutoReply\r\n"},
			"untrusted operator": {"j@elsewhere.test", ""},
		} {
			w.send(mail.SourceMX, c.from, nil, w.jean, c.extra)
			if n := w.sentCount(); n != before {
				t.Errorf("%s: a reply was recorded", name)
				before = n
			}
		}
		// Own message, sent as the account itself.
		w.send(mail.SourceSubmission, w.jean.Login, w.jean, w.jean, "")
		if n := w.sentCount(); n != before {
			t.Errorf("own message answered")
		}
		if got := w.replies(w.jean); len(got) != 0 {
			t.Errorf("jean got %d automatic replies", len(got))
		}

		// A remote sender at a trusted operator: the reply is queued for
		// the relay, with a null return path; Auto-Submitted: no is not
		// automatic.
		w.send(mail.SourceMX, "Doc@Peer.test", nil, w.jean, "Auto-Submitted: no\r\n")
		w.n++
		env := mail.Envelope{Source: mail.SourceMX, From: "other@peer.test", Recipients: []mail.Destination{{Address: w.jean.MSS, Local: w.jean}}}
		if _, err := w.pipe.Deliver(ctx, env, []byte("From: <other@peer.test>\r\nTo: <"+w.jean.MSS+">\r\nSubject: x\r\n\r\nx\r\n")); err != nil {
			t.Fatal(err)
		}
		remote := w.runJobs()
		if len(remote) != 1 || remote[0].From != "" || strings.Join(remote[0].Rcpts, ",") != "other@peer.test" {
			t.Fatalf("remote jobs = %+v", remote)
		}

		// A MED account never replies outside the platform.
		if _, err := w.svc.SaveAutoReply(ctx, w.marie.ID, account.AutoReply{Enabled: true, Subject: "Absente"}); err != nil {
			t.Fatal(err)
		}
		before = w.sentCount()
		w.send(mail.SourceMX, "k@peer.test", nil, w.marie, "")
		if n := w.sentCount(); n != before {
			t.Error("a MED account replied outside the platform")
		}
		// …but does inside it.
		w.send(mail.SourceSubmission, w.sarah.Login, w.sarah, w.marie, "")
		if n := len(w.replies(w.sarah)); n != 2 {
			t.Errorf("sarah has %d replies after writing to marie, want 2 (jean's and marie's)", n)
		}

		// Outside the dates: no reply, even to a new sender.
		w.at("2024-08-01 00:30")
		if _, err := w.svc.SaveAutoReply(ctx, w.jean.ID, ar); err != nil {
			t.Fatal(err)
		}
		w.send(mail.SourceSubmission, w.sarah.Login, w.sarah, w.jean, "")
		w.at("2024-06-30 23:59")
		w.send(mail.SourceSubmission, w.sarah.Login, w.sarah, w.jean, "")
		if n := len(w.replies(w.sarah)); n != 2 {
			t.Errorf("sarah has %d replies after mail outside the dates, want 2", n)
		}
		// Disabled: none.
		w.at("2024-07-15 10:00")
		ar.Enabled = false
		if _, err := w.svc.SaveAutoReply(ctx, w.jean.ID, ar); err != nil {
			t.Fatal(err)
		}
		w.send(mail.SourceSubmission, w.sarah.Login, w.sarah, w.jean, "")
		if n := len(w.replies(w.sarah)); n != 2 {
			t.Errorf("sarah has %d replies after a disabled auto-reply, want 2", n)
		}
	})
}

package smtpd_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/auth"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/smtpd"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/store/storetest"
	"github.com/hygie-sante/hygie/internal/trust"
)

const (
	password = "correct-horse-42"
	maxSize  = 64 << 10
)

// platform is a submission server on loopback over a fresh store.
type platform struct {
	st          *store.Store
	acc         *account.Service
	addr, addrs string // STARTTLS and implicit-TLS listeners
}

func startPlatform(t *testing.T, dsn string, opts ...func(*smtpd.Config)) *platform {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	acc := account.NewService(st)
	dir := t.TempDir()
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if _, err := trust.EnsureSelfSigned(certPath, keyPath, []string{"localhost"}); err != nil {
		t.Fatal(err)
	}
	cert, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	src := trust.NewSource("", []string{"operateur-a.example"}, log)
	cfg := smtpd.Config{
		Hostname: "mx.hygie.test", TLS: trust.ServerTLSConfig(cert), MaxMessageSize: maxSize, MaxRecipients: 10,
		Accounts: acc, Router: &mail.Router{Accounts: acc, Trust: src, Domains: []string{"hygie.test", "medecin.hygie.test"}},
		Pipeline: &mail.Pipeline{St: st, Hostname: "mx.hygie.test", Log: log}, Audit: &audit.Log{St: st}, Log: log,
		Throttle: auth.NewSharedThrottle(st, "smtp", 5, time.Minute, log),
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv := smtpd.NewSubmission(cfg)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lns, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(ln)
	go srv.Serve(tls.NewListener(lns, cfg.TLS))
	t.Cleanup(func() { srv.Close() })

	p := &platform{st: st, acc: acc, addr: ln.Addr().String(), addrs: lns.Addr().String()}
	mustDo(t, func() error { _, err := acc.CreateStructure(ctx, "Clinique", ""); return err })
	for _, n := range []account.NewAccount{
		{Kind: account.PER, Login: "doc@hygie.test", MSS: "doc@medecin.hygie.test", FirstName: "Jean", LastName: "Dupont"},
		{Kind: account.MED, Login: "sec@hygie.test", FirstName: "Marie", LastName: "Martin"},
		{Kind: account.PER, Login: "other@hygie.test", FirstName: "Paul", LastName: "Durand"},
		{Kind: account.ORG, Login: "cardio@hygie.test", MSS: "cardio@medecin.hygie.test", Label: "Cardiologie"},
	} {
		n.Structure = "Clinique"
		mustDo(t, func() error { _, err := acc.Create(ctx, n); return err })
		if n.Kind != account.ORG {
			mustDo(t, func() error { return acc.SetPassword(ctx, n.Login, password) })
		}
	}
	mustDo(t, func() error { return acc.AddMember(ctx, "cardio@hygie.test", "doc@hygie.test") })
	return p
}

func mustDo(t *testing.T, fn func() error) {
	t.Helper()
	if err := fn(); err != nil {
		t.Fatal(err)
	}
}

// dial connects, says EHLO, upgrades with STARTTLS and logs in.
func (p *platform) dial(t *testing.T, user string) *smtp.Client {
	t.Helper()
	c, err := smtp.DialStartTLS(p.addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if user != "" {
		if err := c.Auth(sasl.NewPlainClient("", user, password)); err != nil {
			t.Fatalf("auth %s: %v", user, err)
		}
	}
	return c
}

// code returns the SMTP code and enhanced code of err.
func code(t *testing.T, err error) (int, string) {
	t.Helper()
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		t.Fatalf("want an SMTP error, got %v", err)
	}
	e := se.EnhancedCode
	return se.Code, strconv.Itoa(e[0]) + "." + strconv.Itoa(e[1]) + "." + strconv.Itoa(e[2])
}

func expectRefusal(t *testing.T, err error, wantCode int, wantEnh, wantText string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want %d %s", wantCode, wantEnh)
	}
	c, e := code(t, err)
	if c != wantCode || e != wantEnh || !strings.Contains(err.Error(), wantText) {
		t.Fatalf("got %v; want %d %s containing %q", err, wantCode, wantEnh, wantText)
	}
}

func message(subject string, size int) string {
	var b strings.Builder
	b.WriteString("From: doc@hygie.test\r\nTo: other@hygie.test\r\nSubject: " + subject + "\r\n\r\n")
	for b.Len() < size {
		b.WriteString("Compte rendu de consultation, ligne de texte.\r\n")
	}
	return b.String()
}

func send(c *smtp.Client, from string, to []string, body string) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, r := range to {
		if err := c.Rcpt(r, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := io.WriteString(w, body); err != nil {
		return err
	}
	return w.Close()
}

// count returns how many entries of the named folder of login hold subject.
func (p *platform) count(t *testing.T, login, folder, subject string) int {
	t.Helper()
	var n int
	err := p.st.QueryRow(context.Background(), `SELECT COUNT(*) FROM entries e JOIN mailboxes m ON m.id = e.mailbox_id
		JOIN accounts a ON a.id = m.account_id JOIN messages g ON g.id = e.message_id
		WHERE a.login = ? AND m.name = ? AND g.subject = ?`, login, folder, subject).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestSubmissionRules(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		p := startPlatform(t, dsn)

		t.Run("auth only over TLS", func(t *testing.T) {
			c, err := smtp.Dial(p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Hello("client.test"); err != nil {
				t.Fatal(err)
			}
			if ok, _ := c.Extension("AUTH"); ok {
				t.Fatal("AUTH advertised before STARTTLS")
			}
			if ok, _ := c.Extension("STARTTLS"); !ok {
				t.Fatal("STARTTLS not advertised")
			}
			// A client that tries anyway is told TLS is required.
			conn, err := net.Dial("tcp", p.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			tc := textproto.NewConn(conn)
			tc.ReadResponse(220)
			tc.PrintfLine("EHLO client.test")
			tc.ReadResponse(250)
			tc.PrintfLine("AUTH PLAIN AGRvY0BoeWdpZS50ZXN0AGNvcnJlY3QtaG9yc2UtNDI=")
			gotCode, msg, _ := tc.ReadResponse(235)
			if gotCode != 523 || !strings.Contains(msg, "TLS") {
				t.Fatalf("AUTH over plain text: %d %s; want 523 TLS required", gotCode, msg)
			}
		})

		t.Run("wrong password", func(t *testing.T) {
			c, err := smtp.DialStartTLS(p.addr, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			expectRefusal(t, c.Auth(sasl.NewPlainClient("", "doc@hygie.test", "wrong-password")), 535, "5.7.8", "invalid")
		})

		t.Run("mail requires auth", func(t *testing.T) {
			c := p.dial(t, "")
			expectRefusal(t, c.Mail("doc@hygie.test", nil), 530, "5.7.0", "authentication required")
		})

		t.Run("size advertised and enforced", func(t *testing.T) {
			c := p.dial(t, "doc@hygie.test")
			ok, param := c.Extension("SIZE")
			if !ok || param != strconv.Itoa(maxSize) {
				t.Fatalf("SIZE = %v %q, want %d", ok, param, maxSize)
			}
			expectRefusal(t, c.Mail("doc@hygie.test", &smtp.MailOptions{Size: maxSize + 1}), 552, "5.3.4", "size")
			c.Reset()
			expectRefusal(t, send(c, "doc@hygie.test", []string{"other@hygie.test"}, message("too big", maxSize+100)), 552, "5.3.4", "size")
			if n := p.count(t, "other@hygie.test", "INBOX", "too big"); n != 0 {
				t.Fatalf("oversized message stored %d times", n)
			}
		})

		t.Run("envelope sender must be owned", func(t *testing.T) {
			c := p.dial(t, "sec@hygie.test")
			expectRefusal(t, c.Mail("doc@hygie.test", nil), 553, "5.7.1", "neither your address")
			c.Reset()
			expectRefusal(t, c.Mail("cardio@hygie.test", nil), 553, "5.7.1", "neither your address")
			c.Reset()
			expectRefusal(t, c.Mail("jane@-bad.example", nil), 553, "5.1.7", "bad sender")
		})

		t.Run("routing refusals", func(t *testing.T) {
			c := p.dial(t, "sec@hygie.test")
			if err := c.Mail("sec@hygie.test", nil); err != nil {
				t.Fatal(err)
			}
			expectRefusal(t, c.Rcpt("nobody@hygie.test", nil), 550, "5.1.1", "no such mailbox")
			expectRefusal(t, c.Rcpt("someone@gmail.example", nil), 550, "5.7.1", "outside the MSSanté trust space")
			expectRefusal(t, c.Rcpt("dr.x@operateur-a.example", nil), 550, "5.7.1", "MED account")
			expectRefusal(t, c.Rcpt("jane@bad_domain.example", nil), 501, "5.1.3", "bad recipient")
			if err := c.Rcpt("doc@hygie.test", nil); err != nil {
				t.Fatalf("MED to a platform user: %v", err)
			}
		})

		t.Run("delivery local, remote queued, box and Sent copies", func(t *testing.T) {
			c := p.dial(t, "doc@hygie.test")
			rcpts := []string{"other@hygie.test", "sec@hygie.test", "cardio@medecin.hygie.test", "dr.x@operateur-a.example"}
			if err := send(c, "doc@medecin.hygie.test", rcpts, message("consultation 1", 4096)); err != nil {
				t.Fatal(err)
			}
			for _, who := range []string{"other@hygie.test", "sec@hygie.test", "cardio@hygie.test"} {
				if n := p.count(t, who, "INBOX", "consultation 1"); n != 1 {
					t.Errorf("%s INBOX has %d copies, want 1", who, n)
				}
			}
			if n := p.count(t, "doc@hygie.test", "Sent", "consultation 1"); n != 1 {
				t.Errorf("Sent has %d copies, want 1", n)
			}
			var jobs int
			p.st.QueryRow(context.Background(), `SELECT COUNT(*) FROM jobs WHERE kind = 'remote' AND payload LIKE '%dr.x@operateur-a.example%'`).Scan(&jobs)
			if jobs != 1 {
				t.Errorf("%d remote jobs, want 1", jobs)
			}
			// A member writes as the box: the copy goes to the box's Sent.
			c.Reset()
			if err := send(c, "cardio@hygie.test", []string{"other@hygie.test"}, message("au nom du service", 100)); err != nil {
				t.Fatalf("member sending as box: %v", err)
			}
			if n := p.count(t, "cardio@hygie.test", "Sent", "au nom du service"); n != 1 {
				t.Errorf("box Sent has %d copies, want 1", n)
			}
			// The box's journal says which member sent it (issue 5).
			box, _ := p.acc.ByAddress(context.Background(), "cardio@hygie.test")
			journal, err := p.acc.BoxJournal(context.Background(), box.ID, 10)
			if err != nil || len(journal) == 0 || journal[0].MemberLogin != "doc@hygie.test" ||
				journal[0].Action != account.JournalSend || !strings.Contains(journal[0].Detail, "au nom du service") {
				t.Errorf("box journal = %+v, %v", journal, err)
			}
			recs, err := audit.List(context.Background(), p.st, audit.Filter{Kind: audit.KindMessage, Address: "doc@hygie.test"})
			if err != nil || len(recs) < 2 || recs[0].Result != "accepted" {
				t.Fatalf("audit = %+v, %v", recs, err)
			}
		})

		t.Run("implicit TLS and AUTH LOGIN", func(t *testing.T) {
			c, err := smtp.DialTLS(p.addrs, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Auth(sasl.NewLoginClient("other@hygie.test", password)); err != nil {
				t.Fatalf("AUTH LOGIN: %v", err)
			}
			if err := send(c, "other@hygie.test", []string{"doc@hygie.test"}, message("implicit", 100)); err != nil {
				t.Fatal(err)
			}
			if n := p.count(t, "doc@hygie.test", "INBOX", "implicit"); n != 1 {
				t.Fatalf("INBOX has %d copies", n)
			}
		})

		t.Run("login attempts audited and throttled", func(t *testing.T) {
			for i := 0; i < 6; i++ {
				c, err := smtp.DialStartTLS(p.addr, &tls.Config{InsecureSkipVerify: true})
				if err != nil {
					t.Fatal(err)
				}
				err = c.Auth(sasl.NewPlainClient("", "other@hygie.test", "bad-password-x"))
				c.Close()
				if i == 5 {
					expectRefusal(t, err, 454, "4.7.0", "too many")
				}
			}
			recs, _ := audit.List(context.Background(), p.st, audit.Filter{Kind: audit.KindLogin, Address: "other@hygie.test", Result: "failed"})
			if len(recs) < 5 || recs[0].Protocol != "smtp" || recs[0].RemoteIP != "127.0.0.1" {
				t.Fatalf("failed logins audited: %+v", recs)
			}
		})
	})
}

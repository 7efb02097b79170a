package imapd_test

import (
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"

	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/auth"
	"github.com/hygie-sante/hygie/internal/imapd"
	"github.com/hygie-sante/hygie/internal/store/storetest"
)

func TestLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)

		// Before TLS: STARTTLS offered, LOGIN disabled and refused.
		c, err := imapclient.DialInsecure(e.addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		caps, err := c.Capability().Wait()
		if err != nil {
			t.Fatal(err)
		}
		if !caps.Has(imap.CapStartTLS) || !caps.Has(imap.CapLoginDisabled) || caps.Has(imap.AuthCap("PLAIN")) {
			t.Fatalf("capabilities before TLS: %v", caps)
		}
		if err := c.Login(e.doc.Login, password).Wait(); err == nil {
			t.Fatal("login accepted in clear")
		}

		// After STARTTLS: a wrong password is refused, the right one works.
		bad, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: e.client})
		if err != nil {
			t.Fatal(err)
		}
		defer bad.Close()
		if err := bad.Login(e.doc.Login, "wrong password").Wait(); err == nil {
			t.Fatal("wrong password accepted")
		}
		if err := bad.Login("nobody@clinique.example", password).Wait(); err == nil {
			t.Fatal("unknown account accepted")
		}
		if err := bad.Login(e.box.Login, password).Wait(); err == nil {
			t.Fatal("a box logged in")
		}
		good, _ := e.dial(e.doc.Login)
		caps, err = good.Capability().Wait()
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []imap.Cap{imap.CapIMAP4rev2, imap.CapIdle, imap.CapMove, imap.CapUIDPlus, imap.CapNamespace, imap.CapSpecialUse} {
			if !caps.Has(c) {
				t.Errorf("capability %s missing: %v", c, caps)
			}
		}

		// AUTHENTICATE PLAIN goes through the same check.
		plain, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: e.client})
		if err != nil {
			t.Fatal(err)
		}
		defer plain.Close()
		if err := plain.Authenticate(sasl.NewPlainClient("", e.doc.Login, "wrong")); err == nil {
			t.Fatal("AUTHENTICATE PLAIN with a wrong password accepted")
		}
		if err := plain.Authenticate(sasl.NewPlainClient("", e.doc.Login, password)); err != nil {
			t.Fatalf("AUTHENTICATE PLAIN: %v", err)
		}

		// Implicit TLS (port 993).
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go e.srv.ServeTLS(ln)
		implicit, err := imapclient.DialTLS(ln.Addr().String(), &imapclient.Options{TLSConfig: e.client})
		if err != nil {
			t.Fatal(err)
		}
		defer implicit.Close()
		if err := implicit.Login(e.doc.Login, password).Wait(); err != nil {
			t.Fatalf("login over implicit TLS: %v", err)
		}

		recs, err := audit.List(e.ctx, e.st, audit.Filter{Kind: audit.KindLogin})
		if err != nil {
			t.Fatal(err)
		}
		var ok, failed int
		for _, r := range recs {
			if r.Protocol != "imap" || r.RemoteIP != "127.0.0.1" {
				t.Errorf("audit record %+v", r)
			}
			switch r.Result {
			case "ok":
				ok++
				if r.Address != e.doc.Login {
					t.Errorf("ok login recorded for %q", r.Address)
				}
			case "failed":
				failed++
			}
		}
		if ok != 3 || failed != 4 {
			t.Fatalf("audit: %d ok, %d failed; want 3 and 4 (%+v)", ok, failed, recs)
		}
	})
}

func TestNamespaceAndList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn)
		c, _ := e.dial(e.doc.Login)

		ns, err := c.Namespace().Wait()
		if err != nil {
			t.Fatal(err)
		}
		if len(ns.Personal) != 1 || ns.Personal[0].Prefix != "" || ns.Personal[0].Delim != '/' ||
			len(ns.Shared) != 1 || ns.Shared[0].Prefix != "Partagé/" {
			t.Fatalf("namespace %+v", ns)
		}

		list, err := c.List("", "*", nil).Collect()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][]imap.MailboxAttr{}
		for _, l := range list {
			got[l.Mailbox] = l.Attrs
		}
		want := map[string]imap.MailboxAttr{"Sent": imap.MailboxAttrSent, "Drafts": imap.MailboxAttrDrafts, "Trash": imap.MailboxAttrTrash}
		for name, attr := range want {
			if !hasAttr(got[name], attr) {
				t.Errorf("LIST %s: %v, want %s", name, got[name], attr)
			}
		}
		if _, ok := got["INBOX"]; !ok {
			t.Error("no INBOX")
		}
		box := "Partagé/" + e.box.Login
		if !hasAttr(got["Partagé"], imap.MailboxAttrNoSelect) || !hasAttr(got[box], imap.MailboxAttrNoSelect) {
			t.Errorf("shared levels: %v %v", got["Partagé"], got[box])
		}
		if attrs, ok := got[box+"/Sent"]; !ok || hasAttr(attrs, imap.MailboxAttrSent) {
			t.Errorf("box Sent: %v (present %v); special-use must stay personal", attrs, ok)
		}

		// LIST "" "%" stays at the top level; the "" pattern gives the delimiter.
		top, err := c.List("", "%", nil).Collect()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range top {
			if l.Mailbox == box || l.Mailbox == "Partagé/"+e.box.Login+"/INBOX" {
				t.Errorf("%% matched %s", l.Mailbox)
			}
		}
		root, err := c.List("", "", nil).Collect()
		if err != nil || len(root) != 1 || root[0].Delim != '/' {
			t.Fatalf("LIST \"\" \"\": %+v %v", root, err)
		}

		// RETURN (SPECIAL-USE STATUS) and the SPECIAL-USE selection.
		special, err := c.List("", "*", &imap.ListOptions{SelectSpecialUse: true,
			ReturnStatus: &imap.StatusOptions{NumMessages: true}}).Collect()
		if err != nil {
			t.Fatal(err)
		}
		if len(special) != 3 {
			t.Fatalf("special-use selection: %+v", special)
		}
		for _, l := range special {
			if l.Status == nil || l.Status.NumMessages == nil {
				t.Errorf("no status for %s", l.Mailbox)
			}
		}
	})
}

func hasAttr(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range attrs {
		if x == a {
			return true
		}
	}
	return false
}

// TestLoginThrottled: wrong passwords for one login from one IP are counted
// (in the store, shared by the nodes); at the limit even the right password
// is refused with [UNAVAILABLE], audited as throttled, while another login
// is not affected.
func TestLoginThrottled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		e := newEnv(t, dsn, func(c *imapd.Config) {
			c.Throttle = auth.NewSharedThrottle(c.St, "imap", 3, time.Minute, nil)
		})
		c, err := imapclient.DialStartTLS(e.addr, &imapclient.Options{TLSConfig: e.client})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for i := range 3 {
			err := c.Login(e.doc.Login, "guess").Wait()
			var ie *imap.Error
			if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeAuthenticationFailed {
				t.Fatalf("guess %d: %v; want NO [AUTHENTICATIONFAILED]", i+1, err)
			}
		}
		err = c.Login(e.doc.Login, password).Wait()
		var ie *imap.Error
		if !errors.As(err, &ie) || ie.Code != imap.ResponseCodeUnavailable {
			t.Fatalf("right password after 3 failures: %v; want NO [UNAVAILABLE]", err)
		}
		if _, err := c.Select("INBOX", nil).Wait(); err == nil {
			t.Fatal("SELECT after a throttled login")
		}
		// The same person written otherwise is the same count.
		if err := c.Login(" "+strings.ToUpper(e.doc.Login)+" ", password).Wait(); !errors.As(err, &ie) || ie.Code != imap.ResponseCodeUnavailable {
			t.Fatalf("the login in capitals, padded, after 3 failures: %v; want NO [UNAVAILABLE]", err)
		}
		if err := c.Login(e.sec.Login, password).Wait(); err != nil {
			t.Fatalf("another login: %v", err)
		}
		recs, err := audit.List(e.ctx, e.st, audit.Filter{Kind: audit.KindLogin, Address: e.doc.Login, Result: "throttled"})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 1 || recs[0].Protocol != "imap" {
			t.Fatalf("throttled attempts audited as %+v", recs)
		}
	})
}

package server_test

import (
	"context"
	"crypto/tls"
	"crypto/x509/pkix"
	"errors"
	"net"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/device"
	"github.com/hygie-sante/hygie/internal/server"
	"github.com/hygie-sante/hygie/internal/store/storetest"
	"github.com/hygie-sante/hygie/internal/trust"
)

const ldapBase = "ou=annuaire,dc=annu,dc=test"

// ldapNode starts a node with both LDAP listeners and a small directory:
// Jean Dupont (both addresses visible, full card), Hélène Martin (MSSanté
// address hidden), Paul Secret (both hidden), Denis Parti (disabled) and
// Luc Bloqué (for the throttle).
func ldapNode(t *testing.T, dsn string) (*testNode, *trust.TestCA) {
	t.Helper()
	ca, err := trust.NewTestCA("Test IGC")
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, nodeSpec{Hostname: "mx.annu.test", Domains: []string{"annu.test"}, Issuer: ca,
		DN: pkix.Name{CommonName: "mx.annu.test"}, Database: dsn,
		BeforeStart: func(n *server.Node) {
			n.Cfg.Listen.LDAP, n.Cfg.Listen.LDAPS = "127.0.0.1:0", "127.0.0.1:0"
		}})
	ctx := context.Background()
	jean := n.addPerson(t, account.PER, "jean@annu.test", "jean.dupont@annu.test", "Jean", "Dupont")
	ldapMust(t, n.Accounts.UpdatePersonalData(ctx, jean.ID, account.PersonalData{FirstName: "Jean", LastName: "Dupont",
		Phone: "01 23 45 67 89", PostalAddress: "12 rue de la Paix\n75002 Paris"}))
	ldapMust(t, n.Accounts.UpdateActivity(ctx, jean.ID, account.Activity{RaisonSociale: "Cabinet Dupont",
		Profession: "Médecin", Specialite: "Cardiologie"}))
	helene := n.addPerson(t, account.PER, "helene@annu.test", "helene.martin@annu.test", "Hélène", "Martin")
	ldapMust(t, n.Accounts.SetVisibility(ctx, helene.ID, true, false))
	paul := n.addPerson(t, account.PER, "paul@annu.test", "paul.secret@annu.test", "Paul", "Secret")
	ldapMust(t, n.Accounts.SetVisibility(ctx, paul.ID, false, false))
	n.addPerson(t, account.PER, "denis@annu.test", "denis.parti@annu.test", "Denis", "Parti")
	ldapMust(t, n.Accounts.SetDisabled(ctx, "denis@annu.test", true))
	n.addPerson(t, account.MED, "luc@annu.test", "", "Luc", "Bloqué")
	return n, ca
}

func ldapMust(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// dialStartTLS connects to listen.ldap and upgrades with StartTLS,
// verifying the node's certificate.
func dialStartTLS(t *testing.T, n *testNode, ca *trust.TestCA) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL("ldap://" + n.Addrs["ldap"])
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.StartTLS(&tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}); err != nil {
		t.Fatalf("StartTLS: %v", err)
	}
	return c
}

// dialLDAPS connects to listen.ldaps (implicit TLS).
func dialLDAPS(t *testing.T, n *testNode, ca *trust.TestCA) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL("ldaps://"+n.Addrs["ldaps"],
		ldap.DialWithTLSConfig(&tls.Config{RootCAs: ca.Pool(), ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ldapSearch(c *ldap.Conn, filter string, attrs ...string) (*ldap.SearchResult, error) {
	return c.Search(ldap.NewSearchRequest(ldapBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		filter, attrs, nil))
}

// mails returns the sorted mail values of a result.
func ldapMails(r *ldap.SearchResult) []string {
	var out []string
	for _, e := range r.Entries {
		out = append(out, e.GetAttributeValues("mail")...)
	}
	sort.Strings(out)
	return out
}

func ldapCode(err error) uint16 {
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	return 0
}

// hidden are the addresses the LDAP address book must never return.
var ldapHidden = []string{"helene.martin@annu.test", "paul@annu.test", "paul.secret@annu.test",
	"denis@annu.test", "denis.parti@annu.test"}

func TestLDAPAddressBook(t *testing.T) {
	storetest.Each(t, func(t *testing.T, dsn string) {
		n, ca := ldapNode(t, dsn)

		t.Run("anonymous search refused", func(t *testing.T) {
			c := dialStartTLS(t, n, ca)
			_, err := ldapSearch(c, "(objectClass=*)")
			if ldapCode(err) != ldap.LDAPResultInsufficientAccessRights {
				t.Errorf("search without bind: %v, want insufficientAccessRights", err)
			}
			if err := c.UnauthenticatedBind(""); err != nil {
				t.Fatalf("anonymous bind: %v", err)
			}
			_, err = ldapSearch(c, "(mail=*)")
			if ldapCode(err) != ldap.LDAPResultInsufficientAccessRights {
				t.Errorf("search after anonymous bind: %v, want insufficientAccessRights", err)
			}
		})

		t.Run("password needs TLS", func(t *testing.T) {
			c, err := ldap.DialURL("ldap://" + n.Addrs["ldap"])
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Bind("jean@annu.test", testPassword); ldapCode(err) != ldap.LDAPResultConfidentialityRequired {
				t.Errorf("bind in clear: %v, want confidentialityRequired", err)
			}
		})

		t.Run("wrong password refused and audited", func(t *testing.T) {
			c := dialStartTLS(t, n, ca)
			if err := c.Bind("jean@annu.test", "not-the-password"); ldapCode(err) != ldap.LDAPResultInvalidCredentials {
				t.Fatalf("bad bind: %v, want invalidCredentials", err)
			}
			if _, err := ldapSearch(c, "(mail=*)"); ldapCode(err) != ldap.LDAPResultInsufficientAccessRights {
				t.Errorf("search after failed bind: %v, want insufficientAccessRights", err)
			}
			recs, err := audit.List(context.Background(), n.St, audit.Filter{Kind: audit.KindLogin, Address: "jean@annu.test", Result: "failed"})
			if err != nil {
				t.Fatal(err)
			}
			if len(recs) == 0 || recs[0].Protocol != "ldap" || recs[0].RemoteIP != "127.0.0.1" {
				t.Errorf("audit of the failed bind: %+v", recs)
			}
		})

		t.Run("Thunderbird search over StartTLS", func(t *testing.T) {
			c := dialStartTLS(t, n, ca)
			if err := c.Bind("jean@annu.test", testPassword); err != nil {
				t.Fatalf("bind: %v", err)
			}
			// Thunderbird's autocomplete filter for what was typed.
			r, err := ldapSearch(c, "(|(mail=*dup*)(cn=*dup*)(givenName=*dup*)(sn=*dup*))")
			if err != nil {
				t.Fatal(err)
			}
			if got := ldapMails(r); !slices.Equal(got, []string{"jean.dupont@annu.test", "jean@annu.test"}) {
				t.Fatalf("mails = %v", got)
			}
			e := r.Entries[0]
			want := map[string]string{"cn": "Jean Dupont", "sn": "Dupont", "givenName": "Jean", "o": "Cabinet Dupont",
				"title": "Médecin – Cardiologie", "telephoneNumber": "01 23 45 67 89",
				"postalAddress": "12 rue de la Paix$75002 Paris"}
			for a, v := range want {
				if got := e.GetAttributeValue(a); got != v {
					t.Errorf("%s = %q, want %q", a, got, v)
				}
			}
			if oc := e.GetAttributeValues("objectClass"); !slices.Contains(oc, "inetOrgPerson") {
				t.Errorf("objectClass = %v", oc)
			}
			if !strings.HasSuffix(e.DN, ","+ldapBase) || !strings.HasPrefix(e.DN, "mail=") {
				t.Errorf("DN = %q", e.DN)
			}
			audits, err := audit.List(context.Background(), n.St, audit.Filter{Kind: audit.KindLogin, Address: "jean@annu.test", Result: "ok"})
			if err != nil || len(audits) == 0 || audits[0].Protocol != "ldap" {
				t.Errorf("audit of the bind: %+v %v", audits, err)
			}

			// Accents and case: Hélène by the start of her name.
			r, err = ldapSearch(c, "(|(mail=*Hél*)(cn=*Hél*)(givenName=*Hél*)(sn=*Hél*))", "mail", "cn")
			if err != nil {
				t.Fatal(err)
			}
			if got := ldapMails(r); !slices.Equal(got, []string{"helene@annu.test"}) {
				t.Errorf("Hél: mails = %v", got)
			}
			if len(r.Entries) == 1 && (r.Entries[0].GetAttributeValue("cn") != "Hélène Martin" || r.Entries[0].GetAttributeValue("sn") != "") {
				t.Errorf("Hél: attribute selection not honoured: %+v", r.Entries[0].Attributes)
			}
		})

		t.Run("filters", func(t *testing.T) {
			c := dialLDAPS(t, n, ca)
			if err := c.Bind("uid=jean@annu.test,"+ldapBase, testPassword); err != nil {
				t.Fatalf("bind with a DN: %v", err)
			}
			for _, tc := range []struct {
				filter string
				want   []string
			}{
				{"(sn=dupont)", []string{"jean.dupont@annu.test", "jean@annu.test"}},
				{"(mail=helene@annu.test)", []string{"helene@annu.test"}},
				{"(givenName=Hél*)", []string{"helene@annu.test"}},
				{"(cn=*hélène mar*)", []string{"helene@annu.test"}},
				// Case and accents do not matter, as in the directory.
				{"(|(mail=*HELENE*)(cn=*HELENE*)(givenName=*HELENE*)(sn=*HELENE*))", []string{"helene@annu.test"}},
				{"(sn=bloque)", []string{"luc@annu.test"}},
				{"(&(objectClass=inetOrgPerson)(!(sn=Dupont)))", []string{"helene@annu.test", "luc@annu.test"}},
				{"(&(title=*cardio*)(mail=*.*@*))", []string{"jean.dupont@annu.test"}},
				{"(telephoneNumber=*)", []string{"jean.dupont@annu.test", "jean@annu.test"}},
				{"(o=cabinet dupont)", []string{"jean.dupont@annu.test", "jean@annu.test"}},
				{"(|(sn=Martin)(sn=Bloqué))", []string{"helene@annu.test", "luc@annu.test"}},
				{"(nosuchattr=x)", nil},
				// Hidden addresses are not found even when typed in full.
				{"(mail=helene.martin@annu.test)", nil},
				{"(|(mail=*paul*)(cn=*paul*)(givenName=*paul*)(sn=*paul*))", nil},
				{"(|(mail=*denis*)(cn=*denis*)(givenName=*denis*)(sn=*denis*))", nil},
			} {
				r, err := ldapSearch(c, tc.filter)
				if err != nil {
					t.Errorf("%s: %v", tc.filter, err)
					continue
				}
				if got := ldapMails(r); !slices.Equal(got, tc.want) {
					t.Errorf("%s: mails = %v, want %v", tc.filter, got, tc.want)
				}
			}
			// Everything: hidden and disabled never appear.
			r, err := ldapSearch(c, "(objectClass=*)")
			if err != nil {
				t.Fatal(err)
			}
			all := ldapMails(r)
			if !slices.Equal(all, []string{"helene@annu.test", "jean.dupont@annu.test", "jean@annu.test", "luc@annu.test"}) {
				t.Errorf("all mails = %v", all)
			}
			// Reading a hidden entry by its DN.
			_, err = c.Search(ldap.NewSearchRequest("mail=paul@annu.test,"+ldapBase, ldap.ScopeBaseObject,
				ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
			if ldapCode(err) != ldap.LDAPResultNoSuchObject {
				t.Errorf("base search on a hidden entry: %v, want noSuchObject", err)
			}
			r, err = c.Search(ldap.NewSearchRequest("mail=helene@annu.test,"+ldapBase, ldap.ScopeBaseObject,
				ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil))
			if err != nil || !slices.Equal(ldapMails(r), []string{"helene@annu.test"}) {
				t.Errorf("base search on a visible entry: %v %v", err, r)
			}
			// Size limit.
			r, err = c.Search(ldap.NewSearchRequest(ldapBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 0, false,
				"(mail=*)", nil, nil))
			if ldapCode(err) != ldap.LDAPResultSizeLimitExceeded && !errors.Is(err, ldap.ErrSizeLimitExceeded) {
				t.Errorf("size limit 2: %v, want sizeLimitExceeded", err)
			}
			if r == nil || len(r.Entries) != 2 {
				t.Errorf("size limit 2: got %v", r)
			}
			// Outside the base DN.
			_, err = c.Search(ldap.NewSearchRequest("dc=elsewhere", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
				"(mail=*)", nil, nil))
			if ldapCode(err) != ldap.LDAPResultNoSuchObject {
				t.Errorf("other base: %v, want noSuchObject", err)
			}
			// Read-only.
			if err := c.Del(ldap.NewDelRequest("mail=jean@annu.test,"+ldapBase, nil)); ldapCode(err) != ldap.LDAPResultUnwillingToPerform {
				t.Errorf("delete: %v, want unwillingToPerform", err)
			}
		})

		t.Run("visibility changes apply at once", func(t *testing.T) {
			ctx := context.Background()
			jean, err := n.Accounts.ByAddress(ctx, "jean@annu.test")
			ldapMust(t, err)
			helene, err := n.Accounts.ByAddress(ctx, "helene@annu.test")
			ldapMust(t, err)
			c := dialStartTLS(t, n, ca)
			ldapMust(t, c.Bind("helene@annu.test", testPassword))
			ldapMust(t, n.Accounts.SetVisibility(ctx, jean.ID, false, true))
			t.Cleanup(func() { n.Accounts.SetVisibility(ctx, jean.ID, true, true) })
			r, err := ldapSearch(c, "(|(mail=*jean*)(cn=*jean*)(givenName=*jean*)(sn=*jean*))")
			ldapMust(t, err)
			if got := ldapMails(r); !slices.Equal(got, []string{"jean.dupont@annu.test"}) {
				t.Errorf("after hiding jean@: %v", got)
			}
			_ = helene
			// A disabled account's session cannot search any more.
			ldapMust(t, n.Accounts.SetDisabled(ctx, "helene@annu.test", true))
			t.Cleanup(func() { n.Accounts.SetDisabled(ctx, "helene@annu.test", false) })
			if _, err := ldapSearch(c, "(mail=*)"); ldapCode(err) != ldap.LDAPResultInsufficientAccessRights {
				t.Errorf("search by a disabled account: %v", err)
			}
		})

		t.Run("device credential over LDAPS", func(t *testing.T) {
			ctx := context.Background()
			jean, err := n.Accounts.ByAddress(ctx, "jean@annu.test")
			ldapMust(t, err)
			dev := device.New(n.St)
			p, err := dev.StartPairing(ctx, jean.ID, "Thunderbird")
			ldapMust(t, err)
			paired, err := dev.Pair(ctx, p.Secret, "")
			ldapMust(t, err)
			c := dialLDAPS(t, n, ca)
			if err := c.Bind("jean@annu.test", paired.Credential); err != nil {
				t.Fatalf("bind with the device credential: %v", err)
			}
			r, err := ldapSearch(c, "(sn=Martin)")
			ldapMust(t, err)
			if got := ldapMails(r); !slices.Equal(got, []string{"helene@annu.test"}) {
				t.Errorf("mails = %v", got)
			}
			ldapMust(t, dev.Revoke(ctx, jean.ID, paired.Device.ID))
			c2 := dialLDAPS(t, n, ca)
			if err := c2.Bind("jean@annu.test", paired.Credential); ldapCode(err) != ldap.LDAPResultInvalidCredentials {
				t.Errorf("bind with a revoked credential: %v", err)
			}
		})

		t.Run("failed binds are throttled", func(t *testing.T) {
			c := dialStartTLS(t, n, ca)
			for i := 0; i < 10; i++ {
				if err := c.Bind("luc@annu.test", "wrong"); ldapCode(err) != ldap.LDAPResultInvalidCredentials {
					t.Fatalf("bad bind %d: %v", i, err)
				}
			}
			if err := c.Bind("luc@annu.test", testPassword); ldapCode(err) != ldap.LDAPResultUnwillingToPerform {
				t.Errorf("bind after 10 failures: %v, want unwillingToPerform", err)
			}
			recs, err := audit.List(context.Background(), n.St, audit.Filter{Kind: audit.KindLogin, Address: "luc@annu.test", Result: "throttled"})
			if err != nil || len(recs) == 0 {
				t.Errorf("throttled bind not audited: %v %v", recs, err)
			}
		})

		t.Run("malformed requests do not hurt the server", func(t *testing.T) {
			for _, junk := range [][]byte{
				[]byte("GET / HTTP/1.0\r\n\r\n"),     // not a BER SEQUENCE: the library would panic
				{0x30, 0x84, 0x7f, 0xff, 0xff, 0xff}, // announces 2 GiB
				{0x30, 0x83, 0x10, 0x00, 0x00},       // 1 MiB, over the limit
			} {
				raw, err := net.Dial("tcp", n.Addrs["ldap"])
				if err != nil {
					t.Fatal(err)
				}
				raw.Write(junk)
				raw.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, err := raw.Read(make([]byte, 10)); err == nil {
					t.Errorf("%q: the server answered instead of closing", junk)
				}
				raw.Close()
			}
			c := dialStartTLS(t, n, ca)
			if err := c.Bind("jean@annu.test", testPassword); err != nil {
				t.Fatalf("bind after junk: %v", err)
			}
		})

		t.Run("ldapsearch", func(t *testing.T) {
			ldapsearchTest(t, n, ca)
		})
	})
}

// ldapsearchTest runs Debian's ldapsearch (ldap-utils) with StartTLS
// required (-ZZ), trusting the test CA.
func ldapsearchTest(t *testing.T, n *testNode, ca *trust.TestCA) {
	bin, err := exec.LookPath("ldapsearch")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("ldapsearch (ldap-utils) is missing")
		}
		t.Skip("ldapsearch (ldap-utils) is not installed")
	}
	caFile := writeCABundle(t, ca)
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"-x", "-H", "ldap://" + n.Addrs["ldap"], "-o", "ldif-wrap=no"}, args...)...)
		cmd.Env = append(os.Environ(), "LDAPTLS_CACERT="+caFile, "LDAPTLS_REQCERT=demand", "LDAPCONF=/dev/null", "LDAPRC=/dev/null")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("-ZZ", "-D", "jean@annu.test", "-w", testPassword, "-b", ldapBase,
		"(|(mail=*mar*)(cn=*mar*)(givenName=*mar*)(sn=*mar*))", "mail", "cn", "sn", "givenName")
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	for _, want := range []string{"dn: mail=helene@annu.test," + ldapBase, "mail: helene@annu.test", "sn: Martin",
		"cn:: SMOpbMOobmUgTWFydGlu" /* base64 of « Hélène Martin » */} {
		if !strings.Contains(out, want) {
			t.Errorf("ldapsearch output lacks %q:\n%s", want, out)
		}
	}
	for _, h := range ldapHidden {
		if strings.Contains(out, h) {
			t.Errorf("ldapsearch returned hidden %s:\n%s", h, out)
		}
	}
	out, err = run("-ZZ", "-D", "jean@annu.test", "-w", testPassword, "-b", ldapBase, "(objectClass=inetOrgPerson)", "mail")
	if err != nil {
		t.Fatalf("ldapsearch: %v\n%s", err, out)
	}
	for _, h := range ldapHidden {
		if strings.Contains(out, h) {
			t.Errorf("ldapsearch returned hidden %s:\n%s", h, out)
		}
	}
	if !strings.Contains(out, "mail: jean.dupont@annu.test") {
		t.Errorf("ldapsearch lacks jean.dupont:\n%s", out)
	}
	// Wrong password: exit status 49.
	if out, err := run("-ZZ", "-D", "jean@annu.test", "-w", "wrong", "-b", ldapBase, "(mail=*)"); err == nil ||
		!strings.Contains(out, "Invalid credentials") {
		t.Errorf("ldapsearch with a wrong password: %v\n%s", err, out)
	}
}

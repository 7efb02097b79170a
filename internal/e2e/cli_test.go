package e2e

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCLIAndHealth checks the command line as an operator meets it: the
// documented settings, 'serve' honouring HYGIE_* overrides, /healthz, the
// generated certificate, admin commands beside the running server and
// their one-line errors, and 'demo' run twice.
func TestCLIAndHealth(t *testing.T) {
	n := newNode(t, "")

	t.Run("help documents settings", func(t *testing.T) {
		out := n.mustHygie("", "--help")
		for _, want := range []string{
			"data_dir", "HYGIE_DATA_DIR", "HYGIE_DATABASE", "HYGIE_HOSTNAME", "HYGIE_DOMAINS",
			"listen.web", "HYGIE_LISTEN_WEB", "HYGIE_LISTEN_SMTP", "HYGIE_LISTEN_SUBMISSION", "HYGIE_LISTEN_SUBMISSIONS",
			"HYGIE_LISTEN_IMAP", "HYGIE_LISTEN_IMAPS", "HYGIE_TLS_CERT", "HYGIE_TLS_KEY", "HYGIE_SMTP_MAX_MESSAGE_SIZE",
			"serve", "demo", "admin", "bench",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("hygie --help does not mention %s", want)
			}
		}
	})

	n.start()

	t.Run("listens where told", func(t *testing.T) {
		printed := printedListeners(t, n.log.String())
		for _, name := range []string{"web", "submission", "submissions", "smtp"} {
			if _, ok := printed[name]; !ok {
				t.Errorf("serve did not print the %s listener; printed %v", name, printed)
			}
		}
		for name, addr := range printed {
			if addr != n.addr[name] {
				t.Errorf("%s listens on %s, want %s (from %s)", name, addr, n.addr[name], listeners[name])
			}
		}
		if g := greeting(t, n.addr["submission"], false); !strings.HasPrefix(g, "220 ") {
			t.Errorf("submission greeting %q, want 220", g)
		}
		if g := greeting(t, n.addr["submissions"], true); !strings.HasPrefix(g, "220 ") {
			t.Errorf("submissions (implicit TLS) greeting %q, want 220", g)
		}
		if g := greeting(t, n.addr["smtp"], false); !strings.HasPrefix(g, "220 ") {
			t.Errorf("MX greeting %q, want 220", g)
		}
		// IMAP, once the server offers it (RFC 9051 §7.1.1 greeting).
		for name, implicit := range map[string]bool{"imap": false, "imaps": true} {
			if _, ok := printed[name]; !ok {
				continue
			}
			if g := greeting(t, n.addr[name], implicit); !strings.HasPrefix(g, "* OK") {
				t.Errorf("%s greeting %q, want * OK", name, g)
			}
		}
	})

	t.Run("healthz", func(t *testing.T) {
		resp, err := http.Get("http://" + n.addr["web"] + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != "ok\n" {
			t.Errorf("/healthz: %d %q, want 200 \"ok\\n\"", resp.StatusCode, body)
		}
	})

	t.Run("first start generates a certificate", func(t *testing.T) {
		cert, key := filepath.Join(n.dataDir, "tls", "cert.pem"), filepath.Join(n.dataDir, "tls", "key.pem")
		for _, f := range []string{cert, key} {
			if _, err := os.Stat(f); err != nil {
				t.Errorf("%v", err)
			}
		}
		if _, err := tls.LoadX509KeyPair(cert, key); err != nil {
			t.Errorf("generated certificate does not load: %v", err)
		}
	})

	t.Run("admin while serving", func(t *testing.T) {
		n.setupAccounts()
		n.mustHygie("", "admin", "box", "create", "--structure", testStructure, "--address", "secretariat@hygie.localhost",
			"--mss", "secretariat@service.hygie.localhost", "--name", "Secrétariat")
		n.mustHygie("", "admin", "box", "member", "add", "secretariat@hygie.localhost", alice)
		list := n.mustHygie("", "admin", "account", "list")
		for _, want := range []string{alice, bob, "secretariat@hygie.localhost"} {
			if !strings.Contains(list, want) {
				t.Errorf("account list lacks %s:\n%s", want, list)
			}
		}
		if !strings.Contains(n.mustHygie("", "admin", "box", "list"), alice) {
			t.Errorf("box list does not show member %s", alice)
		}
	})

	t.Run("admin errors", func(t *testing.T) {
		person := func(structure, addr string) []string {
			return []string{"admin", "account", "create", "--structure", structure, "--type", "PER",
				"--address", addr, "--first", "Claire", "--last", "Petit"}
		}
		for _, c := range []struct {
			name string
			args []string
			want string
		}{
			{"duplicate structure", []string{"admin", "structure", "create", "--name", testStructure}, "already exists"},
			{"unknown structure", person("Nulle Part", "claire.petit@hygie.localhost"), "not found"},
			{"malformed address", person(testStructure, "claire petit@@hygie"), "address"},
			{"duplicate address", person(testStructure, alice), "already exists"},
			{"unknown box member", []string{"admin", "box", "member", "add", "secretariat@hygie.localhost", "personne@hygie.localhost"}, "not found"},
		} {
			t.Run(c.name, func(t *testing.T) {
				r := n.hygie("", c.args...)
				reason := strings.TrimRight(r.stderr, "\n")
				switch {
				case r.code == 0:
					t.Errorf("exit 0, want non-zero (stdout %q)", r.stdout)
				case strings.Contains(reason, "\n") || !strings.HasPrefix(reason, "hygie: "):
					t.Errorf("stderr %q, want one line starting with \"hygie: \"", r.stderr)
				case !strings.Contains(reason, c.want):
					t.Errorf("reason %q does not say %q", reason, c.want)
				}
			})
		}
	})

	t.Run("demo twice", func(t *testing.T) { testDemoTwice(t) })
}

// testDemoTwice runs 'hygie demo' twice on one data directory: both runs
// print the logins, the accounts exist once, and a printed login works.
func testDemoTwice(t *testing.T) {
	d := newNode(t, "")
	logins := []string{"jean.dupont@hygie.localhost", "marie.martin@hygie.localhost", "cardiologie@hygie.localhost"}
	for run := 1; run <= 2; run++ {
		before := len(d.log.String())
		d.start("demo")
		out := d.log.String()[before:]
		for _, l := range logins {
			if !strings.Contains(out, l) {
				t.Errorf("demo run %d does not print %s:\n%s", run, l, out)
			}
		}
		if run == 2 {
			// The doctor logs in with the printed password.
			if !strings.Contains(out, `"hygie-demo-2026"`) {
				t.Errorf("demo run 2 does not print the password:\n%s", out)
			}
			c, err := dialSubmission(d.addr["submission"], logins[0], "hygie-demo-2026")
			if err != nil {
				t.Errorf("demo doctor cannot log in: %v", err)
			} else {
				c.Quit()
			}
		}
		d.stop()
		if code := d.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("demo run %d exited %d after SIGTERM, want 0", run, code)
		}
	}
	list := d.mustHygie("", "admin", "account", "list")
	for _, l := range logins {
		if c := strings.Count(list, l+" "); c != 1 {
			t.Errorf("%s listed %d times after two demo runs, want 1:\n%s", l, c, list)
		}
	}
	if c := len(strings.Split(strings.TrimSpace(list), "\n")) - 1; c != len(logins) {
		t.Errorf("%d accounts after two demo runs, want %d:\n%s", c, len(logins), list)
	}
	if c := strings.Count(d.mustHygie("", "admin", "structure", "list"), "démonstration"); c != 1 {
		t.Errorf("demo structure listed %d times, want 1", c)
	}
}

// printedListeners parses the "  name  addr  (…)" lines that 'serve'
// prints once listening.
func printedListeners(t *testing.T, out string) map[string]string {
	t.Helper()
	got := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		_, line, _ := strings.Cut(sc.Text(), "] ")
		f := strings.Fields(line)
		if len(f) < 2 || listeners[f[0]] == "" {
			continue
		}
		addr := strings.TrimSuffix(strings.TrimPrefix(f[1], "http://"), "/")
		got[f[0]] = addr
	}
	return got
}

// greeting connects to addr (with TLS from the start when implicit) and
// returns the server's first line.
func greeting(t *testing.T, addr string, implicit bool) string {
	t.Helper()
	var c net.Conn
	var err error
	d := &net.Dialer{Timeout: 5 * time.Second}
	if implicit {
		c, err = tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true})
	} else {
		c, err = d.Dial("tcp", addr)
	}
	if err != nil {
		t.Errorf("connect %s: %v", addr, err)
		return ""
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		t.Errorf("read greeting of %s: %v", addr, err)
	}
	return strings.TrimRight(line, "\r\n")
}

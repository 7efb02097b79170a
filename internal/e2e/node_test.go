package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// listeners are the listener names of a node, as 'hygie serve' prints them,
// with the setting that places each one.
var listeners = map[string]string{
	"web":         "HYGIE_LISTEN_WEB",
	"submission":  "HYGIE_LISTEN_SUBMISSION",
	"submissions": "HYGIE_LISTEN_SUBMISSIONS",
	"smtp":        "HYGIE_LISTEN_SMTP",
	"imap":        "HYGIE_LISTEN_IMAP",
	"imaps":       "HYGIE_LISTEN_IMAPS",
	"ldap":        "HYGIE_LISTEN_LDAP",
	"ldaps":       "HYGIE_LISTEN_LDAPS",
}

// node is one hygie server under test: its settings, data directory and
// loopback ports and, while it runs, its process. Admin commands run with
// the same settings.
type node struct {
	t       *testing.T
	bin     string
	dataDir string
	// database is HYGIE_DATABASE; empty means SQLite in dataDir.
	database string
	addr     map[string]string
	extra    []string
	// started is set once the node ran: its ports are then fixed.
	started bool

	cmd    *exec.Cmd
	exited chan struct{}
	log    *lockedBuffer
}

// newNode prepares a node on free loopback ports with a fresh data
// directory; extra are more HYGIE_*=value settings. It does not start it.
func newNode(t *testing.T, database string, extra ...string) *node {
	t.Helper()
	n := &node{t: t, bin: hygieBinary(t), dataDir: filepath.Join(t.TempDir(), "data"), database: database,
		addr: map[string]string{}, extra: extra, log: &lockedBuffer{}}
	n.pickPorts()
	t.Cleanup(func() {
		if n.running() {
			n.stop()
		}
		if t.Failed() {
			t.Logf("server output:\n%s", n.log.String())
		}
	})
	return n
}

// pickPorts gives every listener a free loopback port.
func (n *node) pickPorts() {
	ports := freePorts(n.t, len(listeners))
	i := 0
	for name := range listeners {
		n.addr[name] = ports[i]
		i++
	}
}

// freePorts returns n distinct free 127.0.0.1 addresses.
func freePorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	var ls []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("free port: %v", err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

// env is the environment of the node's processes: this process's, without
// any HYGIE_* variable, plus the node's settings.
func (n *node) env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "HYGIE_") {
			env = append(env, kv)
		}
	}
	env = append(env, "HYGIE_DATA_DIR="+n.dataDir)
	if n.database != "" {
		env = append(env, "HYGIE_DATABASE="+n.database)
	}
	for name, v := range listeners {
		env = append(env, v+"="+n.addr[name])
	}
	return append(env, n.extra...)
}

// dsn is the node's database as HYGIE_DATABASE would name it.
func (n *node) dsn() string {
	if n.database != "" {
		return n.database
	}
	return "sqlite:" + filepath.Join(n.dataDir, "hygie.db")
}

// start runs 'hygie ARGS' (serve when none) and waits until it has bound
// every listener and /healthz answers ok. When a first start finds a port
// taken (by another test between freePorts and the bind), it tries again
// on new ports.
func (n *node) start(args ...string) {
	n.t.Helper()
	if len(args) == 0 {
		args = []string{"serve"}
	}
	for attempt := 1; ; attempt++ {
		err := n.tryStart(args)
		if err == nil {
			n.started = true
			return
		}
		if n.started || attempt == 3 || !strings.Contains(n.log.String(), "address already in use") {
			n.t.Fatalf("hygie %s: %v", strings.Join(args, " "), err)
		}
		n.pickPorts()
	}
}

// tryStart starts the process and waits for it to be ready.
func (n *node) tryStart(args []string) error {
	n.cmd = exec.Command(n.bin, args...)
	n.cmd.Env = n.env()
	w := &prefixWriter{w: n.log, prefix: "[" + strings.Join(args, " ") + "] "}
	n.cmd.Stdout, n.cmd.Stderr = w, w
	dieWithParent(n.cmd)
	from := len(n.log.String())
	if err := n.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	n.exited = exited
	go func(c *exec.Cmd) { c.Wait(); close(exited) }(n.cmd)
	return n.waitReady(from, 20*time.Second)
}

// waitReady waits until the process printed that it runs (it does once
// every listener is bound, so the ports are its own) and /healthz answers
// 200 "ok"; from is where its output starts in the log.
func (n *node) waitReady(from int, timeout time.Duration) error {
	url := "http://" + n.addr["web"] + "/healthz"
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	var err error
	for {
		select {
		case <-n.exited:
			return fmt.Errorf("exited before answering %s (%v)", url, n.cmd.ProcessState)
		default:
		}
		if strings.Contains(n.log.String()[from:], "Hygie is running") {
			var resp *http.Response
			if resp, err = client.Get(url); err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && strings.TrimSpace(string(body)) == "ok" {
					return nil
				}
				err = fmt.Errorf("%s: %d %q", url, resp.StatusCode, body)
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready within %s (last error: %v)", timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (n *node) running() bool {
	if n.exited == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// stop sends SIGTERM and waits for the process to end.
func (n *node) stop() {
	n.t.Helper()
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(15 * time.Second):
		n.cmd.Process.Kill()
		<-n.exited
		n.t.Errorf("hygie did not stop within 15 s of SIGTERM")
	}
}

// kill sends SIGKILL: the process ends at once, without any clean-up.
func (n *node) kill() { n.cmd.Process.Kill() }

// waitExit waits for the process to end after kill.
func (n *node) waitExit() {
	n.t.Helper()
	select {
	case <-n.exited:
	case <-time.After(15 * time.Second):
		n.t.Fatalf("hygie still running 15 s after SIGKILL")
	}
}

// result is the outcome of one command.
type result struct {
	stdout, stderr string
	code           int
}

// hygie runs one command of the binary with the node's settings and stdin.
func (n *node) hygie(stdin string, args ...string) result {
	n.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, n.bin, args...)
	cmd.Env = n.env()
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		n.t.Fatalf("hygie %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustHygie runs a command that must succeed and returns its stdout.
func (n *node) mustHygie(stdin string, args ...string) string {
	n.t.Helper()
	r := n.hygie(stdin, args...)
	if r.code != 0 {
		n.t.Fatalf("hygie %s: exit %d: %s%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// Test accounts, all in the platform's default domain.
const (
	testStructure = "Centre E2E"
	testPassword  = "e2e-password-2026"
	alice         = "alice.martin@hygie.localhost"
	bob           = "bob.durand@hygie.localhost"
)

// setupAccounts creates the test structure and two PER accounts, alice
// (the sender) and bob (the recipient), both with testPassword.
func (n *node) setupAccounts() {
	n.t.Helper()
	n.mustHygie("", "admin", "structure", "create", "--name", testStructure)
	for _, a := range []struct{ login, first, last string }{{alice, "Alice", "Martin"}, {bob, "Bob", "Durand"}} {
		n.mustHygie("", "admin", "account", "create", "--structure", testStructure, "--type", "PER",
			"--address", a.login, "--first", a.first, "--last", a.last)
		n.mustHygie(testPassword+"\n", "admin", "account", "password", a.login)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// prefixWriter writes to w, starting each line with prefix.
type prefixWriter struct {
	w      io.Writer
	prefix string
	mid    bool
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	var out bytes.Buffer
	for _, c := range b {
		if !p.mid {
			out.WriteString(p.prefix)
			p.mid = true
		}
		out.WriteByte(c)
		if c == '\n' {
			p.mid = false
		}
	}
	if _, err := p.w.Write(out.Bytes()); err != nil {
		return 0, err
	}
	return len(b), nil
}

package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestMetricsReadyzAndJSONLogs runs 'hygie serve' with log_format = json,
// makes traffic (a delivery, a queued remote delivery, a failed and a good
// login) and checks /readyz, the Prometheus metrics, and that every line
// the server wrote is a JSON object.
func TestMetricsReadyzAndJSONLogs(t *testing.T) {
	n := newNode(t, "", "HYGIE_LOG_FORMAT=json", "HYGIE_TRUST_DOMAINS=remote.test", "HYGIE_ROUTES=remote.test=127.0.0.1:9")
	n.start()
	n.setupAccounts()
	base := "http://" + n.addr["web"]

	if code, body := httpGet(t, base+"/readyz"); code != 200 || strings.TrimSpace(body) != "ready" {
		t.Errorf("/readyz: %d %q, want 200 ready", code, body)
	}
	if _, err := dialSubmission(n.addr["submission"], alice, "wrong password"); err == nil {
		t.Fatal("submission login with a wrong password succeeded")
	}
	c, err := dialSubmission(n.addr["submission"], alice, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	if err := send(c, alice, bob, testMessage(alice, bob, newMessageID("metrics"), "Métriques")); err != nil {
		t.Fatal(err)
	}
	if err := send(c, alice, "carol@remote.test", testMessage(alice, "carol@remote.test", newMessageID("metrics-remote"), "Dehors")); err != nil {
		t.Fatal(err)
	}
	c.Close()
	resp, err := http.PostForm(base+"/connexion", url.Values{"login": {bob}, "password": {"faux"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	// The remote attempt (to a closed port) is timed once it ran.
	var metrics string
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, metrics = httpGet(t, base+"/metrics")
		if strings.Contains(metrics, `hygie_job_duration_seconds_count{kind="remote"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, want := range []string{
		`hygie_messages_in_total{outcome="accepted",source="submission"} 2`,
		`hygie_delivery_duration_seconds_count{source="submission"} 2`,
		`hygie_logins_total{protocol="web",result="failed"} 1`,
		`hygie_queue_jobs{kind="remote"} 1`,
		`hygie_queue_oldest_job_age_seconds{kind="remote"}`,
		`hygie_job_duration_seconds_count{kind="remote"`,
		`hygie_messages_out_total{outcome="deferred",route="remote"} 1`,
		`hygie_http_request_duration_seconds_count{code="2xx",method="GET",route="/readyz"} 1`,
		`hygie_http_request_duration_seconds_count{code="4xx",method="POST",route="/connexion"} 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if !t.Failed() {
		var failedSub bool
		for _, l := range strings.Split(metrics, "\n") {
			if strings.HasPrefix(l, "hygie_logins_total{") && strings.Contains(l, `result="failed"`) && !strings.Contains(l, `protocol="web"`) {
				failedSub = true
			}
		}
		if !failedSub {
			t.Errorf("/metrics counts no failed submission login:\n%s", grepLines(metrics, "hygie_logins_total"))
		}
	}
	n.stop()

	lines := 0
	for _, l := range strings.Split(n.log.String(), "\n") {
		l = strings.TrimPrefix(l, "[serve] ")
		if l == "" || strings.HasPrefix(l, "[") {
			continue // admin commands' own output
		}
		lines++
		var v map[string]any
		if err := json.Unmarshal([]byte(l), &v); err != nil {
			t.Errorf("log line is not JSON: %q", l)
			continue
		}
		if v["msg"] == nil || v["level"] == nil || v["time"] == nil {
			t.Errorf("log line lacks time, level or msg: %q", l)
		}
	}
	if lines < 5 {
		t.Errorf("only %d log lines from hygie serve", lines)
	}
}

func grepLines(s, prefix string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func httpGet(t *testing.T, u string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestGracefulShutdown sends SIGTERM while a message is being transferred
// (DATA begun, not ended) and while another client sits idle: the listener
// stops accepting, the message in flight is still accepted with 250 and
// stored, /readyz is no longer ready, and the process ends within
// shutdown_timeout although the idle session never quits.
func TestGracefulShutdown(t *testing.T) {
	n := newNode(t, "", "HYGIE_SHUTDOWN_TIMEOUT=4s")
	n.start()
	n.setupAccounts()

	idle, err := dialSubmission(n.addr["submission"], bob, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	c, err := dialSubmission(n.addr["submission"], alice, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	id := newMessageID("graceful")
	msg := testMessage(alice, bob, id, "Pendant l'arrêt")
	if err := c.Mail(alice, nil); err != nil {
		t.Fatal(err)
	}
	if err := c.Rcpt(bob, nil); err != nil {
		t.Fatal(err)
	}
	w, err := c.Data()
	if err != nil {
		t.Fatal(err)
	}
	half := len(msg) / 2
	if _, err := w.Write(msg[:half]); err != nil {
		t.Fatal(err)
	}

	stopped := time.Now()
	n.cmd.Process.Signal(syscall.SIGTERM)
	// New connections are refused once the listeners are closed.
	deadline := time.Now().Add(3 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", n.addr["submission"], time.Second)
		if err != nil {
			break
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatal("the submission listener still accepts connections 3 s after SIGTERM")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if _, err := w.Write(msg[half:]); err != nil {
		t.Fatalf("rest of DATA after SIGTERM: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("message in flight at SIGTERM was not accepted: %v", err)
	}
	c.Quit()

	select {
	case <-n.exited:
	case <-time.After(15 * time.Second):
		n.kill()
		t.Fatal("hygie did not stop within 15 s of SIGTERM")
	}
	took := time.Since(stopped)
	t.Logf("stopped %s after SIGTERM (shutdown_timeout 4s, one idle session)", took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("stop took %s, beyond shutdown_timeout", took)
	}
	if st := n.cmd.ProcessState; st == nil || !st.Success() {
		t.Errorf("hygie exited with %v after SIGTERM, want 0", st)
	}
	if got := n.folderCounts(n.openDB(), bob, "INBOX")[id]; got != 1 {
		t.Errorf("message accepted during the stop is %d times in INBOX, want 1", got)
	}
}

// TestBackupUnderLoadAndRestore takes 'hygie admin backup' while clients
// submit mail, restores it into a new data directory as the README says,
// starts a node on it and checks that every message acknowledged before the
// backup began is there, and that the restored counts are the backup's.
func TestBackupUnderLoadAndRestore(t *testing.T) {
	n := newNode(t, "")
	n.start()
	n.setupAccounts()

	type ack struct {
		id string
		at time.Time
	}
	var mu sync.Mutex
	var acks []ack
	var stop atomic.Bool
	var wg sync.WaitGroup
	var seq atomic.Int64
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := dialSubmission(n.addr["submission"], alice, testPassword)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for !stop.Load() {
				id := newMessageID(fmt.Sprintf("backup-%d", seq.Add(1)))
				if err := send(c, alice, bob, testMessage(alice, bob, id, "Sous charge")); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acks = append(acks, ack{id, time.Now()})
				mu.Unlock()
			}
		}()
	}
	// Let the load run, then back up in the middle of it.
	for {
		mu.Lock()
		k := len(acks)
		mu.Unlock()
		if k >= 100 || t.Failed() {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	backupStart := time.Now()
	dir := filepath.Join(t.TempDir(), "backup")
	out := n.mustHygie("", "admin", "backup", "--to", dir)
	backupEnd := time.Now()
	time.Sleep(200 * time.Millisecond) // more load after the backup
	stop.Store(true)
	wg.Wait()
	t.Logf("backup:\n%s", out)
	mu.Lock()
	var before, during int
	for _, a := range acks {
		if a.at.Before(backupStart) {
			before++
		} else if a.at.Before(backupEnd) {
			during++
		}
	}
	mu.Unlock()
	t.Logf("%d messages acknowledged before the backup, %d during it, %d in all", before, during, len(acks))
	if during == 0 {
		t.Logf("no message was acknowledged while the backup ran")
	}
	n.stop()
	for _, f := range []string{"hygie.db", "tls/cert.pem", "tls/key.pem"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("backup lacks %s: %v", f, err)
		}
	}
	if r := n.hygie("", "admin", "backup", "--to", dir); r.code == 0 {
		t.Errorf("a backup into a non-empty directory succeeded")
	}

	// Restore as documented: a new data directory, hygie.db and tls/ copied.
	r := newNode(t, "")
	if err := os.MkdirAll(filepath.Join(r.dataDir, "tls"), 0o700); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"hygie.db", "tls/cert.pem", "tls/key.pem"} {
		copyFileT(t, filepath.Join(dir, f), filepath.Join(r.dataDir, f))
	}
	backupCounts := tableCounts(t, openSQLite(t, filepath.Join(dir, "hygie.db")))
	r.start()
	db := r.openDB()
	restored := tableCounts(t, db)
	for table, c := range backupCounts {
		if restored[table] != c {
			t.Errorf("table %s: %d rows restored, %d in the backup", table, restored[table], c)
		}
	}
	inbox, sent := r.folderCounts(db, bob, "INBOX"), r.folderCounts(db, alice, "Sent")
	mu.Lock()
	missing := 0
	for _, a := range acks {
		if a.at.Before(backupStart) && (inbox[a.id] != 1 || sent[a.id] != 1) {
			missing++
			if missing < 5 {
				t.Errorf("message %s acknowledged before the backup: %d in INBOX, %d in Sent after restore", a.id, inbox[a.id], sent[a.id])
			}
		}
	}
	mu.Unlock()
	if missing > 0 {
		t.Errorf("%d messages acknowledged before the backup are missing after the restore", missing)
	}
	for id, c := range inbox {
		if c != 1 || sent[id] != 1 {
			t.Errorf("restored message %s is half there: %d in INBOX, %d in Sent", id, c, sent[id])
		}
	}
	t.Logf("restored: %d messages in INBOX (%d acknowledged before the backup)", len(inbox), before)
	// The restored node works: bob logs in and mail flows.
	c, err := dialSubmission(r.addr["submission"], alice, testPassword)
	if err != nil {
		t.Fatalf("restored node: %v", err)
	}
	defer c.Close()
	after := newMessageID("after-restore")
	if err := send(c, alice, bob, testMessage(alice, bob, after, "Après restauration")); err != nil {
		t.Fatalf("restored node: %v", err)
	}
}

func copyFileT(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func openSQLite(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// tableCounts counts the rows of every table of a SQLite database.
func tableCounts(t *testing.T, db *sql.DB) map[string]int64 {
	t.Helper()
	rows, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for rows.Next() {
		var s string
		rows.Scan(&s)
		names = append(names, s)
	}
	rows.Close()
	out := map[string]int64{}
	for _, name := range names {
		var c int64
		if err := db.QueryRow(`SELECT COUNT(*) FROM "` + name + `"`).Scan(&c); err != nil {
			t.Fatal(err)
		}
		out[name] = c
	}
	return out
}

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestDefaults(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "./hygie-data" || c.Database != "sqlite:hygie-data/hygie.db" {
		t.Fatalf("data_dir %q database %q", c.DataDir, c.Database)
	}
	for name, addr := range map[string]string{"web": c.Listen.Web, "smtp": c.Listen.SMTP, "submission": c.Listen.Submission, "imap": c.Listen.IMAP} {
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Errorf("listen.%s = %q, want loopback", name, addr)
		}
	}
	if c.SMTP.MaxMessageSize != 20<<20 {
		t.Errorf("max size %d, want 20 MiB", c.SMTP.MaxMessageSize)
	}
	if c.TLS.Cert != filepath.Join("hygie-data", "tls", "cert.pem") {
		t.Errorf("tls.cert %q", c.TLS.Cert)
	}
}

func TestFileThenEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hygie.toml")
	os.WriteFile(path, []byte(`
data_dir = "/srv/hygie"
database = "postgres://hygie@db.example/hygie"
domains = ["a.example", "B.example"]
[listen]
web = "127.0.0.1:9000"
smtp = "127.0.0.1:2600"
[queue]
retry_for = "2h"
[routes]
"peer.example" = "127.0.0.1:2700"
`), 0o600)
	c, err := Load(path, []string{"HYGIE_LISTEN_WEB=127.0.0.1:9100", "HYGIE_LISTEN_IMAP=", "HYGIE_DOMAINS=x.example, y.example",
		"HYGIE_QUEUE_INITIAL_BACKOFF=5s", "HYGIE_SMTP_MAX_MESSAGE_SIZE=1000", "OTHER=1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.DataDir != "/srv/hygie" || c.Database != "postgres://hygie@db.example/hygie" {
		t.Errorf("file values lost: %q %q", c.DataDir, c.Database)
	}
	if c.Listen.Web != "127.0.0.1:9100" || c.Listen.SMTP != "127.0.0.1:2600" || c.Listen.IMAP != "" {
		t.Errorf("listen = %+v", c.Listen)
	}
	if strings.Join(c.Domains, ",") != "x.example,y.example" {
		t.Errorf("domains = %v", c.Domains)
	}
	if c.Queue.RetryFor.Duration != 2*time.Hour || c.Queue.InitialBackoff.Duration != 5*time.Second || c.SMTP.MaxMessageSize != 1000 {
		t.Errorf("queue/smtp = %+v %+v", c.Queue, c.SMTP)
	}
	if c.Routes["peer.example"] != "127.0.0.1:2700" {
		t.Errorf("routes = %v", c.Routes)
	}
	if c.TLS.Cert != "/srv/hygie/tls/cert.pem" {
		t.Errorf("tls.cert = %q", c.TLS.Cert)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := map[string]string{
		"unknown key":      `nope = 1`,
		"bad database":     `database = "mysql://x"`,
		"bad listen":       "[listen]\nweb = \"nowhere\"",
		"bad duration":     "[queue]\nretry_for = \"soon\"",
		"malformed":        `data_dir = `,
		"key without cert": "[tls]\nkey = \"/k.pem\"",
	}
	for name, body := range bad {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "_")+".toml")
		os.WriteFile(path, []byte(body), 0o600)
		if _, err := Load(path, nil); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := Load("", []string{"HYGIE_SMTP_MAX_MESSAGE_SIZE=big"}); err == nil {
		t.Error("bad environment number accepted")
	}
	if _, err := Load(filepath.Join(dir, "missing.toml"), nil); err == nil {
		t.Error("missing file accepted")
	}
}

func TestHelpListsEverySetting(t *testing.T) {
	h := Help()
	for _, want := range []string{"HYGIE_DATA_DIR", "HYGIE_DATABASE", "HYGIE_LISTEN_WEB", "HYGIE_LISTEN_SMTP",
		"HYGIE_LISTEN_SUBMISSION", "HYGIE_LISTEN_IMAP", "listen.web", "trust.whitelist"} {
		if !strings.Contains(h, want) {
			t.Errorf("help lacks %s", want)
		}
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := Load("", []string{"HYGIE_TRUSTED_PROXIES=127.0.0.1, 10.1.2.0/24 ,::1"})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := c.ProxyPrefixes()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	if strings.Join(got, " ") != "127.0.0.1/32 10.1.2.0/24 ::1/128" {
		t.Fatalf("trusted proxies %v", got)
	}
	for _, bad := range []string{"proxy.example", "10.0.0.0/99"} {
		if _, err := Load("", []string{"HYGIE_TRUSTED_PROXIES=" + bad}); err == nil || !strings.Contains(err.Error(), "trusted_proxies") {
			t.Errorf("%q: %v; want a trusted_proxies error", bad, err)
		}
		if _, err := Load("", []string{"HYGIE_PROXY_PROTOCOL=" + bad}); err == nil || !strings.Contains(err.Error(), "proxy_protocol") {
			t.Errorf("%q: %v; want a proxy_protocol error", bad, err)
		}
	}
	c, err = Load("", []string{"HYGIE_PROXY_PROTOCOL=127.0.0.1,::ffff:127.0.0.0/104"})
	if err != nil {
		t.Fatal(err)
	}
	if ps, err := c.ProxyProtocolPrefixes(); err != nil || len(ps) != 2 || ps[0].String() != "127.0.0.1/32" || ps[1].String() != "127.0.0.0/8" {
		t.Fatalf("proxy_protocol %v %v", ps, err)
	}
}

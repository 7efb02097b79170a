// Package config owns Hygie's settings: their defaults, the TOML file and the
// HYGIE_<KEY> environment overrides.
package config

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration of a hygie node. Every field can be set
// in the TOML file by its key (dotted for nested tables) and overridden by the
// environment variable HYGIE_<KEY> with dots turned into underscores, for
// example listen.web → HYGIE_LISTEN_WEB.
type Config struct {
	// DataDir holds the SQLite database, generated certificates and other state.
	DataDir string `toml:"data_dir" doc:"data directory (default ./hygie-data)"`
	// Database is "sqlite:PATH" or a postgres:// URL; empty means
	// sqlite:<data_dir>/hygie.db.
	Database string `toml:"database" doc:"sqlite:PATH or postgres://… URL (default sqlite:<data_dir>/hygie.db)"`
	// PlatformName is the name shown to users (SPEC: « Medimail » in the guide).
	PlatformName string `toml:"platform_name" doc:"name of the platform shown to users (default Hygie)"`
	// Hostname is this node's public host name, used in SMTP greetings,
	// Received headers and generated Message-IDs.
	Hostname string `toml:"hostname" doc:"public host name (default localhost)"`
	// Domains are the mail domains hosted here; an unknown address in one of
	// them is refused as unknown rather than routed.
	Domains []string `toml:"domains" doc:"mail domains hosted by this platform (comma-separated in the environment)"`
	// SupportURL is the « Centre De Services » link.
	SupportURL string `toml:"support_url" doc:"support link shown to users"`
	// PublicURL is the base of every link in a mail (password reset,
	// notifications); empty means http://<listen.web>.
	PublicURL string `toml:"public_url" doc:"base URL of the web application in mails (default http://<listen.web>)"`
	// Smarthost relays mail to the outside world (notifications, password
	// resets): host:port, STARTTLS unless on loopback.
	Smarthost         string `toml:"smarthost" doc:"host:port relaying notifications and password-reset mail to the outside world"`
	SmarthostUser     string `toml:"smarthost_user" doc:"smarthost AUTH PLAIN user (optional)"`
	SmarthostPassword string `toml:"smarthost_password" doc:"smarthost AUTH PLAIN password"`
	// NotifyFrom is the sender of notifications (default no-reply@<first domain>).
	NotifyFrom string `toml:"notify_from" doc:"sender address of notifications (default no-reply@<first domain>)"`
	// DigestTime is when the daily notification goes out, HH:MM in
	// Europe/Paris (the platform's days are French days).
	DigestTime string `toml:"digest_time" doc:"time of the daily notification, HH:MM Europe/Paris (default 18:00)"`
	// LogFormat is "text" (default) or "json": one JSON object per log line.
	LogFormat string `toml:"log_format" doc:"log format: text (default) or json (one JSON object per line)"`
	// TrustedProxies are the addresses (IPs or CIDR prefixes) of the HTTP
	// load balancers or reverse proxies in front of the web listener: from
	// them, the client's address is taken from X-Forwarded-For, for the
	// login throttles and the audit trail.
	TrustedProxies []string `toml:"trusted_proxies" doc:"IPs or CIDR prefixes of the HTTP load balancers in front of the web listener, whose X-Forwarded-For is believed (comma-separated in the environment)"`
	// ProxyProtocol are the addresses (IPs or CIDR prefixes) of the TCP
	// load balancers in front of the SMTP, submission, IMAP and LDAP
	// listeners: their connections must begin with a PROXY protocol header
	// (version 1 or 2) naming the client.
	ProxyProtocol []string `toml:"proxy_protocol" doc:"IPs or CIDR prefixes of the TCP load balancers in front of the mail and LDAP listeners, whose connections begin with a PROXY protocol header (comma-separated in the environment)"`
	// ShutdownTimeout bounds a graceful stop: sessions and requests in
	// flight get this long to finish once the listeners stop accepting.
	ShutdownTimeout Duration `toml:"shutdown_timeout" doc:"how long a stop (SIGTERM) waits for sessions in flight (default 30s)"`

	// LDAPBaseDN is the base DN of the LDAP address book; entries are
	// mail=<address>,<base DN>.
	LDAPBaseDN string `toml:"ldap_base_dn" doc:"base DN of the LDAP address book (default ou=annuaire,dc=<first domain, dots → dc=>)"`

	// FeedToken is the bearer token of the national publication feed
	// (/api/annuaire/v1/changes); empty turns the feed off.
	FeedToken string `toml:"feed_token" doc:"bearer token of the directory publication feed /api/annuaire/v1/changes (empty: feed off)"`

	Listen Listen `toml:"listen"`
	TLS    TLS    `toml:"tls"`
	Trust  Trust  `toml:"trust"`
	SMTP   SMTP   `toml:"smtp"`
	Queue  Queue  `toml:"queue"`
	// OIDC configures the login modes « Carte CPS / e-CPS » and « PASS ».
	OIDC OIDC `toml:"oidc"`
	// Routes maps a recipient domain to a static next hop "host:port",
	// bypassing the MX lookup.
	Routes map[string]string `toml:"routes" doc:"static next hops, domain=host:port (comma-separated in the environment)"`
}

// Listen holds the listen address of each listener; an empty address
// disables the listener.
type Listen struct {
	Web         string `toml:"web" doc:"web application and /healthz"`
	SMTP        string `toml:"smtp" doc:"operator MX (SMTP from other MSSanté operators, STARTTLS + client certificate)"`
	Submission  string `toml:"submission" doc:"SMTP submission with STARTTLS"`
	Submissions string `toml:"submissions" doc:"SMTP submission with implicit TLS"`
	IMAP        string `toml:"imap" doc:"IMAP with STARTTLS"`
	IMAPS       string `toml:"imaps" doc:"IMAP with implicit TLS"`
	LDAP        string `toml:"ldap" doc:"LDAP address book (read-only) with StartTLS"`
	LDAPS       string `toml:"ldaps" doc:"LDAP address book (read-only) with implicit TLS"`
}

// TLS names this node's certificate; both empty means a self-signed
// certificate generated in the data directory on first start.
type TLS struct {
	Cert string `toml:"cert" doc:"PEM certificate chain (default <data_dir>/tls/cert.pem, generated)"`
	Key  string `toml:"key" doc:"PEM private key (default <data_dir>/tls/key.pem, generated)"`
	// WebTLS forces HTTPS on the web listener; it is always on when the web
	// listener is not on a loopback address.
	WebTLS bool `toml:"web_tls" doc:"serve the web listener over HTTPS even on loopback"`
}

// Trust configures the MSSanté trust space.
type Trust struct {
	// CABundle verifies peers' certificates (IGC-Santé in production).
	CABundle string `toml:"ca_bundle" doc:"PEM bundle of the CAs that sign operators' certificates"`
	// Whitelist is the liste blanche, a file path or an http(s) URL.
	Whitelist string `toml:"whitelist" doc:"liste blanche XML: file path or URL"`
	// Refresh is how often the whitelist is reloaded.
	Refresh Duration `toml:"refresh" doc:"whitelist refresh period (default 1h)"`
	// Domains are extra trusted operator domains, added to the whitelist.
	Domains []string `toml:"domains" doc:"extra MSSanté operator domains (comma-separated in the environment)"`
}

// SMTP holds message-size and protocol limits.
type SMTP struct {
	MaxMessageSize int64 `toml:"max_message_size" doc:"largest accepted message in bytes (default 20 MiB)"`
	MaxRecipients  int   `toml:"max_recipients" doc:"recipients per message (default 100)"`
}

// Queue configures outbound delivery retries.
type Queue struct {
	RetryFor       Duration `toml:"retry_for" doc:"how long a remote delivery is retried before a DSN (default 120h)"`
	InitialBackoff Duration `toml:"initial_backoff" doc:"first retry delay, doubled each time (default 1m)"`
	MaxBackoff     Duration `toml:"max_backoff" doc:"longest retry delay (default 1h)"`
	Workers        int      `toml:"workers" doc:"concurrent job workers (default 8)"`
	PollInterval   Duration `toml:"poll_interval" doc:"how often idle workers look for due jobs (default 1s)"`
	Lease          Duration `toml:"lease" doc:"how long a claimed job is reserved to its node; the node renews it every third of it while the job runs, and a job of a node that died runs again elsewhere once it ends (default 5m)"`
}

// OIDC configures the OpenID Connect login modes (SPEC §2, Identifiants de
// connexion B; §5 Pro Santé Connect). A mode without issuer is off.
type OIDC struct {
	CPS  OIDCProvider `toml:"cps"`
	PASS OIDCProvider `toml:"pass"`
	// MSSPattern derives the MSSanté address of an account created by
	// joining with a card: {first}, {last}, {domain} (first domain).
	MSSPattern string `toml:"mss_pattern" doc:"MSSanté address of a card join (default {first}.{last}@medecin.{domain})"`
}

// OIDCProvider is one OpenID Connect provider; its endpoints come from
// discovery.
type OIDCProvider struct {
	Issuer       string `toml:"issuer" doc:"issuer URL (discovery); empty disables the mode"`
	ClientID     string `toml:"client_id" doc:"client id registered with the provider"`
	ClientSecret string `toml:"client_secret" doc:"client secret (also the HS256 key)"`
	SubjectClaim string `toml:"subject_claim" doc:"PASS identity claim: sub (default) or email"`
}

// Duration is a time.Duration written as "90s", "1h" in TOML and environment.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", b, err)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the configuration used when nothing is set: every listener
// on loopback, data under ./hygie-data.
func Default() Config {
	return Config{
		DataDir:         "./hygie-data",
		PlatformName:    "Hygie",
		Hostname:        "localhost",
		Domains:         []string{"hygie.localhost"},
		DigestTime:      "18:00",
		LogFormat:       "text",
		ShutdownTimeout: Duration{30 * time.Second},
		Listen: Listen{
			Web:         "127.0.0.1:8080",
			SMTP:        "127.0.0.1:2525",
			Submission:  "127.0.0.1:5587",
			Submissions: "127.0.0.1:5465",
			IMAP:        "127.0.0.1:5143",
			IMAPS:       "127.0.0.1:5993",
			LDAP:        "127.0.0.1:5389",
			LDAPS:       "127.0.0.1:5636",
		},
		Trust: Trust{Refresh: Duration{time.Hour}},
		SMTP:  SMTP{MaxMessageSize: 20 << 20, MaxRecipients: 100},
		Queue: Queue{
			RetryFor:       Duration{120 * time.Hour},
			InitialBackoff: Duration{time.Minute},
			MaxBackoff:     Duration{time.Hour},
			Workers:        8,
			PollInterval:   Duration{time.Second},
			Lease:          Duration{5 * time.Minute},
		},
	}
}

// Load reads the defaults, then the TOML file at path (if not empty), then
// the HYGIE_* variables of environ, and validates the result.
func Load(path string, environ []string) (Config, error) {
	c := Default()
	if path != "" {
		md, err := toml.DecodeFile(path, &c)
		if err != nil {
			return c, fmt.Errorf("config %s: %w", path, err)
		}
		if und := md.Undecoded(); len(und) > 0 {
			return c, fmt.Errorf("config %s: unknown setting %q", path, und[0].String())
		}
	}
	if err := applyEnv(&c, environ); err != nil {
		return c, err
	}
	c.Fill()
	return c, c.Validate()
}

// Fill derives the settings whose default depends on others; Load calls it,
// and so does server.Open for configurations built in code.
func (c *Config) Fill() {
	if c.Database == "" {
		c.Database = "sqlite:" + filepath.Join(c.DataDir, "hygie.db")
	}
	if c.TLS.Cert == "" && c.TLS.Key == "" {
		c.TLS.Cert = filepath.Join(c.DataDir, "tls", "cert.pem")
		c.TLS.Key = filepath.Join(c.DataDir, "tls", "key.pem")
	}
	for i, d := range c.Domains {
		c.Domains[i] = strings.ToLower(strings.TrimSpace(d))
	}
	if c.PublicURL == "" && c.Listen.Web != "" {
		scheme := "http"
		if c.TLS.WebTLS {
			scheme = "https"
		}
		c.PublicURL = scheme + "://" + c.Listen.Web
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if c.LDAPBaseDN == "" && len(c.Domains) > 0 {
		c.LDAPBaseDN = "ou=annuaire,dc=" + strings.Join(strings.Split(c.Domains[0], "."), ",dc=")
	} else if c.LDAPBaseDN == "" {
		c.LDAPBaseDN = "ou=annuaire"
	}
	if c.NotifyFrom == "" && len(c.Domains) > 0 {
		c.NotifyFrom = "no-reply@" + c.Domains[0]
	}
}

// Validate reports the first setting that cannot work.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return fmt.Errorf("data_dir must not be empty")
	}
	if !strings.HasPrefix(c.Database, "sqlite:") && !strings.HasPrefix(c.Database, "postgres://") && !strings.HasPrefix(c.Database, "postgresql://") {
		return fmt.Errorf("database %q: want sqlite:PATH or a postgres:// URL", c.Database)
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		return fmt.Errorf("tls.cert and tls.key go together")
	}
	for name, addr := range map[string]string{"listen.web": c.Listen.Web, "listen.smtp": c.Listen.SMTP,
		"listen.submission": c.Listen.Submission, "listen.submissions": c.Listen.Submissions,
		"listen.imap": c.Listen.IMAP, "listen.imaps": c.Listen.IMAPS,
		"listen.ldap": c.Listen.LDAP, "listen.ldaps": c.Listen.LDAPS} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%s %q: %w", name, addr, err)
		}
	}
	for d, hop := range c.Routes {
		if _, _, err := net.SplitHostPort(hop); err != nil {
			return fmt.Errorf("routes.%s %q: %w", d, hop, err)
		}
	}
	if c.SMTP.MaxMessageSize <= 0 {
		return fmt.Errorf("smtp.max_message_size must be positive")
	}
	if c.Smarthost != "" {
		if _, _, err := net.SplitHostPort(c.Smarthost); err != nil {
			return fmt.Errorf("smarthost %q: %w", c.Smarthost, err)
		}
	}
	if _, err := time.Parse("15:04", c.DigestTime); err != nil {
		return fmt.Errorf("digest_time %q: want HH:MM", c.DigestTime)
	}
	for name, o := range map[string]OIDCProvider{"oidc.cps": c.OIDC.CPS, "oidc.pass": c.OIDC.PASS} {
		if o.Issuer != "" && o.ClientID == "" {
			return fmt.Errorf("%s.client_id is required with %s.issuer", name, name)
		}
	}
	if c.LogFormat != "" && c.LogFormat != "text" && c.LogFormat != "json" {
		return fmt.Errorf("log_format %q: want text or json", c.LogFormat)
	}
	if c.ShutdownTimeout.Duration < 0 {
		return fmt.Errorf("shutdown_timeout must not be negative")
	}
	if c.Queue.Workers <= 0 {
		return fmt.Errorf("queue.workers must be positive")
	}
	if _, err := c.ProxyPrefixes(); err != nil {
		return err
	}
	if _, err := c.ProxyProtocolPrefixes(); err != nil {
		return err
	}
	return nil
}

// IsSQLite reports whether the database is an embedded SQLite file.
func (c *Config) IsSQLite() bool { return strings.HasPrefix(c.Database, "sqlite:") }

// applyEnv overrides fields from HYGIE_<KEY> variables.
func applyEnv(c *Config, environ []string) error {
	env := map[string]string{}
	for _, kv := range environ {
		k, v, ok := strings.Cut(kv, "=")
		if ok && strings.HasPrefix(k, "HYGIE_") {
			env[k] = v
		}
	}
	var err error
	walk(reflect.ValueOf(c).Elem(), "", func(key string, f reflect.Value, _ string) {
		name := "HYGIE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		v, ok := env[name]
		if !ok || err != nil {
			return
		}
		if e := setField(f, v); e != nil {
			err = fmt.Errorf("%s: %w", name, e)
		}
	})
	return err
}

// walk calls fn for every leaf setting with its dotted key.
func walk(v reflect.Value, prefix string, fn func(key string, f reflect.Value, doc string)) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		key := sf.Tag.Get("toml")
		if key == "" {
			continue
		}
		if prefix != "" {
			key = prefix + "." + key
		}
		f := v.Field(i)
		if f.Kind() == reflect.Struct && f.Type() != reflect.TypeOf(Duration{}) {
			walk(f, key, fn)
			continue
		}
		fn(key, f, sf.Tag.Get("doc"))
	}
}

func setField(f reflect.Value, v string) error {
	switch f.Interface().(type) {
	case string:
		f.SetString(v)
	case bool:
		b, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		f.SetBool(b)
	case int, int64:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return err
		}
		f.SetInt(n)
	case Duration:
		var d Duration
		if err := d.UnmarshalText([]byte(v)); err != nil {
			return err
		}
		f.Set(reflect.ValueOf(d))
	case []string:
		var out []string
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		f.Set(reflect.ValueOf(out))
	case map[string]string:
		m := map[string]string{}
		for _, s := range strings.Split(v, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			k, val, ok := strings.Cut(s, "=")
			if !ok {
				return fmt.Errorf("%q: want key=value", s)
			}
			m[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(val)
		}
		f.Set(reflect.ValueOf(m))
	default:
		return fmt.Errorf("unsupported setting type %s", f.Type())
	}
	return nil
}

// Help documents every setting with its TOML key and environment variable,
// for `hygie --help`.
func Help() string {
	var b strings.Builder
	c := Default()
	walk(reflect.ValueOf(&c).Elem(), "", func(key string, _ reflect.Value, doc string) {
		env := "HYGIE_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
		fmt.Fprintf(&b, "  %-24s %-28s %s\n", key, env, doc)
	})
	return b.String()
}

// EnvOrDefault returns os.Environ, for callers that do not inject one.
func EnvOrDefault(environ []string) []string {
	if environ == nil {
		return os.Environ()
	}
	return environ
}

// ProxyPrefixes parses TrustedProxies.
func (c *Config) ProxyPrefixes() ([]netip.Prefix, error) {
	return parsePrefixes("trusted_proxies", c.TrustedProxies)
}

// ProxyProtocolPrefixes parses ProxyProtocol.
func (c *Config) ProxyProtocolPrefixes() ([]netip.Prefix, error) {
	return parsePrefixes("proxy_protocol", c.ProxyProtocol)
}

// parsePrefixes parses a list of IPs or CIDR prefixes: a plain IP is a
// prefix of its full length.
func parsePrefixes(setting string, list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, p := range list {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if strings.Contains(p, "/") {
			pfx, err := netip.ParsePrefix(p)
			if err != nil {
				return nil, fmt.Errorf("%s %q: %w", setting, p, err)
			}
			if pfx.Addr().Is4In6() && pfx.Bits() >= 96 {
				// Peers are matched unmapped: ::ffff:10.0.0.0/104 is 10.0.0.0/8.
				pfx = netip.PrefixFrom(pfx.Addr().Unmap(), pfx.Bits()-96)
			}
			out = append(out, pfx.Masked())
			continue
		}
		a, err := netip.ParseAddr(p)
		if err != nil {
			return nil, fmt.Errorf("%s %q: want an IP or a CIDR prefix", setting, p)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

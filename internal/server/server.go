// Package server assembles a hygie node: the store, the services and every
// listener (web, operator MX, submission, IMAP), the job runner and the
// whitelist refresher, and runs them until the context ends.
package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/auth"
	"github.com/hygie-sante/hygie/internal/auth/oidc"
	"github.com/hygie-sante/hygie/internal/config"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/proxyproto"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/smtpd"
	"github.com/hygie-sante/hygie/internal/store"
	"github.com/hygie-sante/hygie/internal/trust"
)

// Node is a running hygie node.
type Node struct {
	Cfg      config.Config
	Log      *slog.Logger
	St       *store.Store
	Accounts *account.Service
	Audit    *audit.Log
	Pipeline *mail.Pipeline
	Router   *mail.Router
	Trust    *trust.Source
	Runner   *queue.Runner
	Cert     tls.Certificate
	// PeerCAs verifies other operators' certificates (nil: none configured).
	PeerCAs *x509.CertPool
	// Tokens validates CPS access tokens for SASL XOAUTH2/OAUTHBEARER on
	// IMAP and submission (SPEC §5); nil when no CPS provider is configured,
	// and the mechanisms are then not offered. Set it before Start.
	Tokens account.TokenValidator

	// Addrs are the bound addresses by listener name, once listening.
	Addrs map[string]string

	// oidc holds the login modes (see loginModes in oidc.go).
	oidcOnce sync.Once
	oidc     []*oidc.Provider

	closers []func()
	ops     opsState
	wg      sync.WaitGroup
}

// Open prepares a node: the data directory, the certificate, the store and
// the services. It does not listen yet.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*Node, error) {
	cfg.Fill()
	n := &Node{Cfg: cfg, Log: log, Addrs: map[string]string{}}
	if _, err := trust.EnsureSelfSigned(cfg.TLS.Cert, cfg.TLS.Key, []string{cfg.Hostname}); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(cfg.TLS.Cert, cfg.TLS.Key)
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	n.Cert = cert
	if cfg.Trust.CABundle != "" {
		if n.PeerCAs, err = trust.LoadCertPool(cfg.Trust.CABundle); err != nil {
			return nil, fmt.Errorf("trust.ca_bundle: %w", err)
		}
	}
	st, err := store.Open(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	n.St = st
	n.Accounts = account.NewService(st)
	n.Audit = &audit.Log{St: st}
	n.Trust = trust.NewSource(cfg.Trust.Whitelist, cfg.Trust.Domains, log)
	if cfg.Trust.Whitelist != "" {
		if err := n.Trust.Load(ctx); err != nil {
			// Keep serving local users; the refresher tries again.
			log.Error("whitelist: first load failed", "err", err)
		}
	}
	n.Router = &mail.Router{Accounts: n.Accounts, Trust: n.Trust, Domains: cfg.Domains}
	n.Runner = &queue.Runner{St: st, Workers: cfg.Queue.Workers, Poll: cfg.Queue.PollInterval.Duration, Lease: cfg.Queue.Lease.Duration, Log: log,
		Handlers: map[string]queue.Handler{}}
	n.Pipeline = &mail.Pipeline{St: st, Hostname: cfg.Hostname, Log: log, Wake: n.Runner.Wake}
	n.registerRelay()
	n.registerOutmail()
	n.registerEffects()
	n.registerOps()
	return n, nil
}

// Close releases the store.
func (n *Node) Close() error { return n.St.Close() }

// Start binds every configured listener and starts the background workers.
// It returns once listening; Wait blocks until ctx ends and all stopped.
func (n *Node) Start(ctx context.Context) error {
	cfg := n.Cfg
	tlsCfg := trust.ServerTLSConfig(n.Cert)
	if n.Tokens == nil {
		n.Tokens = n.CPSTokenValidator()
	}
	smtpCfg := smtpd.Config{
		Hostname: cfg.Hostname, TLS: tlsCfg, MaxMessageSize: cfg.SMTP.MaxMessageSize, MaxRecipients: cfg.SMTP.MaxRecipients,
		Accounts: n.Accounts, Router: n.Router, Pipeline: n.Pipeline, Audit: n.Audit, Log: n.Log,
		Peers: peerChecker{n.Trust}, Throttle: n.loginThrottle("smtp"), Tokens: n.Tokens,
	}
	type listener struct {
		name, addr string
		implicit   bool
		serve      func(net.Listener) error
		close      func() error
	}
	var ls []listener
	if cfg.Listen.Submission != "" || cfg.Listen.Submissions != "" {
		sub := smtpd.NewSubmission(smtpCfg)
		ls = append(ls, listener{"submission", cfg.Listen.Submission, false, sub.Serve, n.drainSMTP(sub)},
			listener{"submissions", cfg.Listen.Submissions, true, sub.Serve, func() error { return nil }})
	}
	if cfg.Listen.SMTP != "" {
		mxCfg := smtpCfg
		mxCfg.TLS = trust.MXServerTLSConfig(n.Cert, n.PeerCAs)
		mx := smtpd.NewMX(mxCfg)
		ls = append(ls, listener{"smtp", cfg.Listen.SMTP, false, mx.Serve, n.drainSMTP(mx)})
	}
	if imap := n.imapListeners(tlsCfg); imap != nil {
		for _, l := range imap {
			ls = append(ls, listener{l.name, l.addr, l.implicit, l.serve, l.close})
		}
	}
	ldap, err := n.ldapListeners(tlsCfg)
	if err != nil {
		return err
	}
	for _, l := range ldap {
		ls = append(ls, listener{l.name, l.addr, l.implicit, l.serve, l.close})
	}
	var web *http.Server
	webTLS := cfg.TLS.WebTLS || !isLoopback(cfg.Listen.Web)
	if cfg.Listen.Web != "" {
		// The handler is built once the port is known (see below).
		web = &http.Server{ReadHeaderTimeout: 10 * time.Second}
		ls = append(ls, listener{"web", cfg.Listen.Web, webTLS, web.Serve, func() error {
			c, cancel := context.WithTimeout(context.Background(), n.shutdownTimeout())
			defer cancel()
			if err := web.Shutdown(c); err != nil {
				return web.Close()
			}
			return nil
		}})
	}
	balancers, err := cfg.ProxyProtocolPrefixes()
	if err != nil {
		return err
	}
	// Bind everything first, so that a busy port fails the start before any
	// listener serves, and so that port 0 is resolved before links are made.
	lns := make([]net.Listener, len(ls))
	for i, l := range ls {
		if l.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			for _, b := range lns[:i] {
				if b != nil {
					b.Close()
				}
			}
			return fmt.Errorf("listen %s on %s: %w", l.name, l.addr, err)
		}
		n.Addrs[l.name] = ln.Addr().String()
		lns[i] = ln
	}
	if web != nil {
		if strings.HasSuffix(n.Cfg.PublicURL, ":0") {
			scheme := "http://"
			if webTLS {
				scheme = "https://"
			}
			n.Cfg.PublicURL = scheme + n.Addrs["web"]
		}
		h, err := n.webHandler(webTLS)
		if err != nil {
			for _, ln := range lns {
				if ln != nil {
					ln.Close()
				}
			}
			return err
		}
		web.Handler = h
	}
	for i, l := range ls {
		ln := lns[i]
		if ln == nil {
			continue
		}
		if l.name != "web" {
			// Below TLS: a TCP balancer's PROXY header comes before
			// anything else on the connection.
			ln = proxyproto.NewListener(ln, balancers, 0)
		}
		if l.implicit {
			ln = tls.NewListener(ln, tlsCfg)
		}
		if strings.HasPrefix(l.name, "imap") {
			// IMAP sessions live long (IDLE): stop accepting at once, and
			// close the sessions once the other listeners have drained.
			n.ops.drainers = append(n.ops.drainers, func() { ln.Close() })
			n.closers = append(n.closers, func() { ln.Close(); l.close() })
		} else {
			n.ops.drainers = append(n.ops.drainers, func() { ln.Close(); l.close() })
		}
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			if err := l.serve(ln); err != nil && !isClosed(err) {
				n.Log.Error("listener stopped", "listener", l.name, "err", err)
			}
		}()
		n.Log.Info("listening", "listener", l.name, "addr", ln.Addr().String(), "tls", tlsMode(l.implicit))
	}
	// The workers outlive ctx until the listeners have drained (stop).
	bg, cancel := context.WithCancel(context.WithoutCancel(ctx))
	n.closers = append(n.closers, cancel)
	n.wg.Add(2)
	go func() { defer n.wg.Done(); n.Runner.Run(bg) }()
	go func() { defer n.wg.Done(); n.Trust.Run(bg, cfg.Trust.Refresh.Duration) }()
	n.startCluster(bg)
	n.ops.started.Store(true)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		<-ctx.Done()
		n.stop()
	}()
	return nil
}

// Wait blocks until every listener and worker has stopped.
func (n *Node) Wait() { n.wg.Wait() }

// stop stops gracefully: every listener stops accepting at once, SMTP
// sessions and HTTP requests in flight get shutdown_timeout to end (their
// transactions commit), then IMAP sessions are closed and the background
// workers stopped (a job in progress finishes first).
func (n *Node) stop() {
	n.Log.Info("stopping: draining sessions in flight", "timeout", n.shutdownTimeout().String())
	n.runDrainers()
	for i := len(n.closers) - 1; i >= 0; i-- {
		n.closers[i]()
	}
}

func tlsMode(implicit bool) string {
	if implicit {
		return "implicit"
	}
	return "starttls/plain"
}

func isClosed(err error) bool {
	return errors.Is(err, net.ErrClosed) || errors.Is(err, http.ErrServerClosed) || err.Error() == "smtp: server already closed"
}

func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Run opens a node, starts it and serves until ctx ends.
func Run(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	n, err := Open(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer n.Close()
	if err := n.Start(ctx); err != nil {
		return err
	}
	n.Wait()
	return nil
}

// loginThrottle returns the failed-login throttle of a protocol: 10 failures
// per key (login and IP) in 15 minutes, counted in the store so that every
// node of a cluster shares the count.
func (n *Node) loginThrottle(scope string) *auth.Throttle {
	return auth.NewSharedThrottle(n.St, scope, 10, 15*time.Minute, n.Log)
}

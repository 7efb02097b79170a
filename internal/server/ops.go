package server

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/metrics"
)

// opsState is what /readyz and the graceful stop know of a node.
type opsState struct {
	// started is set once every listener serves and the workers run.
	started atomic.Bool
	// draining is set when the node begins to stop.
	draining atomic.Bool
	// drainers stop a listener gracefully (stop accepting, let sessions
	// and requests in flight end within shutdown_timeout); they run
	// concurrently before the closers.
	drainers []func()
}

// registerOps installs the metrics hooks: delivery observation and the
// timing of remote delivery attempts.
func (n *Node) registerOps() {
	n.Pipeline.Observe = metrics.ObserveDelivery
	if h, ok := n.Runner.Handlers[mail.JobRemote]; ok {
		n.Runner.Handlers[mail.JobRemote] = metrics.TimeJob(mail.JobRemote, h)
	}
}

// shutdownTimeout is the bound of a graceful stop (setting shutdown_timeout).
func (n *Node) shutdownTimeout() time.Duration {
	if d := n.Cfg.ShutdownTimeout.Duration; d > 0 {
		return d
	}
	return 30 * time.Second
}

// drainSMTP returns the graceful close of an SMTP server: stop accepting,
// let the sessions in flight end (a DATA being stored commits and gets its
// answer), then, past shutdown_timeout, close what is left.
func (n *Node) drainSMTP(s *smtp.Server) func() error {
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), n.shutdownTimeout())
		defer cancel()
		// The listener is already closed: only a deadline is an error here.
		if err := s.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
			n.Log.Warn("smtp: sessions still open at the end of shutdown_timeout, closing them", "err", err)
			s.Close()
		}
		return nil
	}
}

// runDrainers runs the graceful closes of the listeners concurrently and
// waits for them all.
func (n *Node) runDrainers() {
	n.ops.draining.Store(true)
	var wg sync.WaitGroup
	for _, d := range n.ops.drainers {
		wg.Add(1)
		go func() { defer wg.Done(); d() }()
	}
	wg.Wait()
}

// readyz answers 200 once the node serves: the database answers, its schema
// is this binary's, every listener is started, and it is not stopping.
func (n *Node) readyz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	fail := func(why string) {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(why + "\n"))
	}
	switch {
	case n.ops.draining.Load():
		fail("stopping")
		return
	case !n.ops.started.Load():
		fail("starting")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := n.St.DB.PingContext(ctx); err != nil {
		fail("database unavailable")
		return
	}
	if ok, err := n.St.SchemaCurrent(ctx); err != nil || !ok {
		fail("database schema not up to date")
		return
	}
	w.Write([]byte("ready\n"))
}

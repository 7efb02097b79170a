// Package metrics exposes Hygie's operational metrics to Prometheus
// (issue 7, Operations): messages in and out, queue depth and age, delivery
// latency, logins and failures, HTTP latency. Counters and histograms are
// process-wide (one node per process in production) and are fed by small
// hooks: mail.Pipeline.Observe, audit.SetObserver, the queue handler
// wrapper TimeJob and the web middleware HTTP. The queue gauges are read
// from the jobs table at each scrape, so every node of a cluster reports the
// cluster's queue.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
)

var (
	// registry holds the process-wide collectors.
	registry = prometheus.NewRegistry()

	messagesIn = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hygie_messages_in_total",
		Help: "Messages offered for delivery, by source (submission, web, mx, system) and outcome (accepted, refused, error).",
	}, []string{"source", "outcome"})
	messagesOut = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hygie_messages_out_total",
		Help: "Remote delivery results per message and domain, by route and outcome (delivered, deferred, bounced).",
	}, []string{"route", "outcome"})
	deliverSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hygie_delivery_duration_seconds",
		Help:    "Duration of Pipeline.Deliver (parse, store, commit and fsync), by source.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"source"})
	jobSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hygie_job_duration_seconds",
		Help:    "Duration of one queued job attempt (remote delivery attempts: kind=remote), by kind and result.",
		Buckets: []float64{.005, .01, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120},
	}, []string{"kind", "result"})
	logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "hygie_logins_total",
		Help: "Login attempts by protocol (web, imap, submission, api…) and result (ok, failed, throttled…).",
	}, []string{"protocol", "result"})
	httpSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "hygie_http_request_duration_seconds",
		Help:    "Web request latency by route pattern, method and status class.",
		Buckets: prometheus.DefBuckets,
	}, []string{"route", "method", "code"})
)

func init() {
	registry.MustRegister(messagesIn, messagesOut, deliverSeconds, jobSeconds, logins, httpSeconds,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	audit.SetObserver(observeAudit)
}

// ObserveDelivery records one Pipeline.Deliver call; it fits
// mail.Pipeline.Observe.
func ObserveDelivery(source string, err error, d time.Duration) {
	outcome := "accepted"
	if err != nil {
		outcome = "error"
		var me *mail.Error
		if errors.As(err, &me) {
			outcome = "refused"
		}
	}
	messagesIn.WithLabelValues(source, outcome).Inc()
	if err == nil {
		deliverSeconds.WithLabelValues(source).Observe(d.Seconds())
	}
}

// observeAudit counts logins and remote delivery results from the audit
// trail, once each record is committed.
func observeAudit(r audit.Record) {
	switch {
	case r.Kind == audit.KindLogin:
		logins.WithLabelValues(r.Protocol, r.Result).Inc()
	case r.Kind == audit.KindMessage && strings.HasPrefix(r.Route, "remote"):
		// The hop is left out of the label to bound its cardinality.
		messagesOut.WithLabelValues("remote", r.Result).Inc()
	}
}

// TimeJob wraps a queue handler to time its attempts.
func TimeJob(kind string, h queue.Handler) queue.Handler {
	return func(ctx context.Context, j queue.Job) error {
		start := time.Now()
		err := h(ctx, j)
		result := "ok"
		if err != nil {
			result = "error"
		}
		jobSeconds.WithLabelValues(kind, result).Observe(time.Since(start).Seconds())
		return err
	}
}

// HTTP measures every request of next by the pattern of the route that
// served it (set by http.ServeMux on the request).
func HTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(sw, r)
		route := r.Pattern
		if route == "" {
			route = "unmatched"
		}
		if _, p, ok := strings.Cut(route, " "); ok {
			route = p
		}
		httpSeconds.WithLabelValues(route, r.Method, codeClass(sw.code)).Observe(time.Since(start).Seconds())
	})
}

func codeClass(code int) string {
	return string(rune('0'+code/100)) + "xx"
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (s *statusWriter) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the real writer (flush,
// deadlines).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// Handler serves /metrics: the process-wide metrics and, read from st at
// each scrape, the queue's depth and the age of its oldest job.
func Handler(st *store.Store, log *slog.Logger) http.Handler {
	node := prometheus.NewRegistry()
	node.MustRegister(&queueCollector{st: st, log: log})
	return promhttp.HandlerFor(prometheus.Gatherers{registry, node}, promhttp.HandlerOpts{ErrorLog: slogErrors{log}})
}

var (
	queueDepthDesc = prometheus.NewDesc("hygie_queue_jobs", "Jobs waiting in the queue, by kind.", []string{"kind"}, nil)
	queueAgeDesc   = prometheus.NewDesc("hygie_queue_oldest_job_age_seconds", "Age of the oldest queued job, by kind.", []string{"kind"}, nil)
)

// queueCollector reads the jobs table at scrape time.
type queueCollector struct {
	st  *store.Store
	log *slog.Logger
}

func (c *queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDepthDesc
	ch <- queueAgeDesc
}

func (c *queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	rows, err := c.st.Query(ctx, `SELECT kind, COUNT(*), MIN(created_at) FROM jobs GROUP BY kind`)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(queueDepthDesc, err)
		return
	}
	defer rows.Close()
	now := time.Now()
	for rows.Next() {
		var kind string
		var n, oldest int64
		if err := rows.Scan(&kind, &n, &oldest); err != nil {
			ch <- prometheus.NewInvalidMetric(queueDepthDesc, err)
			return
		}
		ch <- prometheus.MustNewConstMetric(queueDepthDesc, prometheus.GaugeValue, float64(n), kind)
		ch <- prometheus.MustNewConstMetric(queueAgeDesc, prometheus.GaugeValue, now.Sub(time.Unix(oldest, 0)).Seconds(), kind)
	}
	if err := rows.Err(); err != nil {
		ch <- prometheus.NewInvalidMetric(queueDepthDesc, err)
	}
}

// slogErrors adapts promhttp's error log to slog.
type slogErrors struct{ log *slog.Logger }

func (l slogErrors) Println(v ...any) {
	if l.log != nil {
		l.log.Error("metrics", "err", strings.TrimSpace(fmt.Sprintln(v...)))
	}
}

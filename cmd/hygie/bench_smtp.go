package main

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"
)

// smtpBenchOptions are the flags of 'hygie bench smtp'.
type smtpBenchOptions struct {
	addr                            string
	starttls, implicitTLS, insecure bool
	user, password, from, to        string
	size, conns, messages, runs     int
	// pids are the server processes (--pid, comma-separated: the nodes
	// of a cluster on this machine); their CPU times are added up.
	pids []int
	pid  string
	// users and tos are --user and --to split at commas: session i logs
	// in as users[i%len(users)] and its k-th message goes to
	// tos[(i+k)%len(tos)].
	users, tos []string
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func newBenchSMTP() *cobra.Command {
	o := &smtpBenchOptions{}
	c := &cobra.Command{
		Use:   "smtp --user LOGIN --password PW [--to ADDRESS] [--size 4096] [--conns 10] [--messages 3000] [--runs 3] [--pid PID]",
		Short: "Measure submission throughput against a running server",
		Long: `Send messages to a running server's submission port and report throughput.

Each run opens --conns sessions (TLS and AUTH PLAIN done before the clock
starts), then sends --messages messages in total, spread over the sessions;
each session sends its share one after the other in the same SMTP session
(MAIL, RCPT, DATA, repeated). A message counts once the server answered 250
to its DATA, that is once it is durably stored. Every message is a valid
RFC 5322 text/plain message of exactly --size bytes with a unique Message-ID.

--user and --to take comma-separated lists (one --password for all), to
spread the load over many mailboxes like real traffic: session i logs in as
user i (modulo the list's length) and sends its k-th message to recipient
i+k (modulo). Without --from each session sends as its own user.

With --pid (the server's process id, on the same machine; for several
nodes, their ids comma-separated) it also reports the server's CPU time
per message (utime+stime of /proc/PID/stat, read before and after each
run, added up over the nodes) and its peak resident memory (VmHWM of
/proc/PID/status, since the server started: logins included, and each
argon2id verification takes 19 MiB, so --conns logins at once weigh in;
the largest over the nodes).
It reports the client's own CPU time too, since both usually share the
machine, and OTHER CPU, what the rest of the machine used meanwhile (from
/proc/stat): when it is not near zero, other processes disturbed the run.

Example, against 'hygie serve' with its self-signed certificate:

  hygie bench smtp --insecure --user jean.dupont@hygie.localhost --password '…' \
      --size 4096 --conns 10 --messages 3000 --runs 3 --pid $(pgrep -f 'hygie serve')

It prints one row per run and a summary line with the median msg/s, and
exits non-zero when any message was not accepted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.to == "" {
				o.to = o.user
			}
			o.users, o.tos = splitList(o.user), splitList(o.to)
			o.pids = nil
			for _, p := range splitList(o.pid) {
				pid, err := strconv.Atoi(p)
				if err != nil || pid <= 0 {
					return fmt.Errorf("--pid %q: not a process id", p)
				}
				o.pids = append(o.pids, pid)
			}
			if o.implicitTLS {
				o.starttls = false
			}
			if len(o.tos) == 0 || (o.from == "" && len(o.users) == 0) {
				return fmt.Errorf("--to and --from are needed without --user")
			}
			if o.conns < 1 || o.messages < 1 || o.runs < 1 || o.size < 1 {
				return fmt.Errorf("--conns, --messages, --runs and --size must be positive")
			}
			return runSMTPBench(cmd.OutOrStdout(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.addr, "addr", "127.0.0.1:5587", "submission address host:port; a comma-separated list (several nodes) spreads the sessions over them, round robin")
	f.BoolVar(&o.starttls, "starttls", true, "upgrade the session with STARTTLS")
	f.BoolVar(&o.implicitTLS, "implicit-tls", false, "connect with TLS from the start (the submissions port, e.g. 127.0.0.1:5465)")
	f.BoolVar(&o.insecure, "insecure", false, "do not verify the server certificate (self-signed)")
	f.StringVar(&o.user, "user", "", "login for AUTH PLAIN; a comma-separated list spreads the sessions over several users")
	f.StringVar(&o.password, "password", "", "password for AUTH PLAIN")
	f.StringVar(&o.from, "from", "", "envelope and header sender (default: --user)")
	f.StringVar(&o.to, "to", "", "recipient (default: --user); a comma-separated list spreads the messages over several recipients")
	f.IntVar(&o.size, "size", 4096, "bytes per message, e.g. 4096 or 102400")
	f.IntVar(&o.conns, "conns", 10, "concurrent SMTP sessions")
	f.IntVar(&o.messages, "messages", 3000, "messages per run, in total over all sessions")
	f.IntVar(&o.runs, "runs", 3, "number of runs")
	f.StringVar(&o.pid, "pid", "", "server process id, to report its CPU time per message and peak RSS; a comma-separated list (several nodes) adds up their CPU and reports the largest RSS")
	return c
}

// runResult is what one run measured.
type runResult struct {
	sent, failed int
	elapsed      time.Duration
	latencies    []time.Duration
	serverCPU    time.Duration
	clientCPU    time.Duration
	hostCPU      time.Duration
	// peakRSS is the server's VmHWM at the end of the run.
	peakRSS  int64
	firstErr error
}

func (r runResult) rate() float64 { return float64(r.sent) / r.elapsed.Seconds() }

// runSMTPBench runs o.runs runs and prints the table and the summary.
func runSMTPBench(out io.Writer, o *smtpBenchOptions) error {
	mode := "STARTTLS"
	switch {
	case o.implicitTLS:
		mode = "implicit TLS"
	case !o.starttls:
		mode = "plain text"
	}
	fmt.Fprintf(out, "hygie bench smtp: %s (%s), %d-byte messages, %d conns, %d runs of %d messages, %s → %s\n\n",
		o.addr, mode, o.size, o.conns, o.runs, o.messages, benchParty(o.from, o.users), benchParty("", o.tos))
	var results []runResult
	for i := 0; i < o.runs; i++ {
		r, err := benchRun(o)
		if err != nil {
			return fmt.Errorf("run %d: %w", i+1, err)
		}
		results = append(results, r)
	}
	return report(out, o, results)
}

// benchRun opens the sessions, then times the sending of o.messages.
func benchRun(o *smtpBenchOptions) (runResult, error) {
	clients := make([]*benchClient, o.conns)
	errs := make([]error, o.conns)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() { defer wg.Done(); clients[i], errs[i] = dialBench(o, i) }()
	}
	wg.Wait()
	defer func() {
		for _, c := range clients {
			if c != nil {
				c.close()
			}
		}
	}()
	for _, err := range errs {
		if err != nil {
			return runResult{}, fmt.Errorf("connect %s: %w", o.addr, err)
		}
	}

	var r runResult
	var mu sync.Mutex
	cpu0, err := serverCPU(o.pids)
	if err != nil {
		return r, err
	}
	self0, host0 := selfCPU(), hostBusyCPU()
	start := time.Now()
	for i, c := range clients {
		share := o.messages / o.conns
		if i < o.messages%o.conns {
			share++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, share)
			failed := 0
			var first error
			for j := 0; j < share; j++ {
				d, err := c.send(j)
				if err == nil {
					lat = append(lat, d)
					continue
				}
				failed++
				if first == nil {
					first = err
				}
				if !isRefusal(err) {
					failed += share - j - 1 // the session is gone
					break
				}
			}
			mu.Lock()
			r.latencies = append(r.latencies, lat...)
			r.failed += failed
			if r.firstErr == nil {
				r.firstErr = first
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	r.elapsed = time.Since(start)
	r.clientCPU = selfCPU() - self0
	r.hostCPU = hostBusyCPU() - host0
	cpu1, err := serverCPU(o.pids)
	if err != nil {
		return r, err
	}
	r.serverCPU = cpu1 - cpu0
	r.sent = len(r.latencies)
	for _, pid := range o.pids {
		rss, _ := procPeakRSS(pid)
		r.peakRSS = max(r.peakRSS, rss)
	}
	return r, nil
}

// serverCPU reads the CPU time of the server processes, 0 without --pid.
func serverCPU(pids []int) (time.Duration, error) {
	var sum time.Duration
	for _, pid := range pids {
		d, err := procCPU(pid)
		if err != nil {
			return 0, fmt.Errorf("--pid %d: %w", pid, err)
		}
		sum += d
	}
	return sum, nil
}

// report prints one row per run, then the summary line.
func report(out io.Writer, o *smtpBenchOptions, results []runResult) error {
	w := newTab(out)
	fmt.Fprintln(w, "RUN\tSENT\tFAILED\tSECONDS\tMSG/S\tMIB/S\tP50 MS\tP99 MS\tSERVER CPU S\tSERVER CPU MS/MSG\tCLIENT CPU S\tOTHER CPU S\tSERVER VMHWM MIB")
	var rates, cpuPerMsg []float64
	var peak int64
	failed := 0
	var firstErr error
	for i, r := range results {
		p50, p99 := percentile(r.latencies, 0.50), percentile(r.latencies, 0.99)
		srv, perMsg := "-", "-"
		if len(o.pids) > 0 && r.sent > 0 {
			msPerMsg := r.serverCPU.Seconds() * 1000 / float64(r.sent)
			srv, perMsg = fmt.Sprintf("%.2f", r.serverCPU.Seconds()), fmt.Sprintf("%.3f", msPerMsg)
			cpuPerMsg = append(cpuPerMsg, msPerMsg)
		}
		other, rss := "-", "-"
		if len(o.pids) > 0 && r.hostCPU > 0 {
			other = fmt.Sprintf("%.2f", max(0, (r.hostCPU-r.serverCPU-r.clientCPU).Seconds()))
		}
		if len(o.pids) > 0 {
			rss = fmt.Sprintf("%.1f", mib(r.peakRSS))
		}
		fmt.Fprintf(w, "%d\t%d\t%d\t%.3f\t%.0f\t%.1f\t%.1f\t%.1f\t%s\t%s\t%.2f\t%s\t%s\n", i+1, r.sent, r.failed, r.elapsed.Seconds(),
			r.rate(), r.rate()*float64(o.size)/(1<<20), ms(p50), ms(p99), srv, perMsg, r.clientCPU.Seconds(), other, rss)
		peak = max(peak, r.peakRSS)
		rates = append(rates, r.rate())
		failed += r.failed
		if firstErr == nil {
			firstErr = r.firstErr
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	summary := fmt.Sprintf("summary: median %.0f msg/s (%d-byte messages, %d conns, %d runs of %d)", median(rates), o.size, o.conns, len(results), o.messages)
	if len(o.pids) > 0 {
		summary += fmt.Sprintf(", server CPU %.3f ms/msg (median)", median(cpuPerMsg))
		summary += fmt.Sprintf(", server peak RSS %.1f MiB", mib(peak))
	}
	summary += fmt.Sprintf(", %d failed", failed)
	fmt.Fprintf(out, "\n%s\n", summary)
	if failed > 0 {
		return fmt.Errorf("%d messages were not accepted; first error: %v", failed, firstErr)
	}
	return nil
}

func ms(d time.Duration) float64 { return d.Seconds() * 1000 }

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// percentile returns the p-quantile (0 < p ≤ 1) of ds, by nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(p*float64(len(s))+0.5) - 1
	return s[max(0, min(i, len(s)-1))]
}

// median returns the median of xs (0 when empty).
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// benchParty describes the senders or recipients of a run for its title.
func benchParty(fixed string, list []string) string {
	switch {
	case fixed != "":
		return fixed
	case len(list) == 1:
		return list[0]
	case len(list) == 0:
		return "(none)"
	}
	return fmt.Sprintf("%d addresses (%s…%s)", len(list), list[0], list[len(list)-1])
}

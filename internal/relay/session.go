package relay

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/trust"
)

// hopError is a failure before the mail transaction started (connection,
// greeting, STARTTLS, TLS): the next hop may do better (RFC 5321 §5.1).
type hopError struct {
	outcome
}

// attempt tries the hops of p.Domain in order until one of them takes the
// transaction, and returns an outcome for every recipient.
func (r *Relay) attempt(ctx context.Context, p mail.RemoteJob, body []byte) attempt {
	hops, fail := r.nextHops(ctx, p.Domain)
	if fail != nil {
		return allFailed(p.Rcpts, *fail)
	}
	var last *hopError
	var lastHop string
	for _, h := range hops {
		res, err := r.session(ctx, h, p.From, p.Rcpts, body)
		if err == nil {
			return res
		}
		r.log.Info("relay: next hop failed", "domain", p.Domain, "hop", h.Addr, "err", err.describe())
		last, lastHop = err, h.Addr
		if ctx.Err() != nil {
			break
		}
	}
	res := allFailed(p.Rcpts, last.outcome)
	res.Hop = lastHop
	return res
}

// session delivers to one hop: connect, STARTTLS presenting our
// certificate, EHLO, then MAIL, RCPT per recipient and DATA (RFC 5321
// §3.3). A *hopError means the hop did not get as far as MAIL.
func (r *Relay) session(ctx context.Context, h hop, from string, rcpts []string, body []byte) (attempt, *hopError) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.SessionTimeout)
	defer cancel()
	dialer := net.Dialer{Timeout: r.cfg.DialTimeout}
	conn, err := dialer.DialContext(ctx, "tcp", h.Addr)
	if err != nil {
		var dnsErr *net.DNSError
		if h.implicit && errors.As(err, &dnsErr) && dnsErr.IsNotFound {
			// Neither MX nor address: the domain does not exist.
			return attempt{}, &hopError{outcome{Status: "5.1.2", Permanent: true, Text: "no mail server for " + h.Name + ": " + err.Error()}}
		}
		return attempt{}, &hopError{outcome{Status: "4.4.1", Text: "connect to " + h.Addr + ": " + err.Error()}}
	}
	// go-smtp's client has no context: closing the connection ends any
	// command in flight when the session times out or the node stops.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	res := attempt{Hop: h.Addr, RemoteIP: hostOf(conn.RemoteAddr().String())}

	tconn, herr := r.startTLS(ctx, conn, h)
	if herr != nil {
		return res, herr
	}
	c := smtp.NewClient(&greetedConn{Conn: tconn, greeting: strings.NewReader("220 " + h.Name + " TLS\r\n")})
	c.CommandTimeout = min(5*time.Minute, r.cfg.SessionTimeout)
	c.SubmissionTimeout = min(10*time.Minute, r.cfg.SessionTimeout)
	defer c.Close()
	// RFC 3207 §4.2: forget what was learnt before TLS and say EHLO again.
	if err := c.Hello(r.cfg.Hostname); err != nil {
		var se *smtp.SMTPError
		if errors.As(err, &se) {
			o := replyOutcome("", h.Name, err)
			o.Permanent = false
			o.Stage = "EHLO over TLS at " + h.Addr
			return res, &hopError{o}
		}
		// With TLS 1.3 a peer refusing our certificate says so here, on
		// the first read after the handshake.
		return res, &hopError{outcome{Status: "4.7.0", RemoteMTA: h.Name, Text: "TLS with " + h.Addr + ": " + err.Error()}}
	}

	if err := c.Mail(from, &smtp.MailOptions{Size: int64(len(body))}); err != nil {
		o := replyOutcome("", h.Name, err)
		o.Stage = "MAIL FROM"
		res.Outcomes = allFailed(rcpts, o).Outcomes
		return res, nil
	}
	var accepted []int
	for _, rc := range rcpts {
		if err := c.Rcpt(rc, nil); err != nil {
			o := replyOutcome(rc, h.Name, err)
			o.Stage = "RCPT TO"
			res.Outcomes = append(res.Outcomes, o)
			if o.Code == 0 {
				// Connection lost: what remains is transient too.
				finishLost(&res, rcpts[len(res.Outcomes):], accepted, o)
				return res, nil
			}
			continue
		}
		accepted = append(accepted, len(res.Outcomes))
		res.Outcomes = append(res.Outcomes, outcome{Rcpt: rc})
	}
	if len(accepted) == 0 {
		c.Quit()
		return res, nil
	}
	final := r.data(c, body, h.Name)
	for _, i := range accepted {
		res.Outcomes[i] = final
		res.Outcomes[i].Rcpt = rcpts[i]
	}
	c.Quit()
	return res, nil
}

// finishLost marks the recipients not yet tried, and those accepted but
// never sent, as transient failures after a broken connection.
func finishLost(res *attempt, untried []string, accepted []int, o outcome) {
	for _, i := range accepted {
		x := o
		x.Rcpt = res.Outcomes[i].Rcpt
		res.Outcomes[i] = x
	}
	for _, rc := range untried {
		x := o
		x.Rcpt = rc
		res.Outcomes = append(res.Outcomes, x)
	}
}

// data sends the message and returns the outcome of the final reply, which
// applies to every accepted recipient (RFC 5321 §4.1.1.4).
func (r *Relay) data(c *smtp.Client, body []byte, mta string) outcome {
	w, err := c.Data()
	if err != nil {
		o := replyOutcome("", mta, err)
		o.Stage = "DATA"
		return o
	}
	if _, err := w.Write(body); err != nil {
		w.Close()
		o := replyOutcome("", mta, err)
		o.Stage = "DATA"
		return o
	}
	resp, err := w.CloseWithResponse()
	if err != nil {
		o := replyOutcome("", mta, err)
		o.Stage = "end of DATA"
		return o
	}
	enh, text := enhancedPrefix(resp.StatusText)
	return replyFrom("", mta, 250, enh, text)
}

// enhancedPrefix splits "2.0.0 OK: queued" into its enhanced code and text.
func enhancedPrefix(s string) (smtp.EnhancedCode, string) {
	code, rest, ok := strings.Cut(s, " ")
	parts := strings.Split(code, ".")
	if !ok || len(parts) != 3 {
		return smtp.EnhancedCode{}, s
	}
	var e smtp.EnhancedCode
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return smtp.EnhancedCode{}, s
		}
		e[i] = n
	}
	return e, rest
}

// startTLS reads the greeting, says EHLO with our host name and upgrades
// the connection (RFC 3207). TLS is mandatory between MSSanté operators
// (SPEC §5): a server that does not offer STARTTLS is not used. The peer
// is verified against Roots for its host name, and sees our certificate.
func (r *Relay) startTLS(ctx context.Context, conn net.Conn, h hop) (*tls.Conn, *hopError) {
	fail := func(step string, err error) *hopError {
		var pe *textproto.Error
		if errors.As(err, &pe) {
			enh, text := enhancedPrefix(pe.Msg)
			o := replyFrom("", h.Name, pe.Code, enh, text)
			o.Permanent = false
			o.Stage = step + " at " + h.Addr
			return &hopError{o}
		}
		return &hopError{outcome{Status: "4.4.2", Text: step + " at " + h.Addr + ": " + err.Error()}}
	}
	conn.SetDeadline(time.Now().Add(min(5*time.Minute, r.cfg.SessionTimeout)))
	br := bufio.NewReader(conn)
	tp := textproto.NewReader(br)
	// RFC 5321 §3.1 and §4.2: the greeting is 220, possibly multi-line.
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, fail("greeting", err)
	}
	if _, err := fmt.Fprintf(conn, "EHLO %s\r\n", r.cfg.Hostname); err != nil {
		return nil, fail("EHLO", err)
	}
	_, ext, err := tp.ReadResponse(250)
	if err != nil {
		return nil, fail("EHLO", err)
	}
	if !hasExtension(ext, "STARTTLS") {
		return nil, &hopError{outcome{Status: "4.7.0", RemoteMTA: h.Name,
			Text: h.Addr + " does not offer STARTTLS; TLS is mandatory between MSSanté operators"}}
	}
	if _, err := fmt.Fprintf(conn, "STARTTLS\r\n"); err != nil {
		return nil, fail("STARTTLS", err)
	}
	if _, _, err := tp.ReadResponse(220); err != nil {
		return nil, fail("STARTTLS", err)
	}
	if br.Buffered() > 0 {
		// Bytes sent before the handshake would be read as if they came
		// over TLS (STARTTLS response injection); RFC 3207 §4.2 has the
		// client discard everything learnt before TLS.
		return nil, &hopError{outcome{Status: "4.7.0", Text: h.Addr + " sent data before the TLS handshake"}}
	}
	conn.SetDeadline(time.Time{})
	tconn := tls.Client(conn, trust.ClientTLSConfig(r.cfg.Cert, r.cfg.Roots, h.Name))
	if err := tconn.HandshakeContext(ctx); err != nil {
		return nil, &hopError{outcome{Status: "4.7.0", Text: "TLS with " + h.Addr + ": " + err.Error()}}
	}
	return tconn, nil
}

// hasExtension reports whether an EHLO reply (one keyword line after the
// greeting line, RFC 5321 §4.1.1.1) lists keyword.
func hasExtension(ehlo, keyword string) bool {
	lines := strings.Split(ehlo, "\n")
	for _, l := range lines[1:] {
		if f := strings.Fields(l); len(f) > 0 && strings.EqualFold(f[0], keyword) {
			return true
		}
	}
	return false
}

// greetedConn replays a greeting before the TLS stream. go-smtp's client
// reads a greeting on every new connection, but after STARTTLS the server
// sends none: the client speaks first, with EHLO (RFC 3207 §4.2). The
// pre-TLS dialogue is ours so that the first EHLO names this host too.
type greetedConn struct {
	*tls.Conn
	greeting *strings.Reader
}

func (c *greetedConn) Read(b []byte) (int, error) {
	if c.greeting.Len() > 0 {
		return c.greeting.Read(b)
	}
	return c.Conn.Read(b)
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

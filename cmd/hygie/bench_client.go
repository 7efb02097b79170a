package main

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// benchClient is one submission session of the SMTP benchmark: it logs in
// once and then sends many messages (MAIL, RCPT, DATA, repeated).
type benchClient struct {
	o     *smtpBenchOptions
	c     *smtp.Client
	maker *messageMaker
	// tag makes Message-IDs unique across runs and connections.
	tag string
	// conn is the session's number; from its sender.
	conn int
	from string
}

// dialBench connects, secures the session as o asks and authenticates.
func dialBench(o *smtpBenchOptions, conn int) (*benchClient, error) {
	// A list of addresses (several nodes) spreads the sessions round robin.
	addrs := strings.Split(o.addr, ",")
	addr := strings.TrimSpace(addrs[conn%len(addrs)])
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("--addr %q: %w", addr, err)
	}
	tlsCfg := &tls.Config{ServerName: host, InsecureSkipVerify: o.insecure}
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	var c *smtp.Client
	switch {
	case o.implicitTLS:
		c = smtp.NewClient(tls.Client(nc, tlsCfg))
	case o.starttls:
		if c, err = smtp.NewClientStartTLS(nc, tlsCfg); err != nil {
			nc.Close()
			return nil, fmt.Errorf("STARTTLS: %w", err)
		}
	default:
		c = smtp.NewClient(nc)
	}
	c.CommandTimeout = time.Minute
	c.SubmissionTimeout = 2 * time.Minute
	if err := c.Hello("bench.hygie.localhost"); err != nil {
		c.Close()
		var ve *tls.CertificateVerificationError
		if errors.As(err, &ve) {
			return nil, fmt.Errorf("%w (--insecure accepts a self-signed certificate)", err)
		}
		return nil, fmt.Errorf("EHLO: %w", err)
	}
	from := o.from
	if len(o.users) > 0 {
		user := o.users[conn%len(o.users)]
		if from == "" {
			from = user
		}
		if err := c.Auth(sasl.NewPlainClient("", user, o.password)); err != nil {
			c.Close()
			return nil, fmt.Errorf("AUTH PLAIN: %w", err)
		}
	}
	var r [4]byte
	rand.Read(r[:])
	return &benchClient{o: o, c: c, maker: newMessageMaker(from, o.tos[conn%len(o.tos)], o.size),
		tag: fmt.Sprintf("%s-%d", hex.EncodeToString(r[:]), conn), conn: conn, from: from}, nil
}

// send submits message number i and returns how long the server took to
// accept it. A refusal (*smtp.SMTPError) leaves the session usable; any
// other error means the connection is lost.
func (b *benchClient) send(i int) (time.Duration, error) {
	msgID := fmt.Sprintf("<bench-%s-%d@bench.hygie.localhost>", b.tag, i)
	to := b.o.tos[(b.conn+i)%len(b.o.tos)]
	b.maker.to = to
	data := b.maker.make(msgID, fmt.Sprintf("hygie bench %s message %d", b.tag, i), time.Now())
	start := time.Now()
	if err := b.c.Mail(b.from, &smtp.MailOptions{Size: int64(len(data))}); err != nil {
		return 0, err
	}
	if err := b.c.Rcpt(to, nil); err != nil {
		b.c.Reset()
		return 0, err
	}
	w, err := b.c.Data()
	if err != nil {
		b.c.Reset()
		return 0, err
	}
	if _, err := w.Write(data); err != nil {
		return 0, err
	}
	if err := w.Close(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// close ends the session politely.
func (b *benchClient) close() {
	b.c.Quit()
	b.c.Close()
}

// isRefusal reports whether err is an SMTP reply (the session goes on)
// rather than a lost connection.
func isRefusal(err error) bool {
	var se *smtp.SMTPError
	return errors.As(err, &se)
}

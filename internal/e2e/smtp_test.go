package e2e

import (
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// dialSubmission opens a submission session secured with STARTTLS (the
// self-signed certificate is not verified) and authenticated with PLAIN.
func dialSubmission(addr, user, password string) (*smtp.Client, error) {
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	c, err := smtp.NewClientStartTLS(nc, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("starttls: %w", err)
	}
	c.CommandTimeout = 30 * time.Second
	c.SubmissionTimeout = 30 * time.Second
	if err := c.Auth(sasl.NewPlainClient("", user, password)); err != nil {
		c.Close()
		return nil, fmt.Errorf("auth: %w", err)
	}
	return c, nil
}

// send submits one message in an open session; nil means the server
// answered 250 to DATA.
func send(c *smtp.Client, from, to string, data []byte) error {
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	if err := c.Rcpt(to, nil); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(data); err != nil {
		return err
	}
	return w.Close()
}

// testMessage returns a small RFC 5322 message.
func testMessage(from, to, msgID, subject string) []byte {
	return []byte(strings.Join([]string{
		"From: <" + from + ">",
		"To: <" + to + ">",
		"Subject: " + subject,
		"Date: " + time.Now().Format(time.RFC1123Z),
		"Message-ID: " + msgID,
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
		"",
		"Bonjour,",
		"ceci est un message de test de bout en bout.",
		"",
	}, "\r\n"))
}

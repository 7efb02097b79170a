package relay

import (
	"errors"
	"fmt"
	"strings"

	"github.com/emersion/go-smtp"
)

// outcome is what one attempt did for one recipient.
type outcome struct {
	Rcpt string
	// Code is the SMTP reply code; 0 when no reply applies (network, TLS or
	// DNS error, or a decision taken here).
	Code int
	// Status is the RFC 3463 enhanced status code.
	Status string
	// Text is the reply ("550 5.1.1 no such mailbox") or the local error.
	Text string
	// Stage says where it happened ("RCPT TO", "STARTTLS at host:port"),
	// for traces; Text stays the bare reply for the DSN's Diagnostic-Code.
	Stage string
	// Permanent marks a failure that retrying cannot fix.
	Permanent bool
	// RemoteMTA is the host that replied; empty when none did.
	RemoteMTA string
}

func (o outcome) delivered() bool { return o.Code >= 200 && o.Code < 300 }

// describe is the outcome for logs, traces and the queue's last_error.
func (o outcome) describe() string {
	if o.Stage == "" {
		return o.Text
	}
	return o.Stage + ": " + o.Text
}

// attempt is the result of one try at a job: an outcome per recipient.
type attempt struct {
	// Hop is the "host:port" that decided (the last one tried), empty when
	// none was reached.
	Hop      string
	RemoteIP string
	Outcomes []outcome
}

// allFailed gives every recipient the outcome o.
func allFailed(rcpts []string, o outcome) attempt {
	var a attempt
	for _, rc := range rcpts {
		x := o
		x.Rcpt = rc
		a.Outcomes = append(a.Outcomes, x)
	}
	return a
}

// replyOutcome turns what a command returned into an outcome: an SMTP
// reply per its class (RFC 5321 §4.2.1: 2yz done, 4yz transient, 5yz
// permanent), anything else — the connection broke — transient.
func replyOutcome(rcpt, mta string, err error) outcome {
	var se *smtp.SMTPError
	if !errors.As(err, &se) {
		return outcome{Rcpt: rcpt, Status: "4.4.2", Text: "connection lost: " + err.Error(), RemoteMTA: mta}
	}
	return replyFrom(rcpt, mta, se.Code, se.EnhancedCode, se.Message)
}

// replyFrom builds the outcome of a reply, deriving a missing enhanced
// status code from the reply class (RFC 3463 §3.1: X.0.0).
func replyFrom(rcpt, mta string, code int, enh smtp.EnhancedCode, msg string) outcome {
	class := code / 100
	if enh[0] != class || class < 2 || class > 5 {
		enh = smtp.EnhancedCode{class, 0, 0}
	}
	status := fmt.Sprintf("%d.%d.%d", enh[0], enh[1], enh[2])
	text := fmt.Sprintf("%d %s %s", code, status, oneLine(msg))
	o := outcome{Rcpt: rcpt, Code: code, Status: status, Text: strings.TrimSpace(text), RemoteMTA: mta}
	switch {
	case class == 2:
	case class == 5:
		o.Permanent = true
	default:
		// 4yz, and nonsense replies, are retried.
		if class != 4 {
			o.Status = "4.0.0"
		}
	}
	return o
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

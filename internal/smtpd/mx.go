package smtpd

import (
	"context"
	"io"

	"github.com/emersion/go-smtp"

	"github.com/hygie-sante/hygie/internal/address"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/mail"
	"github.com/hygie-sante/hygie/internal/trust"
)

// mxSession is one connection from another MSSanté operator.
type mxSession struct {
	cfg   *Config
	conn  *smtp.Conn
	from  string
	peer  string
	rcpts []mail.Destination
}

// Mail requires TLS 1.2+ and a client certificate chained to the configured
// CA whose subject DN is the whitelist's for the sender domain (SPEC §5).
func (s *mxSession) Mail(from string, _ *smtp.MailOptions) error {
	state, ok := s.conn.TLSConnectionState()
	if !ok {
		return s.refuse(from, "no TLS", &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0}, Message: "must issue STARTTLS first"})
	}
	if len(state.VerifiedChains) == 0 || len(state.PeerCertificates) == 0 {
		return s.refuse(from, "no verified client certificate", &smtp.SMTPError{Code: 530, EnhancedCode: smtp.EnhancedCode{5, 7, 0},
			Message: "a client certificate of an MSSanté operator is required"})
	}
	cert := state.PeerCertificates[0]
	domain := ""
	if from != "" {
		addr, err := address.Parse(from)
		if err != nil {
			return &smtp.SMTPError{Code: 553, EnhancedCode: smtp.EnhancedCode{5, 1, 7}, Message: "bad sender address"}
		}
		from, domain = addr, address.Domain(addr)
	}
	if err := s.cfg.Peers.CheckPeer(domain, cert); err != nil {
		return s.refuse(from, "certificate "+trust.DNString(cert.Subject)+": "+err.Error(), &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 7, 1},
			Message: "your certificate is not the one listed for " + orNull(domain) + " in the MSSanté whitelist"})
	}
	s.from, s.peer = from, trust.DNString(cert.Subject)
	return nil
}

func orNull(d string) string {
	if d == "" {
		return "any operator"
	}
	return d
}

// refuse logs and traces a refused peer, then returns the reply.
func (s *mxSession) refuse(from, reason string, reply *smtp.SMTPError) error {
	ip := remoteIP(s.conn)
	s.cfg.Log.Warn("mx: peer refused", "remote", ip, "from", from, "reason", reason)
	s.cfg.Audit.Message(context.Background(), audit.Record{Protocol: "smtp", RemoteIP: ip, Result: "refused",
		Sender: from, Route: "mx", Detail: reason})
	return reply
}

// Rcpt accepts local recipients only: the MX does not relay.
func (s *mxSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ctx, cancel := ctxTimeout()
	defer cancel()
	d, err := s.cfg.Router.Route(ctx, nil, to)
	if err != nil {
		return toSMTP(err, s.cfg.Log)
	}
	s.rcpts = append(s.rcpts, d)
	return nil
}

// Data stores the message for the local recipients.
func (s *mxSession) Data(r io.Reader) error {
	data, err := readData(r)
	if err != nil {
		return err
	}
	ctx, cancel := ctxTimeout()
	defer cancel()
	_, err = s.cfg.Pipeline.Deliver(ctx, mail.Envelope{
		Source: mail.SourceMX, From: s.from, Recipients: s.rcpts, RemoteIP: remoteIP(s.conn), Helo: s.conn.Hostname(),
		Protocol: withProtocol(s.conn, false), Route: "mx from " + s.peer,
	}, data)
	if err != nil {
		return toSMTP(err, s.cfg.Log)
	}
	return nil
}

// Reset forgets the current transaction.
func (s *mxSession) Reset() { s.from, s.rcpts = "", nil }

// Logout ends the session.
func (s *mxSession) Logout() error { return nil }

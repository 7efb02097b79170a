package mail

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/address"
	"github.com/hygie-sante/hygie/internal/audit"
	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/queue"
	"github.com/hygie-sante/hygie/internal/store"
)

// Sources of a delivery.
const (
	SourceSubmission = "submission" // an authenticated client (SMTP submission)
	SourceWeb        = "web"        // the webmail or the device API
	SourceMX         = "mx"         // another MSSanté operator
	SourceSystem     = "system"     // a DSN or notice generated here
)

// JobRemote is the job kind of a delivery to another operator.
const JobRemote = "remote"

// RemoteJob is the payload of a JobRemote job: one message to the
// recipients of one domain.
type RemoteJob struct {
	MessageID int64    `json:"message_id"`
	From      string   `json:"from"`
	Domain    string   `json:"domain"`
	Rcpts     []string `json:"rcpts"`
	// MsgID is the Message-ID header, for traces.
	MsgID string `json:"msgid,omitempty"`
}

// Envelope is everything about a message but its content.
type Envelope struct {
	Source string
	// From is the envelope sender (RFC 5321 reverse-path); empty for DSNs.
	From string
	// Identity is the account or box the message is sent as; nil for mail
	// from other operators and system mail.
	Identity *account.Account
	// User is the authenticated person, when it differs from Identity.
	User       *account.Account
	Recipients []Destination
	RemoteIP   string
	Helo       string
	// Protocol is the WITH clause of the Received field (RFC 3848: ESMTPSA…).
	Protocol string
	// Route describes the path for the trace (e.g. "mx from operateur-a").
	Route string
}

// Pipeline stores messages and their side effects.
type Pipeline struct {
	St       *store.Store
	Hostname string
	Log      *slog.Logger
	// Wake is called after a commit that added jobs (the queue runner's Wake).
	Wake func()
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Effects run inside every delivery transaction, after the message is
	// written but before its entries are (so that the folders' UID locks
	// are held briefly, see store), to record side effects as jobs
	// (delegation copies, auto-replies, notifications…): they commit with
	// the delivery or not at all. They must not rely on the entries.
	Effects []Effect
	// OnOpened carries out what a first opening causes (see Opened).
	OnOpened func(ctx context.Context, reader *account.Account, messageID int64) error
	// Observe, when set, sees every Deliver call once done: its source, its
	// error (nil: committed) and its duration (metrics).
	Observe func(source string, err error, d time.Duration)
}

// Effect records one kind of side effect of a delivery inside its
// transaction. It must only write to tx (jobs, rows), never do I/O outside.
type Effect func(ctx context.Context, tx *store.Tx, d *Delivery) error

// Delivery is what an Effect knows of a message being stored.
type Delivery struct {
	Envelope Envelope
	// ID is the stored message's id; Header its parsed header.
	ID     int64
	Header *Header
	// MessageID is the Message-ID header (generated when it was missing).
	MessageID string
	// Local are the local accounts and boxes whose INBOX received it.
	Local []*account.Account
	// Facts are what the effects need to know first of each of Local, by
	// account id (read once for all, before the effects); an account
	// deleted since the recipients were resolved is absent.
	Facts map[int64]account.RecipientFacts
	Now   time.Time
	// Queued is set by an effect that enqueued a job, so that the workers
	// are woken after the commit.
	Queued bool
	// pending are the entries filed when the delivery ends (fileAll).
	pending []pendingEntry
}

// Delivered is the outcome of a delivery.
type Delivered struct {
	ID        int64
	MessageID string
}

// Deliver stores data for every recipient of env in one transaction: the
// message, its entry in each local recipient's INBOX, a copy in the sender's
// Sent folder for submissions, a job per remote domain, and the trace. When
// it returns nil the message is committed and fsynced: only then may the
// caller answer 250.
func (p *Pipeline) Deliver(ctx context.Context, env Envelope, data []byte) (d Delivered, err error) {
	if p.Observe != nil {
		start := time.Now()
		defer func() { p.Observe(env.Source, err, time.Since(start)) }()
	}
	now := p.now()
	m, err := p.prepare(env, data, now)
	if err != nil {
		return Delivered{}, err
	}
	err = p.St.Tx(ctx, func(tx *store.Tx) error {
		d, err = p.store(ctx, tx, env, m, now)
		return err
	})
	if err != nil {
		return Delivered{}, fmt.Errorf("deliver: %w", err)
	}
	return d, nil
}

// DeliverSystemTx stores mail generated here (a DSN) for local recipients
// inside tx, so that it commits together with what caused it: for a DSN,
// the completion of the failed delivery job, so that a crash neither loses
// nor duplicates the report. env.Source must be SourceSystem and every
// recipient local: system mail never leaves the platform.
func (p *Pipeline) DeliverSystemTx(ctx context.Context, tx *store.Tx, env Envelope, data []byte, now time.Time) (Delivered, error) {
	if env.Source != SourceSystem {
		return Delivered{}, fmt.Errorf("deliver system mail: source %q is not %q", env.Source, SourceSystem)
	}
	for _, d := range env.Recipients {
		if !d.IsLocal() {
			return Delivered{}, fmt.Errorf("deliver system mail: %s is not a local recipient", d.Address)
		}
	}
	m, err := p.prepare(env, data, now)
	if err != nil {
		return Delivered{}, fmt.Errorf("deliver system mail: %w", err)
	}
	return p.store(ctx, tx, env, m, now)
}

func (p *Pipeline) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// prepared is a message ready to store: its final bytes and its recipients
// split into local accounts and remote domains.
type prepared struct {
	header  *Header
	msgID   string
	body    []byte
	local   []*account.Account
	remote  map[string][]string
	domains []string
	rcpts   []string
}

// prepare parses the header, adds the trace field (and, for submissions, a
// missing Message-ID and Date) and groups the recipients. It does no I/O.
func (p *Pipeline) prepare(env Envelope, data []byte, now time.Time) (*prepared, error) {
	if len(env.Recipients) == 0 {
		return nil, refuse(554, 5, 5, 1, "no valid recipients")
	}
	h, err := ParseHeader(data)
	if err != nil {
		return nil, refuse(554, 5, 6, 0, "message refused: %v", err)
	}
	if h.Fields.Has(DelegationHeader) {
		// Only this platform marks delegation copies: a sender cannot.
		data = dropFields(data, strings.ToLower(DelegationHeader))
		h.Fields.Del(DelegationHeader)
	}
	var prefix bytes.Buffer
	p.writeReceived(&prefix, env, now)
	m := &prepared{header: h, msgID: h.MessageID, remote: map[string][]string{}}
	if env.Source == SourceSubmission || env.Source == SourceWeb {
		// RFC 6409 §8.3 and §8.1: the submission server may add a missing
		// Message-ID and Date.
		if m.msgID == "" {
			m.msgID = p.NewMessageID()
			fmt.Fprintf(&prefix, "Message-ID: %s\r\n", m.msgID)
		}
		if h.Date == "" {
			fmt.Fprintf(&prefix, "Date: %s\r\n", now.Format(time.RFC1123Z))
		}
	}
	m.body = make([]byte, 0, prefix.Len()+len(data))
	m.body = append(append(m.body, prefix.Bytes()...), data...)
	seen := map[int64]bool{}
	for _, d := range env.Recipients {
		m.rcpts = append(m.rcpts, d.Address)
		if d.IsLocal() {
			if !seen[d.Local.ID] {
				seen[d.Local.ID] = true
				m.local = append(m.local, d.Local)
			}
			continue
		}
		dom := address.Domain(d.Address)
		if m.remote[dom] == nil {
			m.domains = append(m.domains, dom)
		}
		m.remote[dom] = append(m.remote[dom], d.Address)
	}
	sort.Strings(m.domains)
	return m, nil
}

// store writes a prepared message, its jobs, its trace and its entries in
// tx.
//
// Filing a message into a folder takes the folder's row lock (the UIDNEXT
// counter, see mailbox.Append) until the commit: UIDs must be ascending in
// commit order (RFC 9051 §2.3.1.1), so deliveries to the same folder are
// serialised on that lock. To keep the lock held as briefly as possible,
// everything else is written first (message, remote jobs, effects, box
// journal, audit record) and the entries last; the effects do not need the
// entries to exist (they read the message, accounts and settings). The
// folders are locked in ascending mailbox id so that two concurrent
// deliveries never wait for each other in a cycle (PostgreSQL deadlock).
func (p *Pipeline) store(ctx context.Context, tx *store.Tx, env Envelope, m *prepared, now time.Time) (Delivered, error) {
	id, err := mailbox.InsertMessage(ctx, tx, mailbox.Message{MessageID: m.msgID, Sender: env.From, Subject: m.header.Subject, Body: m.body}, now)
	if err != nil {
		return Delivered{}, err
	}
	d := &Delivery{Envelope: env, ID: id, Header: m.header, MessageID: m.msgID, Local: m.local, Now: now}
	if len(m.local) > 0 && len(p.Effects) > 0 {
		ids := make([]int64, len(m.local))
		for i, a := range m.local {
			ids[i] = a.ID
		}
		if d.Facts, err = account.RecipientFactsTx(ctx, tx, ids); err != nil {
			return Delivered{}, err
		}
	}
	for _, a := range m.local {
		d.fileLater(a.ID, mailbox.Inbox, id, nil)
	}
	if env.Identity != nil && (env.Source == SourceSubmission || env.Source == SourceWeb) {
		d.fileLater(env.Identity.ID, mailbox.Sent, id, []string{`\Seen`})
		if env.Identity.IsBox() && env.User != nil {
			// The box's journal says which member sent as the box, whatever
			// the way (webmail, device API, SMTP submission).
			subject := m.header.Subject
			if subject == "" {
				subject = "(sans objet)"
			}
			if err := account.RecordBoxActionTx(ctx, tx, env.Identity.ID, env.User, account.JournalSend,
				"a envoyé « "+subject+" » à "+strings.Join(m.rcpts, ", ")); err != nil {
				return Delivered{}, err
			}
		}
	}
	for _, dom := range m.domains {
		job := RemoteJob{MessageID: id, From: env.From, Domain: dom, Rcpts: m.remote[dom], MsgID: m.msgID}
		if _, err := queue.EnqueueFor(ctx, tx, JobRemote, id, job, now); err != nil {
			return Delivered{}, err
		}
	}
	queued := len(m.domains) > 0
	for _, fx := range p.Effects {
		if err := fx(ctx, tx, d); err != nil {
			return Delivered{}, err
		}
	}
	queued = queued || d.Queued
	if queued && p.Wake != nil {
		tx.AfterCommit(p.Wake)
	}
	route := env.Route
	if route == "" {
		route = env.Source
	}
	proto := env.Protocol
	if proto == "" {
		proto = "local"
	}
	err = audit.Write(ctx, tx, audit.Record{Kind: audit.KindMessage, At: now, Protocol: proto, RemoteIP: env.RemoteIP,
		Result: "accepted", MessageID: m.msgID, Sender: env.From, Recipients: m.rcpts, Route: route,
		Address: p.traceAddress(env), Detail: fmt.Sprintf("local=%d remote=%d size=%d", len(m.local), len(m.rcpts)-countLocal(env.Recipients), len(m.body))})
	if err != nil {
		return Delivered{}, err
	}
	if err := d.fileAll(ctx, tx); err != nil {
		return Delivered{}, err
	}
	return Delivered{ID: id, MessageID: m.msgID}, nil
}

// pendingEntry is a message to file into a folder at the end of a delivery.
type pendingEntry struct {
	folder  mailbox.FolderRef
	message int64
	flags   []string
}

// fileLater records that message id goes into an account's folder when the
// delivery ends (fileAll): the folder's lock is not taken yet.
func (d *Delivery) fileLater(accountID int64, folder string, id int64, flags []string) {
	d.pending = append(d.pending, pendingEntry{folder: mailbox.FolderRef{Account: accountID, Name: folder}, message: id, flags: flags})
}

// fileAll resolves the pending entries' folders (one query) and appends the
// entries in ascending mailbox id (then in the order they were recorded),
// taking each folder's UID lock in a global order.
func (d *Delivery) fileAll(ctx context.Context, tx *store.Tx) error {
	refs := make([]mailbox.FolderRef, len(d.pending))
	for i, e := range d.pending {
		refs[i] = e.folder
	}
	ids, err := mailbox.IDs(ctx, tx, refs)
	if err != nil {
		return err
	}
	entries := make([]mailbox.Filing, len(d.pending))
	for i, e := range d.pending {
		mb, ok := ids[e.folder]
		if !ok {
			return fmt.Errorf("folder %s of account %d: %w", e.folder.Name, e.folder.Account, sql.ErrNoRows)
		}
		entries[i] = mailbox.Filing{Mailbox: mb, Message: e.message, Flags: e.flags}
	}
	sort.SliceStable(entries, func(i, j int) bool { return entries[i].Mailbox < entries[j].Mailbox })
	if _, err := mailbox.AppendAll(ctx, tx, entries, d.Now); err != nil {
		return err
	}
	d.pending = nil
	return nil
}

func (p *Pipeline) traceAddress(env Envelope) string {
	if env.User != nil {
		return env.User.Login
	}
	if env.Identity != nil {
		return env.Identity.Login
	}
	if env.Source == SourceSystem {
		return "mailer-daemon"
	}
	return strings.ToLower(env.From)
}

func countLocal(ds []Destination) int {
	n := 0
	for _, d := range ds {
		if d.IsLocal() {
			n++
		}
	}
	return n
}

// writeReceived writes the trace field of RFC 5321 §4.4.
func (p *Pipeline) writeReceived(w *bytes.Buffer, env Envelope, now time.Time) {
	proto := env.Protocol
	if proto == "" {
		proto = "local"
	}
	from := ""
	if env.Helo != "" || env.RemoteIP != "" {
		from = fmt.Sprintf("from %s (%s)\r\n\t", sanitizeTrace(env.Helo), sanitizeTrace(env.RemoteIP))
	}
	fmt.Fprintf(w, "Received: %sby %s (Hygie) with %s;\r\n\t%s\r\n", from, p.Hostname, proto, now.Format(time.RFC1123Z))
}

// sanitizeTrace keeps client-supplied text from breaking the header.
func sanitizeTrace(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x21 || r > 0x7e || r == '(' || r == ')' {
			return -1
		}
		return r
	}, s)
	if len(s) > 255 {
		s = s[:255]
	}
	if s == "" {
		return "unknown"
	}
	return s
}

// NewMessageID returns a fresh Message-ID (RFC 5322 §3.6.4) at this host.
func (p *Pipeline) NewMessageID() string {
	var b [12]byte
	rand.Read(b[:])
	return "<" + hex.EncodeToString(b[:]) + "@" + p.Hostname + ">"
}

package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
)

// mailboxChannel is the PostgreSQL notification channel of mailbox change
// events between the nodes sharing a database.
const mailboxChannel = "hygie_mailbox"

// Tuning of the cluster events.
const (
	// maxPayload keeps a notification under PostgreSQL's 8000-byte limit.
	maxPayload = 7000
	// listenPing is how long the listener waits for a notification before
	// checking that its connection is still alive.
	listenPing = 30 * time.Second
	// maxBackoff bounds the wait between two reconnections.
	clusterMaxBackoff = 5 * time.Second
)

// cluster carries mailbox change events between the nodes sharing one
// PostgreSQL database, so that an IMAP session (IDLE, or the folder cache
// of internal/imapd) on one node sees mail delivered through another.
//
// Every local change (mailbox.Changed, after commit) is published with
// pg_notify on channel hygie_mailbox; a listener connection per node
// receives the others' and wakes the local bus (mailbox.ChangedRemote,
// which also moves mailbox.Version). The payload is "<node tag>
// <id>,<id>,…": a node skips its own events, which it already applied.
//
// Notifications are sent after commit, batched, rather than with NOTIFY
// inside the delivering transaction: PostgreSQL serialises the commits of
// all notifying transactions of a database under one lock held through the
// commit's WAL flush, which would turn every node's concurrent deliveries
// into one queue. A node that dies between a commit and its notification
// loses that one wake-up (events are hints; the next change or command
// shows the message).
type cluster struct {
	n   *Node
	tag string

	mu      sync.Mutex
	pending map[int64]struct{}
	kick    chan struct{}
}

// startCluster starts the publisher and the listener of mailbox change
// events when the store is PostgreSQL; on SQLite (a single node) it does
// nothing.
func (n *Node) startCluster(ctx context.Context) {
	if n.St.Dialect != store.Postgres {
		return
	}
	var b [6]byte
	rand.Read(b[:])
	c := &cluster{n: n, tag: hex.EncodeToString(b[:]), pending: map[int64]struct{}{}, kick: make(chan struct{}, 1)}
	stop := mailbox.Publish(c.publish)
	n.wg.Add(2)
	go func() { defer n.wg.Done(); defer stop(); c.runPublisher(ctx) }()
	go func() { defer n.wg.Done(); c.runListener(ctx) }()
}

// publish queues folder id for the next notification; it never blocks.
func (c *cluster) publish(id int64) {
	c.mu.Lock()
	c.pending[id] = struct{}{}
	c.mu.Unlock()
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// take returns the queued folder ids as payloads.
func (c *cluster) take() []string {
	c.mu.Lock()
	ids := c.pending
	c.pending = map[int64]struct{}{}
	c.mu.Unlock()
	var out []string
	var b strings.Builder
	for id := range ids {
		if b.Len() > maxPayload {
			out = append(out, b.String())
			b.Reset()
		}
		if b.Len() == 0 {
			b.WriteString(c.tag)
			b.WriteByte(' ')
		} else {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	if b.Len() > 0 {
		out = append(out, b.String())
	}
	return out
}

// runPublisher sends the queued events until ctx ends. While one
// notification is under way the next changes gather into the next one.
func (c *cluster) runPublisher(ctx context.Context) {
	backoff := 100 * time.Millisecond
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
		}
		payloads := c.take()
		for i, p := range payloads {
			_, err := c.n.St.DB.ExecContext(ctx, `SELECT pg_notify($1, $2)`, mailboxChannel, p)
			if err == nil {
				backoff = 100 * time.Millisecond
				continue
			}
			if ctx.Err() != nil {
				return
			}
			c.n.Log.Warn("cluster: mailbox events not published", "err", err, "retry_in", backoff)
			c.requeue(payloads[i:])
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, clusterMaxBackoff)
			break
		}
	}
}

// requeue puts back the folder ids of payloads not sent.
func (c *cluster) requeue(payloads []string) {
	for _, p := range payloads {
		_, ids, _ := parseEvent(p)
		for _, id := range ids {
			c.publish(id)
		}
	}
}

// runListener receives the other nodes' events until ctx ends,
// reconnecting with backoff. After a reconnection every watched folder is
// woken: events may have been missed meanwhile.
func (c *cluster) runListener(ctx context.Context) {
	backoff := 100 * time.Millisecond
	connected := false
	for ctx.Err() == nil {
		err := c.listen(ctx, &connected, func() { backoff = 100 * time.Millisecond })
		if ctx.Err() != nil {
			return
		}
		c.n.Log.Warn("cluster: mailbox event listener lost", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, clusterMaxBackoff)
	}
}

// listen runs one listener connection until it fails. ok is called once it
// listens.
func (c *cluster) listen(ctx context.Context, connected *bool, ok func()) error {
	conn, err := pgx.Connect(ctx, c.n.Cfg.Database)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+mailboxChannel); err != nil {
		return err
	}
	if *connected {
		mailbox.ChangedAll()
		c.n.Log.Info("cluster: mailbox event listener reconnected")
	}
	*connected = true
	ok()
	for {
		wctx, cancel := context.WithTimeout(ctx, listenPing)
		nt, err := conn.WaitForNotification(wctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil || !pgconn.Timeout(err) {
				return err
			}
			// Quiet for a while: check the connection is alive.
			pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
			continue
		}
		tag, ids, valid := parseEvent(nt.Payload)
		if !valid {
			c.n.Log.Warn("cluster: bad mailbox event", "payload", nt.Payload)
			continue
		}
		if tag == c.tag {
			continue // ours, already applied
		}
		for _, id := range ids {
			mailbox.ChangedRemote(id)
		}
	}
}

// parseEvent splits a payload "<tag> <id>,<id>,…".
func parseEvent(p string) (tag string, ids []int64, ok bool) {
	tag, list, found := strings.Cut(p, " ")
	if !found || tag == "" {
		return "", nil, false
	}
	for _, s := range strings.Split(list, ",") {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return "", nil, false
		}
		ids = append(ids, id)
	}
	return tag, ids, true
}

package imapd

import (
	"bufio"
	"bytes"
	"io"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	gomessage "github.com/emersion/go-message"
	gomail "github.com/emersion/go-message/mail"
	"github.com/emersion/go-message/textproto"

	"github.com/hygie-sante/hygie/internal/mailbox"
)

// searchMsg is a message under evaluation, with what was loaded of it.
type searchMsg struct {
	msgRef
	entry  *mailbox.Entry
	header *textproto.Header
	body   []byte
}

// searcher evaluates SEARCH criteria (RFC 9051 §6.4.4). Flags, UIDs and
// sequence numbers come from the session's view, dates and sizes from the
// entries; headers and bodies are read only when a criterion needs them.
type searcher struct {
	s       *session
	entries map[imap.UID]*mailbox.Entry
	err     error
}

// Search answers SEARCH and UID SEARCH, with ESEARCH return options (RFC
// 4731) and SAVE (RFC 5182).
func (s *session) Search(kind imapserver.NumKind, criteria *imap.SearchCriteria, opts *imap.SearchOptions) (*imap.SearchData, error) {
	sel, err := s.selected()
	if err != nil {
		return nil, err
	}
	sel.f.mu.Lock()
	max, last := sel.clientMaxLocked()
	var maxUID imap.UID
	if last >= 0 {
		maxUID = sel.f.uids[last]
	}
	var msgs []*searchMsg
	for i, uid := range sel.f.uids {
		if c := sel.tracker.EncodeSeqNum(uint32(i + 1)); c != 0 {
			msgs = append(msgs, &searchMsg{msgRef: msgRef{seq: c, uid: uid, flags: sel.f.flags[i]}})
		}
	}
	sel.f.mu.Unlock()
	crit := staticCriteria(criteria, max, maxUID, sel.searchRes)

	sr := &searcher{s: s}
	if needs(crit, needsEntry) && len(msgs) > 0 {
		list, err := mailbox.Entries(s.ctx, s.srv.cfg.St, sel.f.id, uint32(msgs[0].uid), uint32(msgs[len(msgs)-1].uid))
		if err != nil {
			return nil, s.fail("search", err)
		}
		sr.entries = make(map[imap.UID]*mailbox.Entry, len(list))
		for i := range list {
			sr.entries[imap.UID(list[i].UID)] = &list[i]
		}
	}
	data := &imap.SearchData{}
	var seqs imap.SeqSet
	var uids imap.UIDSet
	for _, m := range msgs {
		if sr.entries != nil {
			if m.entry = sr.entries[m.uid]; m.entry == nil {
				continue // expunged meanwhile
			}
		}
		if !sr.match(m, crit) {
			if sr.err != nil {
				return nil, s.fail("search", sr.err)
			}
			continue
		}
		m.header, m.body = nil, nil
		uids.AddNum(m.uid)
		num := uint32(m.uid)
		if kind == imapserver.NumKindSeq {
			seqs.AddNum(m.seq)
			num = m.seq
		}
		if data.Min == 0 || num < data.Min {
			data.Min = num
		}
		if num > data.Max {
			data.Max = num
		}
		data.Count++
	}
	if kind == imapserver.NumKindSeq {
		data.All = seqs
	} else {
		data.All = uids
	}
	if opts.ReturnSave {
		sel.searchRes = uids
	}
	return data, nil
}

// staticCriteria copies criteria with "*" resolved and "$" replaced by the
// saved result, so that sets can be tested number by number.
func staticCriteria(c *imap.SearchCriteria, max uint32, maxUID imap.UID, saved imap.UIDSet) *imap.SearchCriteria {
	out := *c
	out.SeqNum = make([]imap.SeqSet, len(c.SeqNum))
	for i, set := range c.SeqNum {
		for _, r := range set {
			start, stop := staticRange(r.Start, r.Stop, max)
			out.SeqNum[i] = append(out.SeqNum[i], imap.SeqRange{Start: start, Stop: stop})
		}
	}
	out.UID = make([]imap.UIDSet, len(c.UID))
	for i, set := range c.UID {
		if imap.IsSearchRes(set) {
			out.UID[i] = append(imap.UIDSet{}, saved...)
			continue
		}
		for _, r := range set {
			start, stop := staticRange(uint32(r.Start), uint32(r.Stop), uint32(maxUID))
			out.UID[i] = append(out.UID[i], imap.UIDRange{Start: imap.UID(start), Stop: imap.UID(stop)})
		}
	}
	out.Not = make([]imap.SearchCriteria, len(c.Not))
	for i := range c.Not {
		out.Not[i] = *staticCriteria(&c.Not[i], max, maxUID, saved)
	}
	out.Or = make([][2]imap.SearchCriteria, len(c.Or))
	for i := range c.Or {
		out.Or[i] = [2]imap.SearchCriteria{
			*staticCriteria(&c.Or[i][0], max, maxUID, saved),
			*staticCriteria(&c.Or[i][1], max, maxUID, saved),
		}
	}
	return &out
}

func needsEntry(c *imap.SearchCriteria) bool {
	return !c.Since.IsZero() || !c.Before.IsZero() || c.Larger != 0 || c.Smaller != 0 ||
		len(c.Header) > 0 || !c.SentSince.IsZero() || !c.SentBefore.IsZero() || len(c.Body) > 0 || len(c.Text) > 0
}

// needs tells whether pred holds for c or any criteria nested in it.
func needs(c *imap.SearchCriteria, pred func(*imap.SearchCriteria) bool) bool {
	if pred(c) {
		return true
	}
	for i := range c.Not {
		if needs(&c.Not[i], pred) {
			return true
		}
	}
	for i := range c.Or {
		if needs(&c.Or[i][0], pred) || needs(&c.Or[i][1], pred) {
			return true
		}
	}
	return false
}

// match evaluates c on m, cheapest tests first. A loading error is kept in
// sr.err and makes the message not match.
func (sr *searcher) match(m *searchMsg, c *imap.SearchCriteria) bool {
	for _, set := range c.SeqNum {
		if !set.Contains(m.seq) {
			return false
		}
	}
	for _, set := range c.UID {
		if !set.Contains(m.uid) {
			return false
		}
	}
	for _, f := range c.Flag {
		if !mailbox.HasFlag(m.flags, string(f)) {
			return false
		}
	}
	for _, f := range c.NotFlag {
		if mailbox.HasFlag(m.flags, string(f)) {
			return false
		}
	}
	if !c.Since.IsZero() || !c.Before.IsZero() {
		if m.entry == nil || !matchDate(m.entry.InternalDate, c.Since, c.Before) {
			return false
		}
	}
	if c.Larger != 0 && (m.entry == nil || m.entry.Size <= c.Larger) {
		return false
	}
	if c.Smaller != 0 && (m.entry == nil || m.entry.Size >= c.Smaller) {
		return false
	}
	if len(c.Header) > 0 || !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
		h := sr.header(m)
		if h == nil {
			return false
		}
		mh := gomessage.Header{Header: *h}
		for _, hc := range c.Header {
			if !matchHeaderFields(mh.FieldsByKey(hc.Key), hc.Value) {
				return false
			}
		}
		if !c.SentSince.IsZero() || !c.SentBefore.IsZero() {
			t, err := (&gomail.Header{Header: gomessage.Header{Header: *h}}).Date()
			if err != nil || !matchDate(t, c.SentSince, c.SentBefore) {
				return false
			}
		}
	}
	if len(c.Body) > 0 || len(c.Text) > 0 {
		body := sr.body(m)
		if body == nil {
			return false
		}
		for _, text := range c.Text {
			if !matchEntity(readEntity(body), text, true) {
				return false
			}
		}
		for _, text := range c.Body {
			if !matchEntity(readEntity(body), text, false) {
				return false
			}
		}
	}
	for i := range c.Not {
		if sr.match(m, &c.Not[i]) {
			return false
		}
	}
	for i := range c.Or {
		if !sr.match(m, &c.Or[i][0]) && !sr.match(m, &c.Or[i][1]) {
			return false
		}
	}
	return true
}

func (sr *searcher) header(m *searchMsg) *textproto.Header {
	if m.header != nil {
		return m.header
	}
	var raw []byte
	if m.body != nil {
		raw = m.body
	} else {
		var err error
		if raw, err = mailbox.Header(sr.s.ctx, sr.s.srv.cfg.St, m.entry.MessageID); err != nil {
			sr.err = err
			return nil
		}
	}
	h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(raw)))
	m.header = &h
	return m.header
}

func (sr *searcher) body(m *searchMsg) []byte {
	if m.body == nil {
		b, err := mailbox.Body(sr.s.ctx, sr.s.srv.cfg.St, m.entry.MessageID)
		if err != nil {
			sr.err = err
			return nil
		}
		m.body = b
	}
	return m.body
}

// matchDate compares dates only, in the zone of t, as RFC 9051 §6.4.4
// asks ("disregarding time and timezone").
func matchDate(t, since, before time.Time) bool {
	d := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	if !since.IsZero() && d.Before(since) {
		return false
	}
	if !before.IsZero() && !d.Before(before) {
		return false
	}
	return true
}

// matchHeaderFields: a field contains the value, ignoring case; an empty
// value matches any message that has the field.
func matchHeaderFields(fields gomessage.HeaderFields, value string) bool {
	if value == "" {
		return fields.Len() > 0
	}
	value = strings.ToLower(value)
	for fields.Next() {
		v, err := fields.Text()
		if err != nil {
			v = fields.Value()
		}
		if strings.Contains(strings.ToLower(v), value) {
			return true
		}
	}
	return false
}

func readEntity(body []byte) *gomessage.Entity {
	e, _ := gomessage.Read(bytes.NewReader(body))
	if e == nil {
		e, _ = gomessage.New(gomessage.Header{}, bytes.NewReader(body))
	}
	return e
}

// matchEntity looks for text in the decoded text parts of a message, and
// in its header fields when includeHeader is set (TEXT vs BODY).
func matchEntity(e *gomessage.Entity, text string, includeHeader bool) bool {
	if text == "" {
		return true
	}
	if e == nil {
		return false
	}
	if includeHeader && matchHeaderFields(e.Header.Fields(), text) {
		return true
	}
	if mr := e.MultipartReader(); mr != nil {
		for {
			p, err := mr.NextPart()
			if err == io.EOF || err != nil {
				return false
			}
			if matchEntity(p, text, includeHeader) {
				return true
			}
		}
	}
	t, _, _ := e.Header.ContentType()
	if t != "" && !strings.HasPrefix(t, "text/") && !strings.HasPrefix(t, "message/") {
		return false
	}
	b, err := io.ReadAll(e.Body)
	if err != nil && len(b) == 0 {
		return false
	}
	return bytes.Contains(bytes.ToLower(b), bytes.ToLower([]byte(text)))
}

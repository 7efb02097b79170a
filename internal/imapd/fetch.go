package imapd

import (
	"bufio"
	"bytes"
	"errors"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-message/textproto"

	"github.com/hygie-sante/hygie/internal/mailbox"
	"github.com/hygie-sante/hygie/internal/store"
)

// Fetch answers FETCH and UID FETCH (RFC 9051 §6.4.5). FLAGS and UID come
// from the session's view; dates and sizes from the entries; the message
// content is read only for ENVELOPE (header only), BODYSTRUCTURE and body
// sections. A non-peek body section sets \Seen (RFC 9051 §6.4.5), unless
// the folder was opened with EXAMINE.
func (s *session) Fetch(w *imapserver.FetchWriter, numSet imap.NumSet, opts *imap.FetchOptions) error {
	sel, err := s.selected()
	if err != nil {
		return err
	}
	refs := sel.resolve(numSet)
	if len(refs) == 0 {
		return nil
	}
	seen, err := s.markSeen(sel, refs, opts)
	if err != nil {
		return s.fail("fetch", err)
	}
	var entries map[imap.UID]*mailbox.Entry
	if needEntries(opts) {
		list, err := mailbox.Entries(s.ctx, s.srv.cfg.St, sel.f.id, uint32(refs[0].uid), uint32(refs[len(refs)-1].uid))
		if err != nil {
			return s.fail("fetch", err)
		}
		entries = make(map[imap.UID]*mailbox.Entry, len(list))
		for i := range list {
			entries[imap.UID(list[i].UID)] = &list[i]
		}
	}
	wantHeader, wantBody := contentNeeds(opts)
	for _, r := range refs {
		var e *mailbox.Entry
		if entries != nil {
			if e = entries[r.uid]; e == nil {
				continue // expunged meanwhile; its EXPUNGE comes later
			}
		}
		var hdr, body []byte
		switch {
		case wantBody:
			body, err = mailbox.Body(s.ctx, s.srv.cfg.St, e.MessageID)
			hdr = body[:min(len(body), mailbox.HeaderSize(body))]
		case wantHeader:
			hdr, err = mailbox.Header(s.ctx, s.srv.cfg.St, e.MessageID)
		}
		if errors.Is(err, mailbox.ErrNoMessage) {
			continue
		}
		if err != nil {
			return s.fail("fetch", err)
		}
		flags, changed := r.flags, false
		if f, ok := seen[r.uid]; ok {
			flags, changed = f, true
		}
		if err := writeMessage(w, r, e, flags, changed, hdr, body, opts); err != nil {
			return err
		}
	}
	return nil
}

// needEntries tells whether a FETCH needs more than UIDs and flags.
func needEntries(o *imap.FetchOptions) bool {
	return o.InternalDate || o.RFC822Size || o.Envelope || o.BodyStructure != nil ||
		len(o.BodySection) > 0 || len(o.BinarySection) > 0 || len(o.BinarySectionSize) > 0
}

// contentNeeds tells whether a FETCH needs the header section only or the
// whole message.
func contentNeeds(o *imap.FetchOptions) (header, body bool) {
	header = o.Envelope
	body = o.BodyStructure != nil || len(o.BinarySection) > 0 || len(o.BinarySectionSize) > 0
	for _, bs := range o.BodySection {
		if headerOnly(bs) {
			header = true
		} else {
			body = true
		}
	}
	return header, body
}

// headerOnly tells whether a section is within the top-level header
// (HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT).
func headerOnly(bs *imap.FetchItemBodySection) bool {
	return len(bs.Part) == 0 && bs.Specifier == imap.PartSpecifierHeader
}

// markSeen sets \Seen on the messages a non-peek body section reads, and
// returns their new flags.
func (s *session) markSeen(sel *selection, refs []msgRef, opts *imap.FetchOptions) (map[imap.UID]string, error) {
	if sel.readOnly {
		return nil, nil
	}
	peek := true
	for _, bs := range opts.BodySection {
		peek = peek && bs.Peek
	}
	for _, bs := range opts.BinarySection {
		peek = peek && bs.Peek
	}
	if peek {
		return nil, nil
	}
	var uids []uint32
	for _, r := range refs {
		if !mailbox.HasFlag(r.flags, mailbox.FlagSeen) {
			uids = append(uids, uint32(r.uid))
		}
	}
	if len(uids) == 0 {
		return nil, nil
	}
	upd, _, err := s.storeFlags(sel, uids, mailbox.FlagsAdd, []string{mailbox.FlagSeen})
	if err != nil {
		return nil, err
	}
	out := make(map[imap.UID]string, len(upd))
	for _, u := range upd {
		if u.Changed {
			out[imap.UID(u.UID)] = u.Flags
		}
	}
	return out, nil
}

// storeFlags writes flags and records the change in the shared view. When
// it reports viaPoll, the change introduced a keyword: the session gets
// FLAGS then the FETCH of each changed message at its next poll, and must
// not report them itself before.
func (s *session) storeFlags(sel *selection, uids []uint32, op mailbox.FlagOp, flags []string) (upd []mailbox.FlagUpdate, viaPoll bool, err error) {
	v0 := mailbox.Version(sel.f.id)
	var unseen map[uint32]int64
	err = s.write(func(tx *store.Tx) error {
		var err error
		if unseen, err = s.unseenBefore(tx, sel, uids, op, flags); err != nil {
			return err
		}
		if upd, err = mailbox.StoreFlags(s.ctx, tx, sel.f.id, uids, op, flags); err != nil {
			return err
		}
		return s.boxDeleted(tx, sel.t, op, flags, upd)
	})
	if err != nil {
		return nil, false, err
	}
	s.reportOpened(sel, unseen, upd)
	viaPoll, err = sel.f.localFlags(s.ctx, s.srv.cfg.St, v0, upd, sel.tracker)
	return upd, viaPoll, err
}

// writeMessage writes one FETCH response.
func writeMessage(w *imapserver.FetchWriter, r msgRef, e *mailbox.Entry, flags string, flagsChanged bool, hdr, body []byte, o *imap.FetchOptions) error {
	// Parse before starting the response: nothing may fail midway.
	var env *imap.Envelope
	if o.Envelope {
		h, _ := textproto.ReadHeader(bufio.NewReader(bytes.NewReader(hdr)))
		env = imapserver.ExtractEnvelope(h)
	}
	var bs imap.BodyStructure
	if o.BodyStructure != nil {
		bs = imapserver.ExtractBodyStructure(bytes.NewReader(body))
	}
	sections := make([][]byte, len(o.BodySection))
	for i, sec := range o.BodySection {
		src := body
		if headerOnly(sec) {
			src = hdr
		}
		sections[i] = bodySection(src, len(hdr), sec)
	}

	rw := w.CreateMessage(r.seq)
	if o.UID {
		rw.WriteUID(r.uid)
	}
	if o.Flags || flagsChanged {
		rw.WriteFlags(toFlags(flags))
	}
	if o.InternalDate {
		rw.WriteInternalDate(e.InternalDate)
	}
	if o.RFC822Size {
		rw.WriteRFC822Size(e.Size)
	}
	if o.Envelope {
		rw.WriteEnvelope(env)
	}
	if bs != nil {
		rw.WriteBodyStructure(bs)
	}
	for i, sec := range o.BodySection {
		if err := writeLiteral(rw.WriteBodySection(sec, int64(len(sections[i]))), sections[i]); err != nil {
			return err
		}
	}
	for _, sec := range o.BinarySection {
		b := imapserver.ExtractBinarySection(bytes.NewReader(body), sec)
		if err := writeLiteral(rw.WriteBinarySection(sec, int64(len(b))), b); err != nil {
			return err
		}
	}
	for _, sec := range o.BinarySectionSize {
		rw.WriteBinarySectionSize(sec, imapserver.ExtractBinarySectionSize(bytes.NewReader(body), sec))
	}
	return rw.Close()
}

func writeLiteral(wc interface {
	Write([]byte) (int, error)
	Close() error
}, b []byte) error {
	_, werr := wc.Write(b)
	cerr := wc.Close()
	if werr != nil {
		return werr
	}
	return cerr
}

// bodySection extracts a BODY[...] section (RFC 9051 §6.4.5). The whole
// message, its header and its text are cut from the stored bytes as they
// are, so that BODY[] is byte for byte what was received and its length is
// RFC822.SIZE; other sections are extracted by imapserver.
func bodySection(msg []byte, hdrLen int, sec *imap.FetchItemBodySection) []byte {
	if len(sec.Part) == 0 && len(sec.HeaderFields) == 0 && len(sec.HeaderFieldsNot) == 0 {
		switch sec.Specifier {
		case imap.PartSpecifierNone:
			return partial(msg, sec.Partial)
		case imap.PartSpecifierHeader:
			return partial(msg[:min(hdrLen, len(msg))], sec.Partial)
		case imap.PartSpecifierText:
			return partial(msg[min(hdrLen, len(msg)):], sec.Partial)
		}
	}
	return imapserver.ExtractBodySection(bytes.NewReader(msg), sec)
}

// partial applies <offset.size> (RFC 9051 §6.4.5).
func partial(b []byte, p *imap.SectionPartial) []byte {
	if p == nil {
		return b
	}
	if p.Offset >= int64(len(b)) {
		return nil
	}
	end := p.Offset + p.Size
	if end > int64(len(b)) {
		end = int64(len(b))
	}
	return b[p.Offset:end]
}

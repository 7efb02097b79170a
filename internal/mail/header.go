package mail

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/emersion/go-message/textproto"
)

// maxHeaderBytes bounds the header section we parse (RFC 5322 §2.1.1 lines
// are at most 998 octets; a header of a megabyte is hostile).
const maxHeaderBytes = 1 << 20

// Header is what the pipeline needs of a message's header section.
type Header struct {
	MessageID     string
	Subject       string
	From          string
	Date          string
	AutoSubmitted string
	// HasDispositionNotificationTo is set when an RFC 8098 receipt is asked.
	DispositionNotificationTo string
	// Fields is the parsed header, for further use.
	Fields textproto.Header
}

// ParseHeader reads the header section of a message (RFC 5322 §2.2). It
// refuses a message without a header/body separator only when the header
// is malformed; a message with no body is fine.
func ParseHeader(data []byte) (*Header, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("empty message")
	}
	r := bufio.NewReader(io.LimitReader(bytes.NewReader(data), maxHeaderBytes))
	h, err := textproto.ReadHeader(r)
	if err != nil {
		return nil, fmt.Errorf("malformed header: %w", err)
	}
	dec := &mime.WordDecoder{CharsetReader: charsetReader}
	subj := h.Get("Subject")
	if d, err := dec.DecodeHeader(subj); err == nil {
		subj = d
	}
	return &Header{
		MessageID:                 strings.TrimSpace(h.Get("Message-Id")),
		Subject:                   strings.TrimSpace(subj),
		From:                      strings.TrimSpace(h.Get("From")),
		Date:                      strings.TrimSpace(h.Get("Date")),
		AutoSubmitted:             strings.TrimSpace(h.Get("Auto-Submitted")),
		DispositionNotificationTo: strings.TrimSpace(h.Get("Disposition-Notification-To")),
		Fields:                    h,
	}, nil
}

// charsetReader accepts the charsets Go knows natively; others are left
// encoded rather than failing the message.
func charsetReader(charset string, input io.Reader) (io.Reader, error) {
	switch strings.ToLower(charset) {
	case "utf-8", "us-ascii":
		return input, nil
	case "iso-8859-1", "latin1":
		b, err := io.ReadAll(input)
		if err != nil {
			return nil, err
		}
		r := make([]rune, len(b))
		for i, c := range b {
			r[i] = rune(c)
		}
		return strings.NewReader(string(r)), nil
	}
	return nil, fmt.Errorf("unsupported charset %q", charset)
}

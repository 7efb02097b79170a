package main

import (
	"bytes"
	"fmt"
	"time"
)

// benchLine is the length of a generated body line, CRLF included
// (RFC 5322 §2.1.1 recommends at most 78 characters before the CRLF).
const benchLine = 78

// messageMaker builds valid RFC 5322 messages of an exact size: a header
// section (From, To, Subject, Date, Message-ID, MIME fields) and a 7-bit
// text/plain body of CRLF-terminated lines that never start with a dot.
type messageMaker struct {
	from, to string
	size     int
	// lines holds enough full body lines for any message of size bytes;
	// tail is one line's worth of text without its CRLF.
	lines, tail []byte
}

func newMessageMaker(from, to string, size int) *messageMaker {
	n := size/benchLine + 2
	lines := make([]byte, 0, n*benchLine)
	for i := 0; i < n; i++ {
		for j := 0; j < benchLine-2; j++ {
			lines = append(lines, byte('a'+(i+j)%26))
		}
		lines = append(lines, '\r', '\n')
	}
	tail := bytes.Repeat([]byte("z"), benchLine)
	return &messageMaker{from: from, to: to, size: size, lines: lines, tail: tail}
}

// make returns one message with the given Message-ID (angle brackets
// included) and subject. When the header alone exceeds the requested size
// the message gets an empty body and is larger than asked.
func (m *messageMaker) make(msgID, subject string, date time.Time) []byte {
	var b bytes.Buffer
	b.Grow(m.size + 512)
	fmt.Fprintf(&b, "From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nDate: %s\r\nMessage-ID: %s\r\n",
		m.from, m.to, subject, date.Format(time.RFC1123Z), msgID)
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit\r\n\r\n")
	m.appendBody(&b, m.size-b.Len())
	return b.Bytes()
}

// appendBody writes exactly n bytes of body lines (nothing when n < 2).
func (m *messageMaker) appendBody(b *bytes.Buffer, n int) {
	if n < 2 {
		return
	}
	full, rest := n/benchLine, n%benchLine
	if rest == 1 {
		// A 77-character line (79 bytes) absorbs the odd byte.
		full--
		rest += benchLine
	}
	b.Write(m.lines[:full*benchLine])
	if rest >= 2 {
		b.Write(m.tail[:rest-2])
		b.WriteString("\r\n")
	}
}

package htmlsafe

import (
	"io"
	"strings"

	"golang.org/x/net/html"
)

// blockElement starts a new line in the text rendering.
var blockElement = map[string]bool{"p": true, "div": true, "li": true, "blockquote": true, "tr": true,
	"table": true, "ul": true, "ol": true, "pre": true, "hr": true}

// ToText renders an HTML fragment as plain text, for the text/plain
// alternative of a message (RFC 2046 §5.1.4): tags are dropped, line breaks
// and blocks become new lines, list items are marked with "- ", images
// are left out, links keep their text followed by their target.
func ToText(in string) string {
	z := html.NewTokenizer(strings.NewReader(in))
	var b strings.Builder
	newline := func() {
		s := b.String()
		if s != "" && !strings.HasSuffix(s, "\n") {
			b.WriteByte('\n')
		}
	}
	var href []string
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				return strings.TrimSpace(b.String())
			}
			return tidyLines(b.String())
		case html.TextToken:
			raw := string(z.Text())
			t := strings.Join(strings.Fields(raw), " ")
			if t == "" {
				if raw != "" && b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") && !strings.HasSuffix(b.String(), " ") {
					b.WriteByte(' ')
				}
				continue
			}
			if isSpace(raw[0]) && b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") && !strings.HasSuffix(b.String(), " ") {
				b.WriteByte(' ')
			}
			b.WriteString(t)
			if isSpace(raw[len(raw)-1]) {
				b.WriteByte(' ')
			}
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			switch {
			case t.Data == "br":
				b.WriteByte('\n')
			case t.Data == "li":
				newline()
				b.WriteString("- ")
			case t.Data == "a":
				h := ""
				for _, a := range t.Attr {
					if a.Key == "href" {
						h = a.Val
					}
				}
				href = append(href, h)
			case t.Data == "script" || t.Data == "style":
				// Their content is not text; skip to the end tag.
				for {
					if n := z.Next(); n == html.ErrorToken || (n == html.EndTagToken && z.Token().Data == t.Data) {
						break
					}
				}
			case blockElement[t.Data]:
				newline()
			}
		case html.EndTagToken:
			t := z.Token()
			switch {
			case t.Data == "a" && len(href) > 0:
				h := href[len(href)-1]
				href = href[:len(href)-1]
				if h != "" && !strings.Contains(b.String(), h) {
					b.WriteString(" <" + strings.TrimPrefix(h, "mailto:") + ">")
				}
			case blockElement[t.Data]:
				newline()
			}
		}
	}
}

// tidyLines trims spaces at line ends and collapses runs of blank lines.
func tidyLines(s string) string {
	lines := strings.Split(s, "\n")
	out := lines[:0]
	blank := 0
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			blank++
			if blank > 1 {
				continue
			}
		} else {
			blank = 0
		}
		out = append(out, l)
	}
	return strings.TrimSpace(strings.Join(out, "\n"))
}

func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' }

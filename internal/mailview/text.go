package mailview

import (
	"html"
	"regexp"
	"strings"

	xhtml "golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// blocks are the elements that start and end a line in text.
var blocks = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true,
	atom.H5: true, atom.H6: true, atom.Ul: true, atom.Ol: true, atom.Li: true, atom.Table: true,
	atom.Tr: true, atom.Blockquote: true, atom.Pre: true, atom.Hr: true, atom.Section: true,
	atom.Article: true, atom.Header: true, atom.Footer: true, atom.Address: true, atom.Dl: true,
	atom.Dt: true, atom.Dd: true, atom.Center: true, atom.Caption: true, atom.Figure: true,
}

var blankLines = regexp.MustCompile(`\n{3,}`)
var spaces = regexp.MustCompile(`[ \t\r\n\f]+`)

// HTMLToText returns the text of an HTML document or fragment: what a
// person reads, with line breaks where blocks and <br> are, and the target
// of links whose text differs from it.
func HTMLToText(s string) string {
	doc, err := xhtml.Parse(strings.NewReader(s))
	if err != nil {
		return s
	}
	var b strings.Builder
	var walk func(n *xhtml.Node, pre bool)
	newline := func() {
		str := b.String()
		if str != "" && !strings.HasSuffix(str, "\n") {
			b.WriteByte('\n')
		}
	}
	walk = func(n *xhtml.Node, pre bool) {
		switch n.Type {
		case xhtml.TextNode:
			t := n.Data
			if !pre {
				t = spaces.ReplaceAllString(t, " ")
				if strings.HasSuffix(b.String(), "\n") || b.Len() == 0 {
					t = strings.TrimLeft(t, " ")
				}
			}
			b.WriteString(t)
			return
		case xhtml.ElementNode:
			switch n.DataAtom {
			case atom.Script, atom.Style, atom.Head, atom.Title, atom.Noscript, atom.Template:
				return
			case atom.Br:
				b.WriteByte('\n')
				return
			case atom.Img:
				for _, a := range n.Attr {
					if a.Key == "alt" && strings.TrimSpace(a.Val) != "" {
						b.WriteString(strings.TrimSpace(a.Val))
					}
				}
				return
			case atom.Td, atom.Th:
				if s := b.String(); s != "" && !strings.HasSuffix(s, "\n") && !strings.HasSuffix(s, " ") {
					b.WriteByte(' ')
				}
			}
			if blocks[n.DataAtom] {
				newline()
			}
			if n.DataAtom == atom.Li {
				b.WriteString("- ")
			}
			if n.DataAtom == atom.Pre {
				pre = true
			}
		}
		start := b.Len()
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, pre)
		}
		if n.Type == xhtml.ElementNode && n.DataAtom == atom.A {
			for _, a := range n.Attr {
				href := strings.TrimSpace(a.Val)
				if a.Key == "href" && (strings.HasPrefix(href, "http://") || strings.HasPrefix(href, "https://")) &&
					strings.TrimSpace(b.String()[start:]) != href {
					b.WriteString(" <" + href + ">")
				}
			}
		}
		if n.Type == xhtml.ElementNode && blocks[n.DataAtom] {
			newline()
		}
	}
	walk(doc, false)
	lines := strings.Split(b.String(), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " \t")
	}
	return strings.TrimSpace(blankLines.ReplaceAllString(strings.Join(lines, "\n"), "\n\n"))
}

// TextToHTML renders plain text as HTML: escaped, line breaks kept.
func TextToHTML(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(html.EscapeString(s), "\n", "<br>\n")
}

package mailview

import (
	"bytes"
	"encoding/base64"
	"regexp"
	"strings"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// The HTML of a mail is shown in a sandboxed frame whose Content-Security-
// Policy forbids scripts and every remote load; the sanitiser below is a
// second line: it keeps a list of harmless elements and attributes, drops
// scripts, frames, forms, SVG and MathML, event handlers, remote images and
// dangerous CSS, and makes links open outside the frame.

// dropped elements are removed with their content.
var dropped = map[atom.Atom]bool{
	atom.Script: true, atom.Noscript: true, atom.Iframe: true, atom.Frame: true, atom.Frameset: true,
	atom.Object: true, atom.Embed: true, atom.Applet: true, atom.Svg: true, atom.Math: true,
	atom.Template: true, atom.Link: true, atom.Meta: true, atom.Base: true, atom.Title: true,
	atom.Form: true, atom.Input: true, atom.Button: true, atom.Select: true, atom.Textarea: true,
	atom.Option: true, atom.Audio: true, atom.Video: true, atom.Source: true, atom.Track: true,
	atom.Canvas: true, atom.Dialog: true, atom.Param: true, atom.Head: true,
}

// kept elements are kept (with filtered attributes); any other element is
// replaced by its content.
var kept = map[atom.Atom]bool{
	atom.A: true, atom.Abbr: true, atom.Address: true, atom.Article: true, atom.B: true, atom.Big: true,
	atom.Blockquote: true, atom.Br: true, atom.Caption: true, atom.Center: true, atom.Cite: true,
	atom.Code: true, atom.Col: true, atom.Colgroup: true, atom.Dd: true, atom.Del: true, atom.Div: true,
	atom.Dl: true, atom.Dt: true, atom.Em: true, atom.Font: true, atom.Footer: true, atom.H1: true,
	atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true, atom.Header: true,
	atom.Hr: true, atom.I: true, atom.Img: true, atom.Ins: true, atom.Kbd: true, atom.Li: true,
	atom.Mark: true, atom.Ol: true, atom.P: true, atom.Pre: true, atom.Q: true, atom.S: true,
	atom.Samp: true, atom.Section: true, atom.Small: true, atom.Span: true, atom.Strike: true,
	atom.Strong: true, atom.Style: true, atom.Sub: true, atom.Sup: true, atom.Table: true,
	atom.Tbody: true, atom.Td: true, atom.Tfoot: true, atom.Th: true, atom.Thead: true, atom.Tr: true,
	atom.Tt: true, atom.U: true, atom.Ul: true, atom.Var: true, atom.Main: true, atom.Nav: true,
	atom.Figure: true, atom.Figcaption: true, atom.Time: true,
}

// keptAttrs are the attributes allowed on every kept element; href and src
// are checked separately.
var keptAttrs = map[string]bool{
	"style": true, "class": true, "align": true, "valign": true, "width": true, "height": true,
	"bgcolor": true, "color": true, "face": true, "size": true, "border": true, "cellpadding": true,
	"cellspacing": true, "colspan": true, "rowspan": true, "dir": true, "lang": true, "title": true,
	"alt": true, "start": true, "type": true, "span": true, "nowrap": true, "hspace": true,
	"vspace": true, "summary": true, "headers": true, "scope": true, "datetime": true,
}

// Options tune the sanitiser.
type Options struct {
	// Inline maps Content-IDs to the parts an HTML body refers to as
	// "cid:…" (RFC 2392); their images are embedded as data: URIs.
	Inline map[string]*Part
	// MaxImage bounds an embedded image, in bytes (default 2 MiB).
	MaxImage int
}

// SanitizeHTML returns a complete, safe HTML document showing the body of
// an HTML mail.
func SanitizeHTML(src string, o Options) string {
	if o.MaxImage == 0 {
		o.MaxImage = 2 << 20
	}
	doc, err := html.Parse(strings.NewReader(src))
	if err != nil {
		return "<!doctype html><meta charset=\"utf-8\"><pre>" + html.EscapeString(src) + "</pre>"
	}
	// Keep the style sheets of the head (mails style themselves there).
	var styles []*html.Node
	var body *html.Node
	var find func(*html.Node)
	find = func(n *html.Node) {
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			if c.Type != html.ElementNode {
				continue
			}
			switch c.DataAtom {
			case atom.Style:
				if c.Parent != nil && c.Parent.DataAtom == atom.Head {
					styles = append(styles, c)
				}
			case atom.Body:
				if body == nil {
					body = c
				}
			}
			if c.DataAtom == atom.Html || c.DataAtom == atom.Head {
				find(c)
			}
		}
	}
	find(doc)
	var out bytes.Buffer
	out.WriteString(`<!doctype html><html><head><meta charset="utf-8"><style>body{font-family:system-ui,sans-serif;margin:.5rem;overflow-wrap:anywhere}img{max-width:100%;height:auto}</style>`)
	for _, st := range styles {
		if css := sanitizeStyleSheet(textOf(st)); css != "" {
			out.WriteString("<style>")
			out.WriteString(css)
			out.WriteString("</style>")
		}
	}
	out.WriteString("</head><body>")
	if body != nil {
		clean(body, o)
		for c := body.FirstChild; c != nil; c = c.NextSibling {
			html.Render(&out, c)
		}
	}
	out.WriteString("</body></html>")
	return out.String()
}

// SanitizeFragment returns safe HTML for a fragment (a signature inserted
// in a message being composed).
func SanitizeFragment(src string) string {
	nodes, err := html.ParseFragment(strings.NewReader(src), &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div})
	if err != nil {
		return html.EscapeString(src)
	}
	wrap := &html.Node{Type: html.ElementNode, Data: "div", DataAtom: atom.Div}
	for _, n := range nodes {
		wrap.AppendChild(n)
	}
	clean(wrap, Options{MaxImage: 2 << 20})
	var out bytes.Buffer
	for c := wrap.FirstChild; c != nil; c = c.NextSibling {
		html.Render(&out, c)
	}
	return out.String()
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.TextNode {
			b.WriteString(c.Data)
		}
	}
	return b.String()
}

// clean filters the children of n in place.
func clean(n *html.Node, o Options) {
	for c := n.FirstChild; c != nil; {
		next := c.NextSibling
		switch c.Type {
		case html.TextNode:
		case html.ElementNode:
			switch {
			case c.Namespace != "" || dropped[c.DataAtom]:
				n.RemoveChild(c)
			case c.DataAtom == atom.Style:
				css := sanitizeStyleSheet(textOf(c))
				for k := c.FirstChild; k != nil; k = c.FirstChild {
					c.RemoveChild(k)
				}
				c.Attr = nil
				if css == "" {
					n.RemoveChild(c)
				} else {
					c.AppendChild(&html.Node{Type: html.TextNode, Data: css})
				}
			case kept[c.DataAtom]:
				if !cleanAttrs(c, o) {
					n.RemoveChild(c)
					break
				}
				clean(c, o)
			default:
				// Unknown or unwanted element: keep its content only.
				clean(c, o)
				for k := c.FirstChild; k != nil; k = c.FirstChild {
					c.RemoveChild(k)
					n.InsertBefore(k, c)
				}
				n.RemoveChild(c)
			}
		default:
			// Comments, doctypes…
			n.RemoveChild(c)
		}
		c = next
	}
}

// cleanAttrs filters the attributes of an element; it returns false when
// the element should go (an image with nothing safe to show).
func cleanAttrs(n *html.Node, o Options) bool {
	var attrs []html.Attribute
	var alt string
	for _, a := range n.Attr {
		key := strings.ToLower(a.Key)
		if a.Namespace != "" {
			continue
		}
		switch {
		case key == "href" && n.DataAtom == atom.A:
			if safeLink(a.Val) {
				attrs = append(attrs, html.Attribute{Key: "href", Val: strings.TrimSpace(a.Val)})
			}
		case key == "src" && n.DataAtom == atom.Img:
			if v, ok := safeImage(a.Val, o); ok {
				attrs = append(attrs, html.Attribute{Key: "src", Val: v})
			}
		case key == "style":
			if v := sanitizeDeclarations(a.Val); v != "" {
				attrs = append(attrs, html.Attribute{Key: "style", Val: v})
			}
		case keptAttrs[key]:
			if key == "alt" {
				alt = a.Val
			}
			attrs = append(attrs, html.Attribute{Key: key, Val: a.Val})
		}
	}
	n.Attr = attrs
	switch n.DataAtom {
	case atom.A:
		n.Attr = append(n.Attr, html.Attribute{Key: "target", Val: "_blank"}, html.Attribute{Key: "rel", Val: "noopener noreferrer"})
	case atom.Img:
		for _, a := range n.Attr {
			if a.Key == "src" {
				return true
			}
		}
		// A blocked image: leave its description in its place.
		if alt = strings.TrimSpace(alt); alt != "" && n.Parent != nil {
			n.Parent.InsertBefore(&html.Node{Type: html.TextNode, Data: "[" + alt + "]"}, n)
		}
		return false
	}
	return true
}

// safeLink accepts web and mail links only.
func safeLink(v string) bool {
	v = strings.ToLower(strings.TrimSpace(v))
	return strings.HasPrefix(v, "https://") || strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "mailto:") || strings.HasPrefix(v, "#")
}

var dataImage = regexp.MustCompile(`^data:image/(png|gif|jpeg|jpg|webp);base64,[A-Za-z0-9+/=\s]+$`)

// safeImage keeps raster data: URIs and turns cid: references into them;
// every other source (remote images, SVG) is refused.
func safeImage(v string, o Options) (string, bool) {
	v = strings.TrimSpace(v)
	low := strings.ToLower(v)
	switch {
	case strings.HasPrefix(low, "data:"):
		if len(v) <= o.MaxImage*4/3+64 && dataImage.MatchString(low) {
			return v, true
		}
	case strings.HasPrefix(low, "cid:"):
		p := o.Inline[strings.Trim(v[4:], "<>")]
		if p == nil || len(p.Data) > o.MaxImage {
			return "", false
		}
		switch p.ContentType {
		case "image/png", "image/gif", "image/jpeg", "image/webp":
			return "data:" + p.ContentType + ";base64," + base64.StdEncoding.EncodeToString(p.Data), true
		}
	}
	return "", false
}

var cssComment = regexp.MustCompile(`(?s)/\*.*?\*/`)

// cssForbidden are what CSS can use to load or run something.
var cssForbidden = []string{"url(", "expression", "javascript", "vbscript", "behavior", "binding", "@import", "image-set", "\\", "<"}

func cssDangerous(s string) bool {
	low := strings.ToLower(s)
	for _, f := range cssForbidden {
		if strings.Contains(low, f) {
			return true
		}
	}
	return false
}

// sanitizeDeclarations filters a style attribute declaration by
// declaration.
func sanitizeDeclarations(s string) string {
	s = cssComment.ReplaceAllString(s, "")
	var out []string
	for _, d := range strings.Split(s, ";") {
		d = strings.TrimSpace(d)
		if d == "" || !strings.Contains(d, ":") || cssDangerous(d) {
			continue
		}
		out = append(out, d)
	}
	return strings.Join(out, "; ")
}

var cssURL = regexp.MustCompile(`(?i)url\s*\([^)]*\)`)
var cssImport = regexp.MustCompile(`(?i)@import[^;]*;?`)

// sanitizeStyleSheet keeps a style sheet without its remote references; a
// sheet that tries to hide something (escapes, expressions) goes entirely.
func sanitizeStyleSheet(s string) string {
	s = cssComment.ReplaceAllString(s, "")
	s = cssImport.ReplaceAllString(s, "")
	s = cssURL.ReplaceAllString(s, "none")
	if cssDangerous(s) || strings.Contains(strings.ToLower(s), "</") {
		return ""
	}
	return strings.TrimSpace(s)
}

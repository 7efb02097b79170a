// Package htmlsafe sanitises user and message HTML (signatures, automatic
// replies, mail shown in the webmail) down to a small allowlist of rich-text
// markup that cannot run script or fetch anything:
//
//   - elements: b strong i em u s strike p div span br ul ol li font
//     blockquote hr sub sup small pre code, simple tables, a and img;
//   - attributes: align, font face/size/color, table spans, img alt, width,
//     height; style restricted to a few CSS properties (color,
//     background-color, font-family, font-size, font-weight, font-style,
//     text-decoration, text-align) whose values match strict patterns (no
//     url(), no expression(), no escapes, no comments);
//   - links only to https: and mailto:, opened with rel="noopener
//     noreferrer" in a new tab;
//   - images only as data: URIs of PNG, JPEG, GIF or WebP whose decoded
//     bytes start with that format's signature (never SVG), each at most
//     MaxImageBytes and all together at most MaxTotalImageBytes: nothing is
//     ever fetched from a remote host.
//
// Everything else (script, style, iframe, object, embed, form, svg, math,
// event handlers, other URL schemes) is removed. The first pass is
// bluemonday's allowlist; a second pass of our own re-checks every
// attribute, filters the CSS and serialises the result. The output is stable
// (sanitising it again gives it back) and never contains "<script", "<svg",
// "javascript:" or "onerror", even as text.
package htmlsafe

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
)

// Size limits of inline images, counted on the data: URI as written.
const (
	// MaxImageBytes bounds one image (256 KiB).
	MaxImageBytes = 256 << 10
	// MaxTotalImageBytes bounds all the images of one document (512 KiB);
	// images past it are dropped.
	MaxTotalImageBytes = 512 << 10
)

// The image formats allowed in data: URIs, with their file signatures.
var rasterMagic = map[string][][]byte{
	"png":  {[]byte("\x89PNG\r\n\x1a\n")},
	"jpeg": {[]byte("\xff\xd8\xff")},
	"gif":  {[]byte("GIF87a"), []byte("GIF89a")},
	"webp": {[]byte("RIFF")}, // and "WEBP" at offset 8, checked below
}

var (
	dataImageRe = regexp.MustCompile(`^data:image/(png|jpeg|gif|webp);base64,([A-Za-z0-9+/]+={0,2})$`)
	hrefRe      = regexp.MustCompile(`^(?i:https://|mailto:)[^\s<>"'\\]+$`)
	alignRe     = regexp.MustCompile(`^(?i:left|right|center|justify)$`)
	fontFaceRe  = regexp.MustCompile(`^[A-Za-z0-9 ,'-]{1,100}$`)
	fontSizeRe  = regexp.MustCompile(`^[1-7]$`)
	colorAttrRe = regexp.MustCompile(`^(#[0-9A-Fa-f]{3,8}|[A-Za-z]{1,30})$`)
	numberRe    = regexp.MustCompile(`^[0-9]{1,4}$`)
	spanRe      = regexp.MustCompile(`^[0-9]{1,3}$`)
)

// cssColor matches #hex, rgb()/rgba() with plain numbers, or a colour name.
const cssColor = `(#[0-9a-f]{3,8}|rgba?\(\s*[0-9]{1,3}%?\s*,\s*[0-9]{1,3}%?\s*,\s*[0-9]{1,3}%?\s*(,\s*(0|1|0?\.[0-9]{1,3})\s*)?\)|[a-z]{1,30})`

// fontName is one family name, bare or quoted (balanced quotes only).
const fontName = `([a-z0-9][a-z0-9 -]{0,60}|"[a-z0-9 -]{1,60}"|'[a-z0-9 -]{1,60}')`

// cssRules are the allowed CSS properties and the patterns of their values
// (matched on the lower-cased value).
var cssRules = map[string]*regexp.Regexp{
	"color":            regexp.MustCompile(`^` + cssColor + `$`),
	"background-color": regexp.MustCompile(`^` + cssColor + `$`),
	"font-family":      regexp.MustCompile(`^` + fontName + `(\s*,\s*` + fontName + `){0,9}$`),
	"font-size":        regexp.MustCompile(`^([0-9]{1,3}(\.[0-9]{1,2})?(px|pt|em|rem|%)|xx-small|x-small|small|medium|large|x-large|xx-large|xxx-large|smaller|larger)$`),
	"font-weight":      regexp.MustCompile(`^(normal|bold|bolder|lighter|[1-9]00)$`),
	"font-style":       regexp.MustCompile(`^(normal|italic|oblique)$`),
	"text-decoration":  regexp.MustCompile(`^(none|(underline|overline|line-through)(\s+(underline|overline|line-through)){0,2})$`),
	"text-align":       regexp.MustCompile(`^(left|right|center|justify|start|end)$`),
}

// styled are the elements that may carry a style attribute.
var styled = []string{"p", "div", "span", "font", "b", "strong", "i", "em", "u", "s", "strike", "li", "ul", "ol",
	"blockquote", "td", "th", "table", "a", "sub", "sup", "small", "pre", "code"}

var policy = newPolicy()

func newPolicy() *bluemonday.Policy {
	p := bluemonday.NewPolicy()
	p.AllowElements("b", "strong", "i", "em", "u", "s", "strike", "p", "div", "span", "br", "ul", "ol", "li",
		"font", "blockquote", "hr", "sub", "sup", "small", "pre", "code", "table", "thead", "tbody", "tfoot", "tr", "td", "th")
	p.AllowNoAttrs().OnElements("b", "strong", "i", "em", "u", "s", "strike", "p", "div", "span", "br", "ul", "ol", "li",
		"font", "blockquote", "hr", "sub", "sup", "small", "pre", "code", "table", "thead", "tbody", "tfoot", "tr", "td", "th")
	p.AllowAttrs("align").Matching(alignRe).OnElements("p", "div", "span", "li", "td", "th", "table", "img", "blockquote")
	p.AllowAttrs("face").Matching(fontFaceRe).OnElements("font")
	p.AllowAttrs("size").Matching(fontSizeRe).OnElements("font")
	p.AllowAttrs("color").Matching(colorAttrRe).OnElements("font")
	p.AllowAttrs("colspan", "rowspan").Matching(spanRe).OnElements("td", "th")
	// The style attribute is let through here and filtered property by
	// property in the second pass (filterStyle).
	p.AllowAttrs("style").OnElements(styled...)
	p.AllowAttrs("href").Matching(hrefRe).OnElements("a")
	p.AllowAttrs("src").Matching(dataImageRe).OnElements("img")
	p.AllowAttrs("alt").Matching(regexp.MustCompile(`^[^<>]{0,200}$`)).OnElements("img")
	p.AllowAttrs("width", "height").Matching(numberRe).OnElements("img")
	p.RequireParseableURLs(true)
	p.AllowURLSchemes("https", "mailto")
	p.AllowURLSchemeWithCustomPolicy("data", func(u *url.URL) bool {
		_, ok := rasterData("data:" + u.Opaque)
		return ok && u.RawQuery == "" && u.Fragment == ""
	})
	// Drop the content of elements whose text is never meant to be shown,
	// on top of bluemonday's own list (script, style, iframe, object…).
	p.SkipElementsContent("svg", "math", "template", "select", "textarea", "button", "head", "xmp", "plaintext")
	return p
}

// rasterData checks a data: URI: one of the raster types, valid base64, at
// most MaxImageBytes, and decoded bytes that start with the type's
// signature (so that an SVG or HTML document cannot pass as an image).
func rasterData(src string) (string, bool) {
	if len(src) > MaxImageBytes {
		return "", false
	}
	m := dataImageRe.FindStringSubmatch(src)
	if m == nil {
		return "", false
	}
	// Decode only the start: enough for the signature.
	head := m[2]
	if len(head) > 64 {
		head = head[:64]
	}
	b, err := base64.StdEncoding.DecodeString(head)
	if err != nil && len(m[2]) > 64 {
		// A cut in the middle of a quantum: decode what is whole.
		b, err = base64.StdEncoding.DecodeString(head[:len(head)/4*4])
	}
	if err != nil {
		return "", false
	}
	if _, err := base64.StdEncoding.DecodeString(m[2]); err != nil {
		return "", false
	}
	for _, sig := range rasterMagic[m[1]] {
		if bytes.HasPrefix(b, sig) {
			if m[1] == "webp" && (len(b) < 12 || string(b[8:12]) != "WEBP") {
				return "", false
			}
			return m[1], true
		}
	}
	return "", false
}

// Sanitize returns the safe subset of the HTML fragment in (see the package
// documentation). It never fails: whatever cannot be proven safe is dropped.
func Sanitize(in string) string {
	first := policy.Sanitize(in)
	return secondPass(first)
}

// secondPass re-reads bluemonday's output with the HTML tokenizer, keeps
// only what it recognises, filters styles and image budgets, and writes the
// fragment with every text and attribute value escaped and neutralised.
func secondPass(in string) string {
	z := html.NewTokenizer(strings.NewReader(in))
	var out strings.Builder
	out.Grow(len(in))
	imageBudget := MaxTotalImageBytes
	// dropped counts open elements whose start tag was dropped, so that
	// their end tag is dropped too.
	dropped := map[string]int{}
	for {
		tt := z.Next()
		switch tt {
		case html.ErrorToken:
			if z.Err() != io.EOF {
				return ""
			}
			return out.String()
		case html.TextToken:
			out.WriteString(escape(string(z.Text())))
		case html.StartTagToken, html.SelfClosingTagToken:
			t := z.Token()
			if !allowedElement[t.Data] {
				if !voidElement[t.Data] && tt == html.StartTagToken {
					dropped[t.Data]++
				}
				continue
			}
			attrs, ok := cleanAttrs(t, &imageBudget)
			if !ok {
				if !voidElement[t.Data] && tt == html.StartTagToken {
					dropped[t.Data]++
				}
				continue
			}
			out.WriteByte('<')
			out.WriteString(t.Data)
			for _, a := range attrs {
				out.WriteByte(' ')
				out.WriteString(a.Key)
				out.WriteString(`="`)
				out.WriteString(escape(a.Val))
				out.WriteByte('"')
			}
			if voidElement[t.Data] {
				out.WriteString(">")
			} else if tt == html.SelfClosingTagToken {
				// <b/> is a start tag in HTML: close it at once.
				out.WriteString("></" + t.Data + ">")
			} else {
				out.WriteString(">")
			}
		case html.EndTagToken:
			t := z.Token()
			if !allowedElement[t.Data] || voidElement[t.Data] {
				continue
			}
			if dropped[t.Data] > 0 {
				dropped[t.Data]--
				continue
			}
			out.WriteString("</" + t.Data + ">")
		default:
			// Comments and doctypes are dropped.
		}
	}
}

var allowedElement = map[string]bool{}

var voidElement = map[string]bool{"br": true, "hr": true, "img": true}

func init() {
	for _, e := range []string{"b", "strong", "i", "em", "u", "s", "strike", "p", "div", "span", "br", "ul", "ol", "li",
		"font", "blockquote", "hr", "sub", "sup", "small", "pre", "code", "table", "thead", "tbody", "tfoot", "tr", "td", "th",
		"a", "img"} {
		allowedElement[e] = true
	}
}

// cleanAttrs re-checks the attributes of an allowed element. It reports
// false when the element must go: an image without an acceptable source, a
// link without an acceptable target.
func cleanAttrs(t html.Token, imageBudget *int) ([]html.Attribute, bool) {
	var out []html.Attribute
	seen := map[string]bool{}
	add := func(k, v string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, html.Attribute{Key: k, Val: v})
		}
	}
	hasSrc, hasHref := false, false
	for _, a := range t.Attr {
		if a.Namespace != "" {
			continue
		}
		k := strings.ToLower(a.Key)
		switch {
		case k == "style":
			if st := filterStyle(a.Val); st != "" {
				add(k, st)
			}
		case k == "align" && alignRe.MatchString(a.Val):
			add(k, strings.ToLower(a.Val))
		case t.Data == "font" && k == "face" && fontFaceRe.MatchString(a.Val),
			t.Data == "font" && k == "size" && fontSizeRe.MatchString(a.Val),
			t.Data == "font" && k == "color" && colorAttrRe.MatchString(a.Val),
			(t.Data == "td" || t.Data == "th") && (k == "colspan" || k == "rowspan") && spanRe.MatchString(a.Val),
			t.Data == "img" && (k == "width" || k == "height") && numberRe.MatchString(a.Val):
			add(k, a.Val)
		case t.Data == "img" && k == "alt":
			add(k, a.Val)
		case t.Data == "img" && k == "src" && !hasSrc:
			if _, ok := rasterData(a.Val); ok && len(a.Val) <= *imageBudget {
				*imageBudget -= len(a.Val)
				hasSrc = true
				add(k, a.Val)
			}
		case t.Data == "a" && k == "href" && !hasHref && hrefRe.MatchString(a.Val):
			hasHref = true
			add(k, a.Val)
		}
	}
	switch t.Data {
	case "img":
		return out, hasSrc
	case "a":
		if !hasHref {
			return nil, false
		}
		add("rel", "noopener noreferrer")
		add("target", "_blank")
	}
	return out, true
}

// filterStyle keeps the allowed declarations of a style attribute whose
// values match their pattern, and writes them back in a canonical form.
// A value with anything that could start a function, an escape, a comment
// or a new rule (url(, expression(, \, /*, {, @, <) never matches.
func filterStyle(style string) string {
	var kept []string
	for _, decl := range strings.Split(style, ";") {
		prop, val, ok := strings.Cut(decl, ":")
		if !ok {
			continue
		}
		prop = strings.ToLower(strings.TrimSpace(prop))
		val = strings.ToLower(strings.TrimSpace(val))
		val = strings.TrimSpace(strings.TrimSuffix(val, "!important"))
		re, ok := cssRules[prop]
		if !ok || !re.MatchString(val) {
			continue
		}
		kept = append(kept, prop+": "+val)
	}
	return strings.Join(kept, "; ")
}

// dangerous are words that must not appear literally in the output, even
// in text or in a harmless attribute value, with the index of the character
// written as a numeric reference instead (the text shown is the same).
// "<script" and "<svg" cannot appear: every "<" of text is escaped.
var dangerous = []struct {
	word string
	at   int
}{
	{"javascript:", 10},
	{"vbscript:", 8},
	{"onerror", 2},
	{"onload", 2},
}

// escape escapes s for text or a double-quoted attribute value, then
// neutralises the dangerous words, case-insensitively.
func escape(s string) string {
	s = html.EscapeString(s)
	for _, d := range dangerous {
		lower := asciiLower(s)
		if !strings.Contains(lower, d.word) {
			continue
		}
		var b strings.Builder
		i := 0
		for {
			j := strings.Index(lower[i:], d.word)
			if j < 0 {
				break
			}
			j += i
			k := j + d.at
			b.WriteString(s[i:k])
			fmt.Fprintf(&b, "&#%d;", s[k])
			i = k + 1
		}
		b.WriteString(s[i:])
		s = b.String()
	}
	return s
}

// asciiLower lower-cases ASCII letters only, so that byte offsets stay those
// of s (strings.ToLower may change the length of some characters).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

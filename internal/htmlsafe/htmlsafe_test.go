package htmlsafe

import (
	"encoding/base64"
	"strings"
	"testing"
)

// A 1×1 PNG, a GIF and SVG documents, base64.
const (
	png1 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
	gif1 = "R0lGODlhAQABAIAAAP///wAAACwAAAAAAQABAAACAkQBADs="
)

var svgDoc = base64.StdEncoding.EncodeToString([]byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>`))

// forbidden must never appear in sanitised output, in any case.
var forbidden = []string{"<script", "javascript:", "onerror", "<svg", "onload", "<style", "<iframe", "<object",
	"<embed", "<form", "<math", "expression(", "url(", "http://", "data:text", "data:image/svg", "vbscript:"}

func assertClean(t *testing.T, in, out string) {
	t.Helper()
	lower := strings.ToLower(out)
	for _, f := range forbidden {
		if strings.Contains(lower, f) {
			t.Errorf("Sanitize(%q) = %q: contains %q", in, out, f)
		}
	}
	if again := Sanitize(out); again != out {
		t.Errorf("not stable: Sanitize(%q) = %q, then %q", in, out, again)
	}
}

func TestSanitizeHostile(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"script", `<p>Bonjour<script>alert(1)</script></p>`, `<p>Bonjour</p>`},
		{"script uppercase", `<SCRIPT SRC=//evil.example/x.js></SCRIPT>ok`, `ok`},
		{"onerror", `<img src=x onerror="alert(1)">texte`, `texte`},
		{"onerror on allowed element", `<b onclick="alert(1)" onmouseover=alert(2)>gras</b>`, `<b>gras</b>`},
		{"javascript link", `<a href="javascript:alert(1)">clic</a>`, `clic`},
		{"javascript link with spaces", `<a href=" javascript:alert(1)">clic</a>`, `clic`},
		{"entity-encoded javascript", `<a href="&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)">clic</a>`, `clic`},
		{"hex entities javascript", `<a href="&#x6A;avascript&#x3A;alert(1)">clic</a>`, `clic`},
		{"tab in scheme", "<a href=\"java\tscript:alert(1)\">clic</a>", `clic`},
		{"data text/html link", `<a href="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">clic</a>`, `clic`},
		{"http link dropped", `<a href="http://example.org/">site</a>`, `site`},
		{"https link kept", `<a href="https://example.org/page">site</a>`,
			`<a href="https://example.org/page" rel="noopener noreferrer" target="_blank">site</a>`},
		{"mailto link kept", `<a href="mailto:jean@web.test" target="_top" rel="opener">écrire</a>`,
			`<a href="mailto:jean@web.test" rel="noopener noreferrer" target="_blank">écrire</a>`},
		{"inline svg", `<svg onload="alert(1)"><circle r="10"/><text>svg</text></svg>fin`, `fin`},
		{"svg data uri", `<img src="data:image/svg+xml;base64,` + svgDoc + `">`, ``},
		{"svg disguised as png", `<img src="data:image/png;base64,` + svgDoc + `">`, ``},
		{"data text/html image", `<img src="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">`, ``},
		{"remote image", `<img src="http://tracker.example/pixel.gif">`, ``},
		{"remote https image", `<img src="https://tracker.example/pixel.gif" alt="x">`, ``},
		{"protocol-relative image", `<img src="//tracker.example/pixel.gif">`, ``},
		{"css expression", `<span style="color: expression(alert(1))">a</span>`, `<span>a</span>`},
		{"css url", `<span style="background-color: url(http://evil.example/x)">a</span>`, `<span>a</span>`},
		{"css url in font-family", `<span style="font-family: url(x)">a</span>`, `<span>a</span>`},
		{"css escape", `<span style="color: re\64">a</span>`, `<span>a</span>`},
		{"css comment", `<span style="color: red/**/">a</span>`, `<span>a</span>`},
		{"css entity-encoded url", `<span style="color:&#117;rl(x)">a</span>`, `<span>a</span>`},
		{"css not allowed property", `<div style="position: fixed; top: 0; color: #c00">a</div>`, `<div style="color: #c00">a</div>`},
		{"css behaviour", `<div style="behavior: url(x.htc); -moz-binding: url(x)">a</div>`, `<div>a</div>`},
		{"style element", `<style>body{background:url(http://evil.example)}</style>texte`, `texte`},
		{"iframe object embed form", `<iframe src="https://evil.example"></iframe><object data="x"></object><embed src="x"><form action="https://evil.example"><input name="a"></form>ok`, `ok`},
		{"math", `<math><mi>x</mi></math>ok`, `ok`},
		{"nested script trick", `<scr<script>ipt>alert(1)</scr</script>ipt>`, `ipt&gt;alert(1)ipt&gt;`},
		{"comment", `<!-- <script>alert(1)</script> -->ok`, `ok`},
		{"meta refresh", `<meta http-equiv="refresh" content="0;url=javascript:alert(1)">ok`, `ok`},
		{"base", `<base href="https://evil.example/">ok`, `ok`},
		{"text mentioning javascript", `<p>Tapez javascript:void et onerror</p>`, `<p>Tapez javascript&#58;void et on&#101;rror</p>`},
		{"escaped text", `&lt;script&gt;alert(1)&lt;/script&gt;`, `&lt;script&gt;alert(1)&lt;/script&gt;`},
		{"noscript", `<noscript><img src=x onerror=alert(1)></noscript>ok`, `ok`},
		{"template", `<template><script>alert(1)</script></template>ok`, `ok`},
		{"xmp", `<xmp><img src=x onerror=alert(1)></xmp>ok`, `ok`},
		{"textarea breakout", `<textarea></textarea><img src=x onerror=alert(1)>ok`, `ok`},
		{"unclosed attribute", `<b title="<img src=x onerror=alert(1)>">gras</b>`, `<b>gras</b>`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Sanitize(c.in)
			if got != c.want {
				t.Errorf("Sanitize(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
			assertClean(t, c.in, got)
		})
	}
}

func TestSanitizeKeepsRichText(t *testing.T) {
	for _, c := range []struct{ name, in, want string }{
		{"styles", `<b>gras</b> <i>italique</i> <u>souligné</u> <strike>barré</strike>`, `<b>gras</b> <i>italique</i> <u>souligné</u> <strike>barré</strike>`},
		{"font", `<font face="Arial" size="5" color="#ff0000">rouge</font>`, `<font face="Arial" size="5" color="#ff0000">rouge</font>`},
		{"fill colour", `<span style="background-color: rgb(255, 255, 0);">jaune</span>`, `<span style="background-color: rgb(255, 255, 0)">jaune</span>`},
		{"css allowed", `<p style="text-align: center; font-family: 'Times New Roman', serif; font-size: 14px; font-weight: bold; font-style: italic; text-decoration: underline line-through; color: Navy">x</p>`,
			`<p style="text-align: center; font-family: &#39;times new roman&#39;, serif; font-size: 14px; font-weight: bold; font-style: italic; text-decoration: underline line-through; color: navy">x</p>`},
		{"lists and alignment", `<ul><li>un</li></ul><ol><li>deux</li></ol><div align="right">droite</div>`, `<ul><li>un</li></ul><ol><li>deux</li></ol><div align="right">droite</div>`},
		{"line breaks", `Dr Jean Dupont<br/>Cardiologue<br>`, `Dr Jean Dupont<br>Cardiologue<br>`},
		{"png image", `<img src="data:image/png;base64,` + png1 + `" alt="logo" width="120">`, `<img src="data:image/png;base64,` + png1 + `" alt="logo" width="120">`},
		{"gif image", `<img src="data:image/gif;base64,` + gif1 + `">`, `<img src="data:image/gif;base64,` + gif1 + `">`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := Sanitize(c.in)
			if got != c.want {
				t.Errorf("Sanitize(%q)\n got %q\nwant %q", c.in, got, c.want)
			}
			assertClean(t, c.in, got)
		})
	}
}

func TestImageLimits(t *testing.T) {
	// A PNG just under the limit is kept, one over it is dropped.
	raw := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 150<<10)...)
	img := `<img src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(raw) + `">`
	if got := Sanitize(img); !strings.Contains(got, "<img") {
		t.Fatal("a 200 KiB image was dropped")
	}
	big := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 200<<10)...)
	bigImg := `<img src="data:image/png;base64,` + base64.StdEncoding.EncodeToString(big) + `">`
	if got := Sanitize(bigImg); strings.Contains(got, "<img") {
		t.Fatal("an image over 256 KiB was kept")
	}
	// Three images of 200 KiB: the third is over the budget of the whole.
	got := Sanitize(img + img + img)
	if n := strings.Count(got, "<img"); n != 2 {
		t.Fatalf("%d images kept of 3, want 2 (total budget)", n)
	}
	// Bad base64 is refused.
	if got := Sanitize(`<img src="data:image/png;base64,iVBORw0KGgo!!!!">`); got != "" {
		t.Fatalf("bad base64 kept: %q", got)
	}
}

func TestToText(t *testing.T) {
	in := `<p>Dr <b>Jean</b> Dupont</p><div>Cardiologue<br>Clinique</div><ul><li>un</li><li>deux</li></ul><a href="https://x.example/">site</a><img src="data:image/png;base64,` + png1 + `">`
	want := "Dr Jean Dupont\nCardiologue\nClinique\n- un\n- deux\nsite <https://x.example/>"
	if got := ToText(in); got != want {
		t.Fatalf("ToText = %q, want %q", got, want)
	}
}

// FuzzSanitize checks that whatever the input, the output is stable and
// holds none of the forbidden constructs.
func FuzzSanitize(f *testing.F) {
	for _, s := range []string{
		`<p>Bonjour<script>alert(1)</script></p>`, `<img src=x onerror=alert(1)>`, `<a href="javascript:alert(1)">x</a>`,
		`<svg onload=alert(1)>`, `<span style="color: expression(alert(1))">a</span>`, `<scr<script>ipt>`,
		`<img src="data:image/png;base64,` + png1 + `">`, `<font face="Arial" size="3" color="red">x</font>`,
		`<a href="https://example.org/">x</a>`, `&#106;avascript&#58;`, `<b/><i><u>x</u></i></b>`, `<p style="font-family: 'a', b">x</p>`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := Sanitize(in)
		lower := strings.ToLower(out)
		for _, bad := range []string{"<script", "javascript:", "onerror", "<svg"} {
			if strings.Contains(lower, bad) {
				t.Fatalf("Sanitize(%q) = %q contains %q", in, out, bad)
			}
		}
		if again := Sanitize(out); again != out {
			t.Fatalf("not stable:\n in  %q\n out %q\n out2 %q", in, out, again)
		}
	})
}

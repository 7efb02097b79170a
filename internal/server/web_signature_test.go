package server_test

import (
	"context"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/hygie-sante/hygie/internal/account"
	bt "github.com/hygie-sante/hygie/internal/browsertest"
)

// signatureTestPNG writes a small red PNG and returns its path.
func signatureTestPNG(t *testing.T) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 8, 8))
	for x := 0; x < 8; x++ {
		for y := 0; y < 8; y++ {
			img.Set(x, y, color.RGBA{200, 0, 0, 255})
		}
	}
	path := filepath.Join(t.TempDir(), "logo.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return path
}

// signatureSelectAll selects the whole content of the editor sel, as a
// person would by dragging over it.
func signatureSelectAll(sel string) chromedp.Action[chromedp.Void] {
	return bt.JS(`(() => { const e = document.querySelector(` + signatureJS(sel) + `); e.focus();
		const r = document.createRange(); r.selectNodeContents(e); const s = getSelection(); s.removeAllRanges(); s.addRange(r); return true })()`)
}

// signatureChooseColour picks a colour in the colour input sel (the native
// picker cannot be driven: set its value and fire change, as the picker does).
func signatureChooseColour(sel, value string) chromedp.Action[chromedp.Void] {
	return bt.JS(`(() => { const c = document.querySelector(` + signatureJS(sel) + `); c.value = ` + signatureJS(value) + `;
		c.dispatchEvent(new Event("change", {bubbles: true})); return true })()`)
}

func signatureItoa(n int64) string { return strconv.FormatInt(n, 10) }

func signatureJS(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

func signatureInner(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return bt.Get(t, ctx, "inner HTML of "+sel, chromedp.InnerHTML(chromedp.CSS(sel)))
}

// TestWebSignatures drives « Signatures » in Chromium: two signatures made
// with the toolbar (bold, colour, an inserted PNG), one default, saved,
// read back after a reload, the default moved, hostile HTML cleaned, one
// deleted; another person's signatures answer 404.
func TestWebSignatures(t *testing.T) {
	n, _, base := webNode(t)
	ctx := context.Background()
	jean, err := n.Accounts.ByAddress(ctx, "jean@web.test")
	if err != nil {
		t.Fatal(err)
	}
	other := n.addPerson(t, account.PER, "paul@web.test", "paul.martin@web.test", "Paul", "Martin")
	otherSig, err := n.Accounts.SaveSignature(ctx, other.ID, account.Signature{Label: "Privée", HTML: "<b>Dr Martin, secret</b>"})
	if err != nil {
		t.Fatal(err)
	}
	page := base + "/a/" + signatureItoa(jean.ID) + "/compte/signatures"
	logo := signatureTestPNG(t)

	b := bt.New(t)
	login(t, b, base, "jean@web.test", testPassword)
	bt.Do(t, b, "open Signatures", bt.WaitVisible("#me"), chromedp.Navigate(page), bt.WaitVisible("#label-new"))

	// No « Intitulé »: a French error next to it, what was typed is kept.
	bt.Do(t, b, "signature without label",
		chromedp.SendKeys(chromedp.CSS("#content-new"), "Sans intitulé"),
		bt.Click("#signature-new button[type=submit]"),
		bt.WaitVisible("#signature-new .error"),
	)
	if msg := bt.Text(t, b, "#signature-new .error"); !strings.Contains(msg, "Renseignez le champ « Intitulé »") {
		t.Fatalf("error = %q", msg)
	}
	if h := signatureInner(t, b, "#content-new"); !strings.Contains(h, "Sans intitulé") {
		t.Fatalf("content lost after the error: %q", h)
	}
	if sigs, _ := n.Accounts.Signatures(ctx, jean.ID); len(sigs) != 0 {
		t.Fatalf("a signature without label was saved: %+v", sigs)
	}
	bt.Do(t, b, "clear the editor", bt.JS(`(() => { document.querySelector("#content-new").innerHTML = ""; return true })()`))

	// First signature: bold name, red text, the logo; default.
	bt.Do(t, b, "first signature",
		bt.Fill("#label-new", "Cabinet"),
		chromedp.SendKeys(chromedp.CSS("#content-new"), "Dr Jean Dupont"),
		signatureSelectAll("#content-new"),
		bt.Click("#signature-new button[data-cmd=bold]"),
		signatureSelectAll("#content-new"),
		signatureChooseColour("#signature-new input[data-cmd=foreColor]", "#c00000"),
		bt.JS(`(() => { const e = document.querySelector("#content-new"); const r = document.createRange(); r.selectNodeContents(e);
			r.collapse(false); const s = getSelection(); s.removeAllRanges(); s.addRange(r); return true })()`),
		chromedp.SetUploadFiles(chromedp.CSS("#signature-new input[type=file]"), []string{logo}),
		bt.WaitVisible("#content-new img"),
		bt.Click("#default-new"),
		bt.Click("#signature-new button[type=submit]"),
		bt.WaitVisible(".flash"),
	)
	sigs, err := n.Accounts.Signatures(ctx, jean.ID)
	if err != nil || len(sigs) != 1 {
		t.Fatalf("after the first save: %+v, %v", sigs, err)
	}
	first := signatureItoa(sigs[0].ID)

	// « Ajouter une signature »: a second one, italic, not default.
	bt.Do(t, b, "second signature",
		bt.Click("#add-signature"),
		bt.WaitVisible("#label-new"),
		bt.Fill("#label-new", "Hôpital"),
		chromedp.SendKeys(chromedp.CSS("#content-new"), "Service de cardiologie"),
		signatureSelectAll("#content-new"),
		bt.Click("#signature-new button[data-cmd=italic]"),
		bt.Click("#signature-new button[type=submit]"),
		bt.WaitVisible(".flash"),
	)
	sigs, _ = n.Accounts.Signatures(ctx, jean.ID)
	if len(sigs) != 2 {
		t.Fatalf("%d signatures, want 2", len(sigs))
	}
	second := signatureItoa(sigs[1].ID)

	// Reload: everything is read back.
	bt.Do(t, b, "reload", chromedp.Navigate(page), bt.WaitVisible("#label-"+second))
	if v := bt.Value(t, b, "#label-"+first); v != "Cabinet" {
		t.Errorf("first label %q", v)
	}
	if v := bt.Value(t, b, "#label-"+second); v != "Hôpital" {
		t.Errorf("second label %q", v)
	}
	if !bt.Checked(t, b, "#default-"+first) || bt.Checked(t, b, "#default-"+second) {
		t.Error("default checkboxes not read back")
	}
	html1 := signatureInner(t, b, "#content-"+first)
	if !strings.Contains(html1, "<b>") || !strings.Contains(html1, "Dr Jean Dupont") || !strings.Contains(html1, `src="data:image/png;base64,`) ||
		!strings.Contains(strings.ToLower(html1), "c00000") {
		t.Errorf("first content read back: %s", html1)
	}
	if html2 := signatureInner(t, b, "#content-"+second); !strings.Contains(html2, "<i>") || !strings.Contains(html2, "Service de cardiologie") {
		t.Errorf("second content read back: %s", html2)
	}
	if d, _ := n.Accounts.DefaultSignature(ctx, jean.ID); d == nil || signatureItoa(d.ID) != first {
		t.Errorf("default signature = %+v", d)
	}

	// The second becomes the default: the first is no longer.
	bt.Do(t, b, "move the default",
		bt.Click("#default-"+second),
		bt.Click("#signature-"+second+" button[type=submit]"),
		bt.WaitVisible(".flash"),
		chromedp.Navigate(page), bt.WaitVisible("#label-"+second),
	)
	if bt.Checked(t, b, "#default-"+first) || !bt.Checked(t, b, "#default-"+second) {
		t.Error("at most one default: the first is still checked, or the second is not")
	}

	// Hostile HTML put in the editor (as a paste would) is stored clean.
	bt.Do(t, b, "hostile content",
		bt.JS(`(() => { document.querySelector("#content-`+second+`").innerHTML =
			'<img src=x onerror="document.title=\'pwned\'"><script>document.title="pwned"</script>' +
			'<a href="javascript:alert(1)">lien</a><svg onload="alert(1)"></svg><img src="https://tracker.example/p.gif">' +
			'<span style="background-color: url(https://tracker.example/x)">fond</span><b>ok</b>'; return true })()`),
		bt.Click("#signature-"+second+" button[type=submit]"),
		bt.WaitVisible(".flash"),
	)
	stored, err := n.Accounts.SignatureByID(ctx, jean.ID, sigs[1].ID)
	if err != nil {
		t.Fatal(err)
	}
	var raw string
	if err := n.St.QueryRow(ctx, `SELECT html FROM signatures WHERE id = ?`, sigs[1].ID).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	for _, h := range []string{stored.HTML, raw, signatureInner(t, b, "#content-"+second)} {
		low := strings.ToLower(h)
		for _, bad := range []string{"onerror", "<script", "javascript:", "<svg", "tracker.example", "url("} {
			if strings.Contains(low, bad) {
				t.Errorf("%q survived: %s", bad, h)
			}
		}
		if !strings.Contains(h, "<b>ok</b>") || !strings.Contains(h, "lien") || !strings.Contains(h, "fond") {
			t.Errorf("the harmless part was lost: %s", h)
		}
	}
	if title := bt.Get(t, b, "title", chromedp.Title()); strings.Contains(title, "pwned") {
		t.Errorf("script ran: title %q", title)
	}

	// Another person's signatures answer 404, by page and by identifier.
	csrf := bt.Get(t, b, "csrf", chromedp.Evaluate[string](`document.querySelector("input[name=csrf]").value`))
	for what, js := range map[string]string{
		"delete another's signature": `fetch("/a/` + signatureItoa(jean.ID) + `/compte/signatures/` + signatureItoa(otherSig.ID) + `/supprimer", {method: "POST", headers: {"X-CSRF-Token": ` + signatureJS(csrf) + `}}).then(r => r.status)`,
		"update another's signature": `fetch("/a/` + signatureItoa(jean.ID) + `/compte/signatures", {method: "POST", headers: {"X-CSRF-Token": ` + signatureJS(csrf) + `},
			body: new URLSearchParams({id: "` + signatureItoa(otherSig.ID) + `", label: "volée", html: "x"})}).then(r => r.status)`,
		"another's page": `fetch("/a/` + signatureItoa(other.ID) + `/compte/signatures").then(r => r.status)`,
	} {
		status := bt.Get(t, b, what, chromedp.Evaluate[int](js, chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
		if status != 404 {
			t.Errorf("%s: status %d, want 404", what, status)
		}
	}
	if s, err := n.Accounts.SignatureByID(ctx, other.ID, otherSig.ID); err != nil || s.Label != "Privée" {
		t.Errorf("another person's signature changed: %+v, %v", s, err)
	}

	// Delete the first with the cross.
	bt.Do(t, b, "delete",
		chromedp.Navigate(page), bt.WaitVisible("#label-"+first),
		bt.Click("#signature-"+first+" .signature-delete button"),
		bt.WaitVisible(".flash"),
		chromedp.Navigate(page), bt.WaitVisible("#label-"+second),
	)
	if n := bt.Get(t, b, "forms", chromedp.Evaluate[int](`document.querySelectorAll("form.signature-form").length`)); n != 1 {
		t.Errorf("%d signature forms after delete, want 1", n)
	}
	if sigs, _ := n.Accounts.Signatures(ctx, jean.ID); len(sigs) != 1 || signatureItoa(sigs[0].ID) != second {
		t.Errorf("signatures after delete: %+v", sigs)
	}
}

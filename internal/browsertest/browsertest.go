// Package browsertest drives Debian's headless Chromium (chromedp) for the
// web application's tests, as a person would: navigate, type, click, read.
// Without Chromium the tests skip, except under CI=true where they fail.
package browsertest

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser binary.
func chromium() string {
	for _, p := range []string{os.Getenv("HYGIE_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	return ""
}

// New starts a fresh headless browser (its own empty profile) and returns a
// context for chromedp actions, cancelled at the end of the test. Each call
// is a separate person: separate cookies.
func New(t testing.TB) context.Context {
	t.Helper()
	bin := chromium()
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but Chromium is not installed (apt-get install -y chromium)")
		}
		t.Skip("Chromium not installed")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	// Start the browser now. No timeout here: the first call's context
	// bounds the browser's whole life.
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	return ctx
}

// Do runs steps with a timeout, failing the test with what step failed.
func Do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(c, steps...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// Get runs one action that returns a value, with a timeout.
func Get[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(c, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// Text returns the visible text of the first element matching the CSS
// selector sel.
func Text(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	return Get(t, ctx, "text of "+sel, chromedp.Text(chromedp.CSS(sel)))
}

// Value returns the value of the form field matching sel.
func Value(t testing.TB, ctx context.Context, sel string) string {
	t.Helper()
	return Get(t, ctx, "value of "+sel, chromedp.Value(chromedp.CSS(sel)))
}

// Checked reports whether the checkbox matching sel is checked.
func Checked(t testing.TB, ctx context.Context, sel string) bool {
	t.Helper()
	return Get(t, ctx, "checked "+sel, chromedp.JavascriptAttribute[bool](chromedp.CSS(sel), "checked"))
}

// Location returns the current URL.
func Location(t testing.TB, ctx context.Context) string {
	t.Helper()
	return Get(t, ctx, "location", chromedp.Location())
}

// Fill clears the field matching sel and types v into it, as a person would.
func Fill(sel, v string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(Clear(sel), chromedp.SendKeys(chromedp.CSS(sel), v))
}

// Clear empties the form field matching sel.
func Clear(sel string) chromedp.Action[chromedp.Void] {
	q, _ := json.Marshal(sel)
	return JS(`(() => { const e = document.querySelector(` + string(q) + `); if (!e) throw new Error("no element"); e.value = ""; return true })()`)
}

// JS runs a JavaScript expression in the page, ignoring its value.
func JS(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[any](expr)(ctx, t)
		return err
	})
}

// Click clicks the element matching the CSS selector sel. When the page
// replaced that element between finding it and clicking it (a navigation
// or a script still running: "Could not find node with given id"), it
// finds it again: nothing was clicked yet.
func Click(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		for {
			_, err := chromedp.Click(chromedp.CSS(sel))(ctx, t)
			if err == nil || !staleNode(err) || ctx.Err() != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return err
			case <-time.After(50 * time.Millisecond):
			}
		}
	})
}

// staleNode tells the DevTools errors of a node the page no longer has.
func staleNode(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "Could not find node with given id") || strings.Contains(msg, "No node with given id") ||
		strings.Contains(msg, "Node is detached")
}

// WaitVisible waits until the element matching sel is visible.
func WaitVisible(sel string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(sel))
}

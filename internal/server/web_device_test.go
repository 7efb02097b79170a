package server_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/makiuchi-d/gozxing"
	gzqrcode "github.com/makiuchi-d/gozxing/qrcode"

	"github.com/hygie-sante/hygie/internal/account"
	bt "github.com/hygie-sante/hygie/internal/browsertest"
)

// deviceBinary builds ./cmd/hygie into a temporary directory (from the
// module root, found with 'go env GOMOD'), as internal/e2e does.
func deviceBinary(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "hygie")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/hygie")
	cmd.Dir = filepath.Dir(strings.TrimSpace(string(out)))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build hygie: %v\n%s", err, out)
	}
	return bin
}

// deviceRun runs 'hygie device ARGS…' and returns its output and exit error.
func deviceRun(t *testing.T, bin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"device"}, args...)...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return o.String(), e.String(), err
}

// deviceIMAPLogin logs in to the node's IMAP listener (STARTTLS) with the
// given password.
func deviceIMAPLogin(t *testing.T, n *testNode, login, password string) error {
	t.Helper()
	c, err := imapclient.DialStartTLS(n.Addrs["imap"], &imapclient.Options{
		TLSConfig: &tls.Config{RootCAs: n.issuer.Pool(), ServerName: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.Login(login, password).Wait()
}

// deviceSMTPAuth authenticates on the node's submission listener with
// AUTH PLAIN.
func deviceSMTPAuth(t *testing.T, n *testNode, login, password string) error {
	t.Helper()
	c, err := smtp.DialStartTLS(n.Addrs["submission"], &tls.Config{RootCAs: n.issuer.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.Auth(sasl.NewPlainClient("", login, password))
}

// TestWebDevicePairing is the path of issue 4 for mobile devices: in
// « Appareils mobiles » Jean names a device and clicks « Générer le QR
// Code »; the PNG taken from the page is decoded (gozxing) and the real
// 'hygie device' binary pairs with it, lists, reads and sends mail; the
// credential also works for IMAP and SMTP; « Révoquer » in the browser
// makes the next device call fail with 401 and the IMAP and SMTP logins
// with the credential fail.
func TestWebDevicePairing(t *testing.T) {
	bin := deviceBinary(t)
	n, _, base := webNode(t)
	ctx := context.Background()
	jean, err := n.Accounts.ByAddress(ctx, "jean@web.test")
	if err != nil {
		t.Fatal(err)
	}
	marie := n.addPerson(t, account.PER, "marie@web.test", "marie.curie@web.test", "Marie", "Curie")
	if err := n.submit(t, "marie@web.test", "marie.curie@web.test", []string{"jean.dupont@web.test"}, "Résultats d'analyse"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "message in Jean's INBOX", func() bool { return len(n.inbox(t, jean.ID)) == 1 })

	b := bt.New(t)
	login(t, b, base, "jean@web.test", testPassword)
	page := fmt.Sprintf("%s/a/%d/compte/appareils", base, jean.ID)
	bt.Do(t, b, "Appareils mobiles",
		bt.WaitVisible("#me"), bt.Click("#me"), bt.WaitVisible(`nav.sections a[href$="/compte/appareils"]`),
		bt.Click(`nav.sections a[href$="/compte/appareils"]`),
		bt.WaitVisible("#device-name"),
	)
	if got := bt.Text(t, b, "#no-devices"); !strings.Contains(got, "Aucun appareil") {
		t.Fatalf("empty list: %q", got)
	}
	// No name: a French error next to the field.
	bt.Do(t, b, "generate without a name", bt.Click("#generate"), bt.WaitVisible("#associer .error"))
	if got := bt.Text(t, b, "#associer .error"); !strings.Contains(got, "Renseignez un nom") {
		t.Fatalf("error %q", got)
	}
	bt.Do(t, b, "generate the QR code",
		bt.Fill("#device-name", "iPhone de Jean"),
		bt.Click("#generate"),
		bt.WaitVisible("#qr-image"),
	)
	src := bt.Get(t, b, "QR image", chromedp.Evaluate[string](`document.querySelector("#qr-image").getAttribute("src")`))
	data, ok := strings.CutPrefix(src, "data:image/png;base64,")
	if !ok {
		t.Fatalf("QR image src %.60q…", src)
	}
	pngBytes, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		t.Fatal(err)
	}
	// Decode it here too (gozxing), to check the payload.
	img, err := png.Decode(bytes.NewReader(pngBytes))
	if err != nil {
		t.Fatal(err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	// The page shows a pure code (no photo): gozxing's detector for
	// camera images misjudges some symbols' dimension, so read it as such.
	res, err := gzqrcode.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		t.Fatalf("decode QR code: %v", err)
	}
	var payload struct {
		Type, Server, Secret string
	}
	if err := json.Unmarshal([]byte(res.GetText()), &payload); err != nil || payload.Type != "hygie-pairing" ||
		payload.Server != base || len(payload.Secret) < 40 {
		t.Fatalf("QR payload %q (%v)", res.GetText(), err)
	}

	// Pair with the image, as the mobile app scanning the code.
	dir := t.TempDir()
	qrFile, state := filepath.Join(dir, "qr.png"), filepath.Join(dir, "state.json")
	if err := os.WriteFile(qrFile, pngBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := deviceRun(t, bin, "pair", "--image", qrFile, "--state", state, "--name", "ignored")
	if err != nil {
		t.Fatalf("pair: %v\n%s%s", err, out, errOut)
	}
	if !strings.Contains(out, `"iPhone de Jean"`) || !strings.Contains(out, "jean@web.test") {
		t.Fatalf("pair output %q", out)
	}
	if fi, err := os.Stat(state); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state file: %v %v", fi.Mode(), err)
	}
	var st struct{ Credential string }
	if b, err := os.ReadFile(state); err != nil || json.Unmarshal(b, &st) != nil || st.Credential == "" {
		t.Fatalf("state file content: %v", err)
	}
	// The QR code is single-use.
	if _, errOut, err := deviceRun(t, bin, "pair", res.GetText(), "--state", filepath.Join(dir, "other.json")); err == nil ||
		!strings.Contains(errOut, "pairing refused") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("second pairing with the same QR code: %v %q", err, errOut)
	}

	// List and read.
	out, errOut, err = deviceRun(t, bin, "list-messages", "--state", state)
	if err != nil || !strings.Contains(out, "Résultats d'analyse") || !strings.Contains(out, "marie.curie@web.test") {
		t.Fatalf("list-messages: %v\n%s%s", err, out, errOut)
	}
	var id string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "Résultats d'analyse") {
			id = strings.Fields(line)[0]
		}
	}
	out, errOut, err = deviceRun(t, bin, "read", "--state", state, id)
	if err != nil || !strings.Contains(out, "Subject: Résultats d'analyse") || !strings.Contains(out, "Contenu médical confidentiel.") {
		t.Fatalf("read %s: %v\n%s%s", id, err, out, errOut)
	}
	// Send to Marie.
	out, errOut, err = deviceRun(t, bin, "send", "--state", state, "--to", "marie.curie@web.test", "--subject", "Depuis mon téléphone",
		"--body", "Bien reçu, merci.")
	if err != nil {
		t.Fatalf("send: %v\n%s%s", err, out, errOut)
	}
	eventually(t, 10*time.Second, "message in Marie's INBOX", func() bool {
		for _, m := range n.inbox(t, marie.ID) {
			if strings.Contains(m, "Bien re") && strings.Contains(m, "From: \"Jean Dupont\" <jean.dupont@web.test>") {
				return true
			}
		}
		return false
	})
	// Refused recipients: non-zero, one line, the French reason.
	_, errOut, err = deviceRun(t, bin, "send", "--state", state, "--to", "personne@web.test", "--subject", "x", "--body", "x")
	if err == nil || !strings.Contains(errOut, "5.1.1") || !strings.Contains(errOut, "Adresse inconnue") {
		t.Fatalf("send to an unknown address: %v %q", err, errOut)
	}

	// The credential is also the password of IMAP and SMTP.
	if err := deviceIMAPLogin(t, n, "jean@web.test", st.Credential); err != nil {
		t.Fatalf("IMAP login with the device credential: %v", err)
	}
	if err := deviceSMTPAuth(t, n, "jean@web.test", st.Credential); err != nil {
		t.Fatalf("SMTP AUTH with the device credential: %v", err)
	}

	// The list shows the device, its pairing date and its last use.
	bt.Do(t, b, "reload the list", chromedp.Navigate(page), bt.WaitVisible("#devices"))
	if got := bt.Text(t, b, "#devices tbody tr .name"); got != "iPhone de Jean" {
		t.Fatalf("device name %q", got)
	}
	// Dates are shown in Paris time.
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		paris = time.Local
	}
	today := time.Now().In(paris).Format("02/01/2006")
	if got := bt.Text(t, b, "#devices tbody tr .paired"); !strings.Contains(got, today) {
		t.Fatalf("pairing date %q", got)
	}
	if got := bt.Text(t, b, "#devices tbody tr .last-used"); !strings.Contains(got, today) {
		t.Fatalf("last use %q", got)
	}

	// « Révoquer ».
	bt.Do(t, b, "revoke", bt.Click("#devices .revoke"), bt.WaitVisible("#no-devices"))
	if got := bt.Text(t, b, "body"); !strings.Contains(got, "Accès révoqué") {
		t.Fatalf("no confirmation after revoking")
	}

	// The next device call fails: 401, one line, non-zero.
	_, errOut, err = deviceRun(t, bin, "list-messages", "--state", state)
	if err == nil || !strings.Contains(errOut, "credential refused") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		t.Fatalf("list-messages after revoking: %v %q", err, errOut)
	}
	if _, errOut, err = deviceRun(t, bin, "send", "--state", state, "--to", "marie.curie@web.test", "--subject", "x", "--body", "x"); err == nil ||
		!strings.Contains(errOut, "credential refused") {
		t.Fatalf("send after revoking: %v %q", err, errOut)
	}
	if err := deviceIMAPLogin(t, n, "jean@web.test", st.Credential); err == nil {
		t.Fatal("IMAP login with a revoked device credential succeeded")
	}
	if err := deviceSMTPAuth(t, n, "jean@web.test", st.Credential); err == nil {
		t.Fatal("SMTP AUTH with a revoked device credential succeeded")
	}
	// The password still works.
	if err := deviceIMAPLogin(t, n, "jean@web.test", testPassword); err != nil {
		t.Fatalf("IMAP login with the password: %v", err)
	}
}

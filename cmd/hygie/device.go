package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // QR code images may be JPEG too
	_ "image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/makiuchi-d/gozxing"
	gzqrcode "github.com/makiuchi-d/gozxing/qrcode"
	"github.com/spf13/cobra"
)

// hygie device: a small client of the device API (SPEC §2, Appareils
// mobiles) that plays the mobile app — pair from the QR code of « Générer
// le QR Code », list, read and send messages. The state file (--state)
// keeps the server address and the device credential, readable by its
// owner only.

func newDevice() *cobra.Command {
	c := &cobra.Command{
		Use:   "device",
		Short: "Client of the device API: pair from a QR code, list, read and send messages",
		Long: `A small client of the device API (/api/v1/, described by /api/v1/openapi.json),
playing the mobile app. Pair once with the QR code of « Gérer mon compte » ›
« Appareils mobiles » › « Générer le QR Code » (its JSON payload, or the PNG
image with --image); the credential is kept in the --state file (mode 0600)
and used by the other commands. Each command exits non-zero with a one-line
reason, for example when the credential is refused (revoked device).`,
	}
	var statePath string
	c.PersistentFlags().StringVar(&statePath, "state", "", "file keeping the server address and the device credential (required)")
	c.MarkPersistentFlagRequired("state")
	c.AddCommand(newDevicePair(&statePath), newDeviceAccounts(&statePath), newDeviceList(&statePath),
		newDeviceRead(&statePath), newDeviceSend(&statePath))
	return c
}

// deviceState is the --state file.
type deviceState struct {
	Server     string `json:"server"`
	Credential string `json:"credential"`
	AccountID  int64  `json:"account_id"`
	Login      string `json:"login"`
	DeviceID   int64  `json:"device_id"`
	DeviceName string `json:"device_name"`
	// Insecure skips the verification of the server's TLS certificate
	// (a test server's self-signed certificate).
	Insecure bool `json:"insecure,omitempty"`
}

func loadDeviceState(path string) (*deviceState, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("state file: %w (pair first: hygie device pair)", err)
	}
	var st deviceState
	if err := json.Unmarshal(b, &st); err != nil || st.Server == "" || st.Credential == "" {
		return nil, fmt.Errorf("state file %s: not a paired device's state", path)
	}
	return &st, nil
}

func saveDeviceState(path string, st *deviceState) error {
	b, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("state file: %w", err)
	}
	return nil
}

// pairingPayload is the JSON of the QR code (web.PairingPayload).
type pairingPayload struct {
	Kind    string `json:"type"`
	Version int    `json:"v"`
	Server  string `json:"server"`
	Secret  string `json:"secret"`
}

// parsePairingPayload reads the QR code's JSON payload.
func parsePairingPayload(s string) (*pairingPayload, error) {
	var p pairingPayload
	if err := json.Unmarshal([]byte(strings.TrimSpace(s)), &p); err != nil {
		return nil, fmt.Errorf("not a pairing QR code: %w", err)
	}
	if p.Kind != "hygie-pairing" || p.Server == "" || p.Secret == "" {
		return nil, errors.New("not a pairing QR code (want type hygie-pairing, server and secret)")
	}
	if u, err := url.Parse(p.Server); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("pairing QR code: bad server address %q", p.Server)
	}
	return &p, nil
}

// decodeQRImage reads the text of the QR code in an image file.
func decodeQRImage(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", path, err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", fmt.Errorf("image %s: %w", path, err)
	}
	// A photo needs the detector; gozxing's misjudges the dimension of
	// some symbols, which harder tries and, for a pure image of the code
	// (a screenshot, the page's PNG), reading it as such get right.
	var first error
	for _, hints := range []map[gozxing.DecodeHintType]any{
		nil,
		{gozxing.DecodeHintType_TRY_HARDER: true},
		{gozxing.DecodeHintType_PURE_BARCODE: true},
	} {
		res, err := gzqrcode.NewQRCodeReader().Decode(bmp, hints)
		if err == nil {
			return res.GetText(), nil
		}
		if first == nil {
			first = err
		}
	}
	return "", fmt.Errorf("no QR code found in %s: %w", path, first)
}

// deviceClient calls the device API.
type deviceClient struct {
	base string
	cred string
	http *http.Client
}

func newDeviceClient(server, cred string, insecure bool) *deviceClient {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if insecure {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for with --insecure
	}
	return &deviceClient{base: strings.TrimRight(server, "/"), cred: cred, http: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

// apiError is an error answer of the API.
type apiError struct {
	Status    int
	Message   string `json:"error"`
	Code      string `json:"code"`
	Recipient string `json:"recipient"`
}

func (e *apiError) Error() string {
	var b strings.Builder
	switch e.Status {
	case http.StatusUnauthorized:
		b.WriteString("credential refused")
	case http.StatusTooManyRequests:
		b.WriteString("throttled")
	default:
		fmt.Fprintf(&b, "server answered %d", e.Status)
	}
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + strings.ReplaceAll(e.Message, "\n", " "))
	}
	return b.String()
}

// call sends a request with a JSON body (nil: none) and decodes the JSON
// answer into out (nil: ignored).
func (c *deviceClient) call(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.cred != "" {
		req.Header.Set("Authorization", "Bearer "+c.cred)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("device API: %w", err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("device API: %w", err)
	}
	if res.StatusCode >= 300 {
		e := &apiError{Status: res.StatusCode}
		if json.Unmarshal(data, e) != nil || e.Message == "" {
			e.Message = strings.TrimSpace(string(data))
			if len(e.Message) > 200 {
				e.Message = e.Message[:200]
			}
		}
		return e
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("device API: bad answer: %w", err)
		}
	}
	return nil
}

// withDevice loads the state and runs fn with a client.
func withDevice(statePath string, fn func(ctx context.Context, st *deviceState, c *deviceClient) error) error {
	st, err := loadDeviceState(statePath)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	return fn(ctx, st, newDeviceClient(st.Server, st.Credential, st.Insecure))
}

func newDevicePair(statePath *string) *cobra.Command {
	var image, name string
	var insecure bool
	c := &cobra.Command{
		Use:   "pair PAYLOAD | --image FILE.png",
		Short: "Pair with the QR code of « Générer le QR Code » and keep the credential in --state",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var text string
			switch {
			case image != "" && len(args) == 0:
				var err error
				if text, err = decodeQRImage(image); err != nil {
					return err
				}
			case image == "" && len(args) == 1:
				text = args[0]
			default:
				return errors.New("give the QR code's payload or --image FILE, not both")
			}
			p, err := parsePairingPayload(text)
			if err != nil {
				return err
			}
			if name == "" {
				if h, err := os.Hostname(); err == nil {
					name = h
				}
			}
			ctx, cancel := signalContext()
			defer cancel()
			var res struct {
				Credential string `json:"credential"`
				Account    struct {
					ID    int64  `json:"id"`
					Login string `json:"login"`
				} `json:"account"`
				Device struct {
					ID   int64  `json:"id"`
					Name string `json:"name"`
				} `json:"device"`
			}
			cl := newDeviceClient(p.Server, "", insecure)
			if err := cl.call(ctx, http.MethodPost, "/api/v1/pair", map[string]string{"secret": p.Secret, "name": name}, &res); err != nil {
				var ae *apiError
				if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
					return fmt.Errorf("pairing refused: %s", ae.Message)
				}
				return err
			}
			st := &deviceState{Server: strings.TrimRight(p.Server, "/"), Credential: res.Credential, AccountID: res.Account.ID,
				Login: res.Account.Login, DeviceID: res.Device.ID, DeviceName: res.Device.Name, Insecure: insecure}
			if err := saveDeviceState(*statePath, st); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "paired device %q with %s on %s\n", st.DeviceName, st.Login, st.Server)
			return nil
		},
	}
	c.Flags().StringVar(&image, "image", "", "read the payload from the QR code in this PNG (or JPEG) image")
	c.Flags().StringVar(&name, "name", "", "the device's name (default: the host name)")
	c.Flags().BoolVar(&insecure, "insecure", false, "do not verify the server's TLS certificate (tests only)")
	return c
}

// deviceAccountView is an account as the API lists it.
type deviceAccountView struct {
	ID    int64  `json:"id"`
	Kind  string `json:"kind"`
	Box   bool   `json:"box"`
	Name  string `json:"name"`
	Login string `json:"login"`
	From  string `json:"from"`
}

func newDeviceAccounts(statePath *string) *cobra.Command {
	return &cobra.Command{
		Use:   "accounts",
		Short: "List the accounts the device reaches (individual, then boxes)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDevice(*statePath, func(ctx context.Context, st *deviceState, c *deviceClient) error {
				var res struct {
					Accounts []deviceAccountView `json:"accounts"`
				}
				if err := c.call(ctx, http.MethodGet, "/api/v1/accounts", nil, &res); err != nil {
					return err
				}
				w := table(cmd)
				fmt.Fprintln(w, "ID\tKIND\tADDRESS\tNAME")
				for _, a := range res.Accounts {
					fmt.Fprintf(w, "%d\t%s\t%s\t%s\n", a.ID, a.Kind, a.From, a.Name)
				}
				return w.Flush()
			})
		},
	}
}

// accountOr is the --account flag, or the paired account.
func accountOr(flag int64, st *deviceState) int64 {
	if flag != 0 {
		return flag
	}
	return st.AccountID
}

func newDeviceList(statePath *string) *cobra.Command {
	var acct int64
	var folder string
	var page, perPage int
	c := &cobra.Command{
		Use:   "list-messages",
		Short: "List the messages of a folder, newest first (ID, date, sender, subject; * unread)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return withDevice(*statePath, func(ctx context.Context, st *deviceState, c *deviceClient) error {
				q := url.Values{"folder": {folder}, "page": {fmt.Sprint(page)}, "per_page": {fmt.Sprint(perPage)}}
				var res struct {
					Page, Pages, Total int
					Messages           []struct {
						ID      string    `json:"id"`
						From    string    `json:"from"`
						Subject string    `json:"subject"`
						Date    time.Time `json:"date"`
						Seen    bool      `json:"seen"`
					} `json:"messages"`
				}
				if err := c.call(ctx, http.MethodGet, fmt.Sprintf("/api/v1/accounts/%d/messages?%s", accountOr(acct, st), q.Encode()), nil, &res); err != nil {
					return err
				}
				w := table(cmd)
				fmt.Fprintln(w, "ID\t \tDATE\tFROM\tSUBJECT")
				for _, m := range res.Messages {
					mark := " "
					if !m.Seen {
						mark = "*"
					}
					fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", m.ID, mark, m.Date.Format("2006-01-02 15:04"), m.From, m.Subject)
				}
				if err := w.Flush(); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "page %d of %d, %d messages\n", res.Page, res.Pages, res.Total)
				return nil
			})
		},
	}
	c.Flags().Int64Var(&acct, "account", 0, "account or box id (default: the paired account)")
	c.Flags().StringVar(&folder, "folder", "INBOX", "folder name")
	c.Flags().IntVar(&page, "page", 1, "page number")
	c.Flags().IntVar(&perPage, "per-page", 50, "messages per page (at most 200)")
	return c
}

func newDeviceRead(statePath *string) *cobra.Command {
	var acct int64
	c := &cobra.Command{
		Use:   "read ID",
		Short: "Show a message (ID as listed: folder/uid); this counts as an opening",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			folder, uid, ok := strings.Cut(args[0], "/")
			if !ok || folder == "" || uid == "" || strings.Trim(folder+uid, "0123456789") != "" {
				return fmt.Errorf("bad message id %q (want folder/uid, as list-messages shows)", args[0])
			}
			return withDevice(*statePath, func(ctx context.Context, st *deviceState, c *deviceClient) error {
				type addr struct {
					Name    string `json:"name"`
					Address string `json:"address"`
				}
				var m struct {
					From        []addr    `json:"from"`
					To          []addr    `json:"to"`
					Cc          []addr    `json:"cc"`
					Subject     string    `json:"subject"`
					Date        time.Time `json:"date"`
					Text        string    `json:"text"`
					Attachments []struct {
						Filename string `json:"filename"`
						Size     int    `json:"size"`
					} `json:"attachments"`
				}
				if err := c.call(ctx, http.MethodGet, fmt.Sprintf("/api/v1/accounts/%d/messages/%s/%s", accountOr(acct, st), folder, uid), nil, &m); err != nil {
					return err
				}
				list := func(as []addr) string {
					out := make([]string, len(as))
					for i, a := range as {
						out[i] = a.Address
						if a.Name != "" {
							out[i] = a.Name + " <" + a.Address + ">"
						}
					}
					return strings.Join(out, ", ")
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "From: %s\nTo: %s\n", list(m.From), list(m.To))
				if len(m.Cc) > 0 {
					fmt.Fprintf(out, "Cc: %s\n", list(m.Cc))
				}
				fmt.Fprintf(out, "Date: %s\nSubject: %s\n", m.Date.Format(time.RFC1123Z), m.Subject)
				for _, a := range m.Attachments {
					fmt.Fprintf(out, "Attachment: %s (%d bytes)\n", a.Filename, a.Size)
				}
				fmt.Fprintf(out, "\n%s\n", strings.TrimRight(m.Text, "\n"))
				return nil
			})
		},
	}
	c.Flags().Int64Var(&acct, "account", 0, "account or box id (default: the paired account)")
	return c
}

func newDeviceSend(statePath *string) *cobra.Command {
	var acct int64
	var to, cc []string
	var subject, body string
	c := &cobra.Command{
		Use:   "send --to ADDRESS --subject S --body B",
		Short: "Send a plain-text message (the routing rules of SMTP submission apply)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(to) == 0 {
				return errors.New("give at least one --to ADDRESS")
			}
			return withDevice(*statePath, func(ctx context.Context, st *deviceState, c *deviceClient) error {
				var res struct {
					MessageID string `json:"message_id"`
				}
				req := map[string]any{"to": to, "cc": cc, "subject": subject, "body": body}
				if err := c.call(ctx, http.MethodPost, fmt.Sprintf("/api/v1/accounts/%d/send", accountOr(acct, st)), req, &res); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "sent %s\n", res.MessageID)
				return nil
			})
		},
	}
	c.Flags().Int64Var(&acct, "account", 0, "account or box id to send as (default: the paired account)")
	c.Flags().StringArrayVar(&to, "to", nil, "recipient address (repeat for several)")
	c.Flags().StringArrayVar(&cc, "cc", nil, "copy recipient address (repeat for several)")
	c.Flags().StringVar(&subject, "subject", "", "subject")
	c.Flags().StringVar(&body, "body", "", "text of the message")
	return c
}

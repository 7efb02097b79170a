package web

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/device"
	"github.com/hygie-sante/hygie/internal/store"
)

// « Gérer mon compte » — Appareils mobiles (SPEC §2.8, individual accounts
// only): A. name a device and « Générer le QR Code », whose payload holds
// the server address and a single-use pairing secret valid five minutes
// (see PairingPayload); B. the paired devices with their pairing date and
// last use, each with « Révoquer ».

func init() {
	register("GET /a/{acct}/compte/appareils", func(s *Server) sessionHandler { return s.devicesShow })
	register("POST /a/{acct}/compte/appareils", func(s *Server) sessionHandler { return s.devicesPair })
	register("POST /a/{acct}/compte/appareils/{device}/revoquer", func(s *Server) sessionHandler { return s.devicesRevoke })
	funcs["deviceDate"] = deviceDate
}

// deviceState is what the web application keeps for mobile devices.
type deviceState struct {
	svc *device.Service
	// limit throttles the device API per device.
	limit apiLimiter
}

// apiLimiter throttles the device API per device: device.Limiter in memory
// on SQLite (one node), device.SharedLimiter in the database on PostgreSQL,
// where several nodes share each device's allowance.
type apiLimiter interface {
	Allow(ctx context.Context, id int64) (ok bool, wait time.Duration, err error)
}

// Device API throttle: a burst of 60 requests, then 5 per second.
const (
	apiBurst = 60
	apiRate  = 5
)

func newDeviceState(cfg Config) *deviceState {
	svc := device.New(cfg.St)
	svc.Now = cfg.Now
	if cfg.St.Dialect == store.Postgres {
		l := device.NewSharedLimiter(cfg.St, apiRate, apiBurst)
		l.Now = cfg.Now
		return &deviceState{svc: svc, limit: l}
	}
	l := device.NewLimiter(apiRate, apiBurst)
	l.Now = cfg.Now
	return &deviceState{svc: svc, limit: l}
}

// PairingPayload is what the QR code of « Générer le QR Code » carries, as
// JSON: the address of the server (its public URL; the device API is under
// Server + "/api/v1/") and the pairing secret to send to POST
// /api/v1/pair. Kind is always "hygie-pairing", Version 1.
type PairingPayload struct {
	Kind    string `json:"type"`
	Version int    `json:"v"`
	Server  string `json:"server"`
	Secret  string `json:"secret"`
}

// PairingKind is PairingPayload.Kind.
const PairingKind = "hygie-pairing"

// devicesData is what templates/device_list.html shows.
type devicesData struct {
	Devices []device.Device
	// Name is what was typed, shown again after a refusal.
	Name string
	// QR is the PNG of a pairing just created, as a data: URI; Payload its
	// text; Expires its end.
	QR      template.URL
	Payload string
	Expires time.Time
	// PairedName is the name the QR code is for.
	PairedName string
}

// devicesAccount is the acting account when it is an individual one: a box
// has no devices (404).
func (s *Server) devicesAccount(w http.ResponseWriter, r *http.Request, sess *Session) (*account.Account, bool) {
	a, ok := s.acting(w, r, sess)
	if !ok {
		return nil, false
	}
	if a.IsBox() {
		http.NotFound(w, r)
		return nil, false
	}
	return a, true
}

func (s *Server) devicesShow(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.devicesAccount(w, r, sess)
	if !ok {
		return
	}
	s.renderDevices(w, r, sess, a, http.StatusOK, &devicesData{}, nil)
}

func (s *Server) renderDevices(w http.ResponseWriter, r *http.Request, sess *Session, a *account.Account, status int, d *devicesData, errs map[string]string) {
	list, err := s.dev.svc.List(r.Context(), a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Devices = list
	s.render(w, r, sess, "device_list", status, &view{Title: "Appareils mobiles", Acting: a, Section: "appareils", Errors: errs, Data: d})
}

// devicesPair is « Générer le QR Code »: a pairing secret for the named
// device, shown once as a QR code on the answer page (never stored in
// clear, so the page is not kept: Cache-Control no-store).
func (s *Server) devicesPair(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.devicesAccount(w, r, sess)
	if !ok {
		return
	}
	name := r.FormValue("name")
	p, err := s.dev.svc.StartPairing(r.Context(), a.ID, name)
	if errors.Is(err, device.ErrInvalid) {
		msg := "Renseignez un nom pour identifier votre appareil."
		if strings.TrimSpace(name) != "" {
			msg = "Le nom de l’appareil doit faire au plus " + strconv.Itoa(device.MaxNameLen) + " caractères, sans caractère de contrôle."
		}
		s.renderDevices(w, r, sess, a, http.StatusBadRequest, &devicesData{Name: name}, map[string]string{"name": msg})
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	payload, err := json.Marshal(PairingPayload{Kind: PairingKind, Version: 1, Server: s.cfg.PublicURL, Secret: p.Secret})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	// Whole pixels per module (a negative size): scaled to an arbitrary
	// width, modules of uneven widths make the code harder to read, for a
	// phone's camera as for a decoder.
	png, err := qrcode.Encode(string(payload), qrcode.Medium, -8)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("devices: pairing started", "account", a.Login, "device", p.Name, "expires", p.Expires)
	s.renderDevices(w, r, sess, a, http.StatusOK, &devicesData{
		QR:      template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(png)),
		Payload: string(payload), Expires: p.Expires, PairedName: p.Name,
	}, nil)
}

// devicesRevoke is « Révoquer »: the device's credential fails at once on
// the device API, IMAP and SMTP.
func (s *Server) devicesRevoke(w http.ResponseWriter, r *http.Request, sess *Session) {
	a, ok := s.devicesAccount(w, r, sess)
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("device"), 10, 64)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	err = s.dev.svc.Revoke(r.Context(), a.ID, id)
	if errors.Is(err, device.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("devices: device revoked", "account", a.Login, "device", id)
	redirectFlash(w, r, "/a/"+itoa(a.ID)+"/compte/appareils", "Accès révoqué pour cet appareil.")
}

// deviceDate shows a pairing or last use date, « jamais » when zero.
func deviceDate(t time.Time) string {
	if t.IsZero() {
		return "jamais"
	}
	return t.In(paris).Format("02/01/2006 à 15:04")
}

package web

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/device"
)

// The device API (SPEC §2 Appareils mobiles, issue 4): JSON over HTTP(S)
// under /api/v1/, described by the OpenAPI document at
// /api/v1/openapi.json. A device pairs once (POST /api/v1/pair), then
// presents its credential as a bearer token (RFC 6750 §2.1) on every call.
// A device reaches its own account and the organisational boxes that
// account is a member of; anything else is 404. There is no session cookie,
// hence no CSRF token (and the cross-origin check lets /api/v1/ through).

// apiMaxBody bounds a JSON request body; a message sent through the API is
// bounded by the SMTP size limit on top of that.
const apiMaxBody = 1 << 20

// apiCall is an authenticated device API request.
type apiCall struct {
	Device *device.Device
	// User is the device's account (an individual account).
	User *account.Account
}

// apiHandler is a device API handler, called once the bearer credential is
// checked and the call allowed by the throttle.
type apiHandler func(w http.ResponseWriter, r *http.Request, c *apiCall)

// registerAPI adds a device API endpoint that needs a device credential.
func registerAPI(pattern string, h func(*Server) apiHandler) {
	registerPlain(pattern, func(s *Server) http.HandlerFunc { return s.withDevice(h(s)) })
}

// apiError is the body of every error answer: a French message for people,
// and for a refused message the enhanced status code (RFC 3463) and the
// recipient concerned.
type apiError struct {
	Error     string `json:"error"`
	Code      string `json:"code,omitempty"`
	Recipient string `json:"recipient,omitempty"`
}

func apiJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func apiFail(w http.ResponseWriter, status int, msg string) {
	apiJSON(w, status, apiError{Error: msg})
}

func apiNotFound(w http.ResponseWriter) {
	apiFail(w, http.StatusNotFound, "Introuvable.")
}

// apiInternal answers an internal error without revealing it.
func (s *Server) apiInternal(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("api: internal error", "path", r.URL.Path, "err", err)
	apiFail(w, http.StatusInternalServerError, "Erreur interne. Réessayez plus tard.")
}

// apiUnauthorized answers a missing, unknown or revoked credential
// (RFC 6750 §3).
func apiUnauthorized(w http.ResponseWriter, invalid bool) {
	v := `Bearer realm="hygie"`
	if invalid {
		v += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", v)
	apiFail(w, http.StatusUnauthorized, "Identifiant d’appareil refusé : associez de nouveau l’appareil.")
}

// bearer returns the token of an "Authorization: Bearer" field.
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// withDevice checks the bearer credential (401 at once when unknown or
// revoked, or when its account is disabled) and the device's throttle
// (429 with Retry-After), then runs h.
func (s *Server) withDevice(h apiHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := bearer(r)
		if tok == "" {
			apiUnauthorized(w, false)
			return
		}
		ctx := r.Context()
		d, err := s.dev.svc.Authenticate(ctx, tok)
		if errors.Is(err, device.ErrBadCredential) {
			s.log.Info("api: credential refused", "ip", clientIP(r), "path", r.URL.Path)
			apiUnauthorized(w, true)
			return
		}
		if err != nil {
			s.apiInternal(w, r, err)
			return
		}
		user, err := s.cfg.Accounts.ByID(ctx, d.AccountID)
		if err != nil || user.Disabled || user.IsBox() {
			apiUnauthorized(w, true)
			return
		}
		ok, wait, err := s.dev.limit.Allow(ctx, d.ID)
		if err != nil {
			// The call itself needs the database and will say so.
			s.log.Error("api: device throttle", "device", d.ID, "err", err)
		}
		if !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			apiFail(w, http.StatusTooManyRequests, "Trop de requêtes : réessayez dans quelques secondes.")
			return
		}
		h(w, r, &apiCall{Device: d, User: user})
	}
}

// apiAccount is the account or box named by the {acct} path value when the
// device may reach it: its own account, or a box the account is a member
// of. Otherwise it answers 404, never revealing whether the id exists.
func (s *Server) apiAccount(w http.ResponseWriter, r *http.Request, c *apiCall) (*account.Account, bool) {
	id, err := strconv.ParseInt(r.PathValue("acct"), 10, 64)
	if err != nil {
		apiNotFound(w)
		return nil, false
	}
	if id == c.User.ID {
		return c.User, true
	}
	ok, err := s.cfg.Accounts.IsMember(r.Context(), id, c.User.ID)
	if err != nil {
		s.apiInternal(w, r, err)
		return nil, false
	}
	if !ok {
		apiNotFound(w)
		return nil, false
	}
	a, err := s.cfg.Accounts.ByID(r.Context(), id)
	if err != nil || a.Disabled {
		apiNotFound(w)
		return nil, false
	}
	return a, true
}

// apiDecode reads a JSON request body into v; false means it answered 400.
func apiDecode(w http.ResponseWriter, r *http.Request, limit int64, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			apiFail(w, http.StatusRequestEntityTooLarge, "Requête trop volumineuse.")
			return false
		}
		apiFail(w, http.StatusBadRequest, "Requête invalide : un objet JSON est attendu.")
		return false
	}
	if _, err := dec.Token(); err != io.EOF {
		apiFail(w, http.StatusBadRequest, "Requête invalide : un seul objet JSON est attendu.")
		return false
	}
	return true
}

// apiAccountView is an account or box as the API shows it.
type apiAccountView struct {
	ID    int64  `json:"id"`
	Kind  string `json:"kind"`
	Box   bool   `json:"box"`
	Name  string `json:"name"`
	Login string `json:"login"`
	MSS   string `json:"mss,omitempty"`
	// From is the address messages sent as this account come from.
	From string `json:"from"`
}

func apiAccountOf(a *account.Account) apiAccountView {
	return apiAccountView{ID: a.ID, Kind: string(a.Kind), Box: a.IsBox(), Name: a.DisplayName(), Login: a.Login, MSS: a.MSS, From: fromAddress(a)}
}

func init() {
	registerPlain("POST /api/v1/pair", func(s *Server) http.HandlerFunc { return s.apiPair })
	registerAPI("GET /api/v1/accounts", func(s *Server) apiHandler { return s.apiAccounts })
}

// apiPairRequest is the body of POST /api/v1/pair.
type apiPairRequest struct {
	Secret string `json:"secret"`
	Name   string `json:"name"`
}

// apiPairResponse is the answer of POST /api/v1/pair.
type apiPairResponse struct {
	Credential string         `json:"credential"`
	Account    apiAccountView `json:"account"`
	Device     apiDeviceView  `json:"device"`
}

type apiDeviceView struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
}

// pairThrottleKey limits pairing attempts per client address.
func pairThrottleKey(r *http.Request) string { return "pair-ip|" + clientIP(r) }

// apiPair exchanges a pairing secret (from the QR code) and the device's
// name for a device credential, shown this once.
func (s *Server) apiPair(w http.ResponseWriter, r *http.Request) {
	key := pairThrottleKey(r)
	att, ok := s.ipThrottle.Try(r.Context(), key)
	if !ok {
		w.Header().Set("Retry-After", "900")
		apiFail(w, http.StatusTooManyRequests, "Trop de tentatives d’association. Réessayez dans quelques minutes.")
		return
	}
	var req apiPairRequest
	if !apiDecode(w, r, 4096, &req) {
		return
	}
	p, err := s.dev.svc.Pair(r.Context(), req.Secret, req.Name)
	if errors.Is(err, device.ErrBadSecret) {
		apiFail(w, http.StatusUnauthorized, "QR Code inconnu, déjà utilisé ou expiré : générez-en un autre.")
		return // the attempt counts
	}
	att.Drop(r.Context()) // paired, or not checked: not a guess
	if err != nil {
		s.apiInternal(w, r, err)
		return
	}
	a, err := s.cfg.Accounts.ByID(r.Context(), p.Device.AccountID)
	if err != nil {
		s.apiInternal(w, r, err)
		return
	}
	s.log.Info("api: device paired", "account", a.Login, "device", p.Device.ID, "name", p.Device.Name, "ip", clientIP(r))
	apiJSON(w, http.StatusCreated, apiPairResponse{Credential: p.Credential, Account: apiAccountOf(a),
		Device: apiDeviceView{ID: p.Device.ID, Name: p.Device.Name}})
}

// apiAccounts lists the accounts the device reaches: its individual
// account, then the boxes it is a member of.
func (s *Server) apiAccounts(w http.ResponseWriter, r *http.Request, c *apiCall) {
	boxes, err := s.cfg.Accounts.Boxes(r.Context(), c.User.ID)
	if err != nil {
		s.apiInternal(w, r, err)
		return
	}
	out := []apiAccountView{apiAccountOf(c.User)}
	for _, b := range boxes {
		if !b.Disabled {
			out = append(out, apiAccountOf(b))
		}
	}
	apiJSON(w, http.StatusOK, map[string]any{"accounts": out})
}

package auth

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/emersion/go-sasl"
)

// XOAuth2 is the name of Google's XOAUTH2 SASL mechanism
// (https://developers.google.com/gmail/imap/xoauth2-protocol).
const XOAuth2 = "XOAUTH2"

// TokenAuthenticator checks a bearer token presented for user (the XOAUTH2
// user, or the OAUTHBEARER authzid, possibly empty). Its error is what the
// protocol answers once the SASL exchange ends; a malformed client
// response is reported as a call with an empty token, so that it is
// audited and throttled like any failed login.
type TokenAuthenticator func(user, token string) error

// errorChallenge is the JSON error a server sends before failing an
// OAUTHBEARER (RFC 7628 §3.2.2) or XOAUTH2 exchange; the client answers it
// with a dummy response (%x01 or empty) and the server then fails.
func errorChallenge(status string) []byte {
	b, _ := json.Marshal(struct {
		Status  string `json:"status"`
		Schemes string `json:"schemes"`
	}{status, "bearer"})
	return b
}

// xoauth2Server is the server side of XOAUTH2: the client's response is
// "user=" user "\x01auth=Bearer " token "\x01\x01".
type xoauth2Server struct {
	auth   TokenAuthenticator
	step   int
	failed error
}

// NewXOAuth2Server returns the server side of XOAUTH2. On failure it sends
// a JSON error challenge, waits for the client's empty response, then fails
// with auth's error.
func NewXOAuth2Server(auth TokenAuthenticator) sasl.Server {
	return &xoauth2Server{auth: auth}
}

func (x *xoauth2Server) Next(response []byte) ([]byte, bool, error) {
	switch {
	case x.failed != nil:
		// The client's dummy response to the error challenge, whatever it is.
		return nil, true, x.failed
	case x.step > 0:
		return nil, true, sasl.ErrUnexpectedClientResponse
	case response == nil:
		// No initial response: ask for one with an empty challenge.
		return []byte{}, false, nil
	}
	x.step++
	user, token := parseXOAuth2(response)
	if err := x.auth(user, token); err != nil {
		x.failed = err
		return errorChallenge("401"), false, nil
	}
	return nil, true, nil
}

// parseXOAuth2 extracts user and token; a malformed response yields an
// empty token.
func parseXOAuth2(b []byte) (user, token string) {
	for _, f := range bytes.Split(b, []byte{0x01}) {
		k, v, ok := strings.Cut(string(f), "=")
		if !ok {
			continue
		}
		switch k {
		case "user":
			user = v
		case "auth":
			if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
				token = strings.TrimSpace(v[7:])
			}
		}
	}
	if !bytes.HasSuffix(b, []byte{0x01, 0x01}) {
		return user, ""
	}
	return user, token
}

// oauthBearerServer wraps go-sasl's OAUTHBEARER server (RFC 7628): it
// answers the client's dummy response to an error challenge with auth's
// error (go-sasl would return its own, and read past an empty response).
type oauthBearerServer struct {
	inner  sasl.Server
	auth   TokenAuthenticator
	err    error // auth's error, when it refused
	failed error
}

// NewOAuthBearerServer returns the server side of OAUTHBEARER (RFC 7628)
// calling auth with the gs2 authzid and the bearer token.
func NewOAuthBearerServer(auth TokenAuthenticator) sasl.Server {
	o := &oauthBearerServer{auth: auth}
	o.inner = sasl.NewOAuthBearerServer(func(opts sasl.OAuthBearerOptions) *sasl.OAuthBearerError {
		if err := auth(opts.Username, opts.Token); err != nil {
			o.err = err
			return &sasl.OAuthBearerError{Status: "invalid_token", Schemes: "bearer"}
		}
		return nil
	})
	return o
}

func (o *oauthBearerServer) Next(response []byte) ([]byte, bool, error) {
	if o.failed != nil {
		return nil, true, o.failed
	}
	challenge, done, err := o.inner.Next(response)
	if err != nil || done || len(challenge) == 0 {
		return challenge, done, err
	}
	// An error challenge: RFC 7628 §3.2.3.
	o.failed = o.err
	if o.failed == nil {
		// go-sasl refused a malformed response before calling auth.
		if o.failed = o.auth("", ""); o.failed == nil {
			o.failed = sasl.ErrUnexpectedClientResponse
		}
		challenge = errorChallenge("invalid_request")
	}
	return challenge, false, nil
}

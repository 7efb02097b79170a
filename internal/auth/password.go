// Package auth owns credentials: password hashing, and later reset tokens,
// sessions, login modes, device credentials and throttling.
package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2id parameters (RFC 9106 §4, second recommended option scaled to the
// OWASP minimum of 19 MiB so that logins stay cheap on two cores).
const (
	argonTime    = 2
	argonMemory  = 19 * 1024
	argonThreads = 1
	argonKeyLen  = 32
	saltLen      = 16
	// MinPasswordLength is the shortest accepted password.
	MinPasswordLength = 8
	maxPasswordLength = 1024
)

// argonSlots bounds concurrent argon2id computations: each takes
// argonMemory KiB, and more of them than processors only adds memory.
var argonSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

func idKey(password, salt []byte, t, m uint32, p uint8, n uint32) []byte {
	argonSlots <- struct{}{}
	defer func() { <-argonSlots }()
	return argon2.IDKey(password, salt, t, m, p, n)
}

// ErrMismatch is returned when a password does not match its hash.
var ErrMismatch = errors.New("password mismatch")

// HashPassword returns an argon2id hash in the PHC string format
// $argon2id$v=19$m=…,t=…,p=…$salt$key.
func HashPassword(password string) (string, error) {
	if err := CheckPasswordPolicy(password); err != nil {
		return "", err
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := idKey([]byte(password), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// CheckPasswordPolicy refuses passwords too short or too long.
func CheckPasswordPolicy(password string) error {
	if len(password) < MinPasswordLength {
		return fmt.Errorf("password too short: at least %d characters", MinPasswordLength)
	}
	if len(password) > maxPasswordLength {
		return fmt.Errorf("password too long")
	}
	return nil
}

// VerifyPassword checks password against a hash made by HashPassword, in
// constant time. An empty hash (no password set) never matches.
func VerifyPassword(hash, password string) error {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return ErrMismatch
	}
	var version int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return ErrMismatch
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return ErrMismatch
	}
	enc := base64.RawStdEncoding
	salt, err := enc.DecodeString(parts[4])
	if err != nil {
		return ErrMismatch
	}
	want, err := enc.DecodeString(parts[5])
	if err != nil || len(want) == 0 {
		return ErrMismatch
	}
	if len(password) > maxPasswordLength {
		return ErrMismatch
	}
	got := idKey([]byte(password), salt, t, m, p, uint32(len(want)))
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return ErrMismatch
	}
	return nil
}

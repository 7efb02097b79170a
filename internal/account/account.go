// Package account owns structures, accounts, organisational boxes and their
// members, and the rules of SPEC §1 about who may write to whom and as whom.
package account

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Kind is an account type (SPEC §1).
type Kind string

// The account types.
const (
	// MED is a professional without RPPS: platform users only.
	MED Kind = "MED"
	// PER is a health professional with an RPPS number.
	PER Kind = "PER"
	// INT is a professional awaiting an RPPS number.
	INT Kind = "INT"
	// ORG is an organisational (shared) box; it never logs in itself.
	ORG Kind = "ORG"
)

// ParseKind accepts MED, PER, INT or ORG in any case.
func ParseKind(s string) (Kind, error) {
	k := Kind(strings.ToUpper(strings.TrimSpace(s)))
	switch k {
	case MED, PER, INT, ORG:
		return k, nil
	}
	return "", fmt.Errorf("%w: unknown account type %q (want MED, PER, INT or ORG)", ErrInvalid, s)
}

// CanLeavePlatform reports whether accounts of kind k may exchange with
// other MSSanté operators.
func (k Kind) CanLeavePlatform() bool { return k != MED }

// Structure is an organisation (clinic, hospital, practice) holding accounts.
type Structure struct {
	ID       int64
	Name     string
	FINESS   string
	Disabled bool
	Created  time.Time
}

// Account is an individual account or an organisational box.
type Account struct {
	ID          int64
	StructureID int64
	Structure   string
	Kind        Kind
	// Login is the platform (Medimail) address; for a person, the login.
	Login string
	// MSS is the MSSanté address; empty for MED accounts.
	MSS       string
	FirstName string
	LastName  string
	// Label is an organisational box's name (raison sociale).
	Label  string
	RPPS   string
	FINESS string
	// Notify is the ordinary mailbox outside the platform that receives
	// notifications (SPEC §1).
	Notify   string
	Disabled bool
	Created  time.Time

	passwordHash string
}

// IsBox reports whether a is an organisational box.
func (a *Account) IsBox() bool { return a.Kind == ORG }

// DisplayName is the name shown to correspondents.
func (a *Account) DisplayName() string {
	if a.IsBox() {
		return a.Label
	}
	return strings.TrimSpace(a.FirstName + " " + a.LastName)
}

// Addresses lists the account's own addresses: login first, then MSSanté.
func (a *Account) Addresses() []string {
	if a.MSS != "" && a.MSS != a.Login {
		return []string{a.Login, a.MSS}
	}
	return []string{a.Login}
}

// HasAddress reports whether addr is one of the account's own addresses.
func (a *Account) HasAddress(addr string) bool {
	for _, x := range a.Addresses() {
		if strings.EqualFold(x, addr) {
			return true
		}
	}
	return false
}

// Errors that callers map to protocol answers; wrap them with details.
var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("already exists")
	ErrInvalid   = errors.New("invalid")
	ErrDisabled  = errors.New("disabled")
	ErrBadLogin  = errors.New("invalid credentials")
)

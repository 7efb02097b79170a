package mail

import (
	"context"
	"errors"
	"slices"

	"github.com/hygie-sante/hygie/internal/account"
	"github.com/hygie-sante/hygie/internal/address"
)

// TrustSpace tells which mail domains belong to MSSanté operators.
type TrustSpace interface {
	IsTrusted(domain string) bool
}

// Router applies the routing rules of SPEC §1 to one recipient.
type Router struct {
	Accounts *account.Service
	Trust    TrustSpace
	// Domains are hosted here: an unknown address in them is unknown,
	// not remote.
	Domains []string
}

// Destination is a routed recipient: a local account or box, or a remote
// address at a trusted operator.
type Destination struct {
	Address string
	Local   *account.Account
}

// IsLocal reports whether the recipient is on this platform.
func (d Destination) IsLocal() bool { return d.Local != nil }

// Route decides where rcpt goes when sender writes to it. sender is the
// identity the message is sent as (an account or a box); nil means mail
// arriving from another operator, which may only reach local recipients.
func (r *Router) Route(ctx context.Context, sender *account.Account, rcpt string) (Destination, error) {
	addr, err := address.Parse(rcpt)
	if err != nil {
		return Destination{}, refuse(501, 5, 1, 3, "bad recipient address: %v", err)
	}
	a, err := r.Accounts.ByAddress(ctx, addr)
	switch {
	case err == nil:
		if a.Disabled {
			return Destination{}, refuse(550, 5, 2, 1, "mailbox %s is disabled", addr)
		}
		return Destination{Address: addr, Local: a}, nil
	case !errors.Is(err, account.ErrNotFound):
		return Destination{}, refuse(451, 4, 3, 0, "temporary failure looking up %s", addr)
	}
	domain := address.Domain(addr)
	if slices.Contains(r.Domains, domain) {
		return Destination{}, refuse(550, 5, 1, 1, "no such mailbox: %s", addr)
	}
	if sender == nil {
		return Destination{}, refuse(550, 5, 7, 1, "relaying denied: %s is not a mailbox of this operator", addr)
	}
	if r.Trust == nil || !r.Trust.IsTrusted(domain) {
		return Destination{}, refuse(550, 5, 7, 1, "%s is outside the MSSanté trust space: mail can only be sent to health operators' domains", domain)
	}
	if !sender.Kind.CanLeavePlatform() {
		return Destination{}, refuse(550, 5, 7, 1, "a MED account can only write to users of this platform; %s is at another MSSanté operator (ask a PER account or an organisational box to send it, for example by delegation)", addr)
	}
	return Destination{Address: addr}, nil
}

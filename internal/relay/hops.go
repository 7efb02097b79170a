package relay

import (
	"context"
	"errors"
	"net"
	"sort"
	"strings"
)

// hop is one SMTP server to try for a domain.
type hop struct {
	// Name is the host name, checked against the peer's certificate
	// (the MX host name as reference identifier, RFC 6125).
	Name string
	// Addr is "host:port" to dial.
	Addr string
	// implicit marks the domain itself used as its own MX (RFC 5321 §5.1).
	implicit bool
}

// nextHops lists the servers to try for domain, best first: its static
// route when one is configured, else its MX records by preference, else
// the domain itself when it has no MX (RFC 5321 §5.1). A domain with a
// null MX (RFC 7505) accepts no mail: that is a permanent failure, as is a
// domain that does not exist; a DNS failure is transient.
func (r *Relay) nextHops(ctx context.Context, domain string) ([]hop, *outcome) {
	domain = strings.ToLower(strings.TrimSuffix(domain, "."))
	if route, ok := r.cfg.Routes[domain]; ok {
		host, _, err := net.SplitHostPort(route)
		if err != nil {
			return nil, &outcome{Status: "4.3.5", Text: "bad static route " + route + " for " + domain + ": " + err.Error()}
		}
		return []hop{{Name: host, Addr: route}}, nil
	}
	mxs, err := r.cfg.Resolver.LookupMX(ctx, domain)
	var dnsErr *net.DNSError
	switch {
	case err != nil && len(mxs) == 0 && errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		// No MX: the domain is its own mail exchanger (RFC 5321 §5.1);
		// dialing tells whether it exists.
		return []hop{{Name: domain, Addr: net.JoinHostPort(domain, r.cfg.Port), implicit: true}}, nil
	case err != nil && len(mxs) == 0:
		return nil, &outcome{Status: "4.4.3", Text: "MX lookup for " + domain + ": " + err.Error()}
	}
	// Go already sorts by preference (shuffling equal ones, RFC 5321 §5.1);
	// other resolvers may not.
	sort.SliceStable(mxs, func(i, j int) bool { return mxs[i].Pref < mxs[j].Pref })
	var hops []hop
	null := false
	for _, mx := range mxs {
		host := strings.ToLower(strings.TrimSuffix(mx.Host, "."))
		if host == "" {
			null = true // "." is the null MX of RFC 7505 §3
			continue
		}
		hops = append(hops, hop{Name: host, Addr: net.JoinHostPort(host, r.cfg.Port)})
	}
	if len(hops) == 0 {
		if null {
			return nil, &outcome{Code: 556, Status: "5.1.10", Permanent: true,
				Text: "556 5.1.10 " + domain + " does not accept mail (null MX, RFC 7505)"}
		}
		return nil, &outcome{Status: "4.4.3", Text: "MX lookup for " + domain + " returned no usable host"}
	}
	return hops, nil
}

package web

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// RealIP serves h with the client's address in RemoteAddr when the request
// comes through one of the trusted proxies (HTTP load balancers): the
// rightmost X-Forwarded-For hop that is not itself a trusted proxy. From
// any other peer the header is ignored, so that nobody can choose the
// address the login throttles and the audit trail see.
func RealIP(trusted []netip.Prefix, h http.Handler) http.Handler {
	if len(trusted) == 0 {
		return h
	}
	isTrusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !isTrusted(peer.Addr()) {
			h.ServeHTTP(w, r)
			return
		}
		var hops []string
		for _, v := range r.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(v, ",")...)
		}
		client := peer.Addr()
		for i := len(hops) - 1; i >= 0; i-- {
			a, ok := parseHop(hops[i])
			if !ok {
				break // a malformed hop: believe nothing further left
			}
			client = a
			if !isTrusted(a) {
				break
			}
		}
		if client != peer.Addr() {
			r = r.WithContext(r.Context())
			r.RemoteAddr = net.JoinHostPort(client.Unmap().String(), "0")
		}
		h.ServeHTTP(w, r)
	})
}

// parseHop reads one X-Forwarded-For item: an IP, possibly with a port.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a, true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr(), true
	}
	return netip.Addr{}, false
}

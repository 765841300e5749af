package ratelimit

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/sluice-dev/sluice/interceptors/callkey"
	"github.com/sluice-dev/sluice/interceptors/identity"
)

// KeyFunc names the party a call is counted against: calls with equal keys
// share a bucket. It returns false when the call has no key (an anonymous
// caller for an identity key, an absent header); the limit then does not
// apply to the call, so pair such limits with a client IP or global one to
// cover everybody. It is callkey.Func, the one declaration the per-key
// policies share, so the key functions below serve them all.
type KeyFunc = callkey.Func

// GlobalKey puts every call in one bucket.
func GlobalKey() KeyFunc {
	return func(context.Context, string) (string, bool) { return "*", true }
}

// MetadataKey keys calls by the first non-empty value of the request
// metadata entry name (for REST: the HTTP header of that name).
func MetadataKey(name string) KeyFunc {
	name = strings.ToLower(name)
	return func(ctx context.Context, _ string) (string, bool) {
		md, _ := metadata.FromIncomingContext(ctx)
		for _, v := range md.Get(name) {
			if v != "" {
				return v, true
			}
		}
		return "", false
	}
}

// IdentityKey keys calls by the verified identity that interceptors/authn
// put into the context, as "provider:subject"; anonymous calls have no
// key.
func IdentityKey() KeyFunc {
	return func(ctx context.Context, _ string) (string, bool) {
		id, ok := identity.FromContext(ctx)
		if !ok || id.Subject == "" {
			return "", false
		}
		return id.Provider + ":" + id.Subject, true
	}
}

// APIKeyKey keys calls by the name of the API key they authenticated with;
// calls authenticated otherwise, or not at all, have no key.
func APIKeyKey() KeyFunc {
	return func(ctx context.Context, _ string) (string, bool) {
		id, ok := identity.FromContext(ctx)
		if !ok || id.Provider != identity.ProviderAPIKey || id.Subject == "" {
			return "", false
		}
		return id.Subject, true
	}
}

// ClientIPKey keys calls by the client's IP address. That is the peer's
// address, unless the peer is one of the trusted proxies: then the
// x-forwarded-for metadata (for REST, the X-Forwarded-For header) is read
// from the right, skipping trusted proxies, and the first address that is
// not one is the client. Entries a trusted proxy did not vouch for are
// never believed, so a client cannot choose its key by sending its own
// X-Forwarded-For. With no trusted proxies the header is ignored.
func ClientIPKey(trusted []netip.Prefix) KeyFunc {
	trusted = append([]netip.Prefix(nil), trusted...)
	isTrusted := func(a netip.Addr) bool {
		for _, p := range trusted {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return func(ctx context.Context, _ string) (string, bool) {
		p, ok := peer.FromContext(ctx)
		if !ok || p.Addr == nil {
			return "", false
		}
		client, ok := parseAddr(p.Addr.String())
		if !ok {
			return "", false
		}
		if len(trusted) == 0 || !isTrusted(client) {
			return client.String(), true
		}
		md, _ := metadata.FromIncomingContext(ctx)
		hops := forwardedHops(md.Get("x-forwarded-for"))
		for i := len(hops) - 1; i >= 0 && isTrusted(client); i-- {
			next, ok := parseAddr(hops[i])
			if !ok {
				break // garbage from beyond the last trusted hop
			}
			client = next
		}
		return client.String(), true
	}
}

// forwardedHops splits x-forwarded-for values, which may be repeated and
// comma-separated, into addresses, left (farthest) to right (nearest).
func forwardedHops(values []string) []string {
	var hops []string
	for _, v := range values {
		for h := range strings.SplitSeq(v, ",") {
			if h = strings.TrimSpace(h); h != "" {
				hops = append(hops, h)
			}
		}
	}
	return hops
}

// parseAddr reads an IP address with or without a port ("10.0.0.1",
// "10.0.0.1:443", "[::1]:443", "::1"), with IPv4-mapped IPv6 addresses
// turned into IPv4 so that both spellings share a key.
func parseAddr(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone(""), true
	}
	host, _, err := net.SplitHostPort(s)
	if err != nil {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return a.Unmap().WithZone(""), true
}

// The key spellings ParseKey reads; KeyMetadata is a prefix, followed by
// the metadata key.
const (
	KeyGlobal   = "global"
	KeyIdentity = "identity"
	KeyAPIKey   = "api_key"
	KeyClientIP = "client_ip"
	KeyMetadata = "metadata:"
)

// ParseKey turns a key spelling into a KeyFunc: "global", "identity",
// "api_key", "client_ip" or "metadata:NAME", where NAME must pass
// identity.ValidMetadataKey. trusted are the proxies whose X-Forwarded-For
// client_ip believes (see ParseTrustedProxy).
func ParseKey(spec string, trusted []netip.Prefix) (KeyFunc, error) {
	switch spec {
	case KeyGlobal:
		return GlobalKey(), nil
	case KeyIdentity:
		return IdentityKey(), nil
	case KeyAPIKey:
		return APIKeyKey(), nil
	case KeyClientIP:
		return ClientIPKey(trusted), nil
	}
	if name, ok := strings.CutPrefix(spec, KeyMetadata); ok {
		if err := identity.ValidMetadataKey(name); err != nil {
			return nil, fmt.Errorf("key %q: %w", spec, err)
		}
		return MetadataKey(name), nil
	}
	return nil, fmt.Errorf("key %q: want global, identity, api_key, client_ip or metadata:NAME", spec)
}

// ParseTrustedProxy reads the address of a trusted proxy: a CIDR or a
// single IP address. IPv4-mapped IPv6 forms become IPv4, as ClientIPKey
// compares addresses unmapped.
func ParseTrustedProxy(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q is not a CIDR: %w", s, err)
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), max(p.Bits()-96, 0))
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR nor an IP address", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

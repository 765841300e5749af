package transcoding

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/sluice-dev/sluice/protocol"
)

// Request headers are carried into the call as metadata only by an
// allowlist: an HTTP request carries much that means nothing to the
// upstream (cookies, caching, connection management), and some of it would
// be dangerous to forward (hop-by-hop headers, grpc-* protocol headers that
// could forge a status or a timeout).

const (
	metadataHeaderPrefix = "Grpc-Metadata-"
	trailerHeaderPrefix  = "Grpc-Trailer-"
	timeoutHeader        = "Grpc-Timeout"
)

// passable reports whether a lower-case name may ever become metadata.
func passable(key string) bool {
	if key == "" || key[0] == ':' || protocol.HopByHop(key) || strings.HasPrefix(key, "grpc-") {
		return false
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// incomingMetadata builds the call's metadata from the allowlisted request
// headers and the Grpc-Metadata-* ones. Values of "-bin" keys travel
// base64-encoded in HTTP and are decoded, as gRPC does. Other values gRPC
// carries only as printable ASCII: one with any other byte (UTF-8 text,
// which HTTP allows) would make the upstream call fail as INTERNAL, so it
// is left out and its key handed to dropped.
func (c *config) incomingMetadata(h http.Header, dropped func(key string)) (metadata.MD, error) {
	md := metadata.MD{}
	for name, vals := range h {
		key := strings.ToLower(name)
		switch {
		case c.incoming[key]:
		case c.metadataPrefix && len(name) > len(metadataHeaderPrefix) &&
			strings.EqualFold(name[:len(metadataHeaderPrefix)], metadataHeaderPrefix):
			key = key[len(metadataHeaderPrefix):]
			if !passable(key) {
				continue
			}
		default:
			continue
		}
		for _, v := range vals {
			if strings.HasSuffix(key, "-bin") {
				b, err := decodeBinHeader(v)
				if err != nil {
					return nil, fmt.Errorf("header %s: %w", name, err)
				}
				v = string(b)
			} else if !printableASCII(v) {
				dropped(key)
				continue
			}
			md[key] = append(md[key], v)
		}
	}
	return md, nil
}

// printableASCII reports whether v holds only bytes 0x20 to 0x7E, what
// gRPC allows in a metadata value that is not binary.
func printableASCII(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

// decodeBinHeader accepts padded and unpadded standard base64, as gRPC
// implementations send both.
func decodeBinHeader(v string) ([]byte, error) {
	if len(v)%4 == 0 {
		return base64.StdEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

// requestPeer describes the HTTP client the way grpc-go describes a gRPC
// one, so that policies keyed on the peer (and the access log) see the
// same thing whatever protocol the client used.
func requestPeer(r *http.Request) *peer.Peer {
	p := &peer.Peer{Addr: addrOf(r.RemoteAddr)}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		p.LocalAddr = la
	}
	if r.TLS != nil {
		p.AuthInfo = credentials.TLSInfo{
			State:          *r.TLS,
			CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
		}
	}
	return p
}

func addrOf(remote string) net.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return stringAddr(remote)
}

// stringAddr is a remote address that is not host:port (a Unix socket, or
// a test's made-up one).
type stringAddr string

func (a stringAddr) Network() string { return "unknown" }
func (a stringAddr) String() string  { return string(a) }

// plainResponseHeaders are header metadata keys that mean the same in
// HTTP: the challenge of a 401 (RFC 9110), the wait of a 429 or 503, and
// the RateLimit header fields (IETF draft). Policies set them for HTTP
// clients, so they return under their own names, not as Grpc-Metadata-*.
var plainResponseHeaders = map[string]bool{
	"www-authenticate":    true,
	"retry-after":         true,
	"ratelimit-limit":     true,
	"ratelimit-remaining": true,
	"ratelimit-reset":     true,
	"x-request-id":        true, // the gateway's request id (package telemetry)
}

// responseHeaderName is the HTTP header an upstream metadata key returns
// as: Grpc-Metadata-<key> for headers, Grpc-Trailer-<key> for trailers,
// and the key itself for the plain HTTP headers above.
func responseHeaderName(prefix, key string) string {
	if prefix == metadataHeaderPrefix && plainResponseHeaders[key] {
		return http.CanonicalHeaderKey(key)
	}
	return http.CanonicalHeaderKey(prefix + key)
}

package transcoding

import (
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc/metadata"

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
				b, err := protocol.DecodeBinaryHeader(v)
				if err != nil {
					return nil, fmt.Errorf("header %s: %w", name, err)
				}
				v = string(b)
			} else if !protocol.PrintableASCII(v) {
				dropped(key)
				continue
			}
			md[key] = append(md[key], v)
		}
	}
	return md, nil
}

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

package connectproto

import (
	"encoding/base64"
	"net/http"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/sluice-dev/sluice/protocol"
)

// In the Connect protocol, as in gRPC, request headers are the call's
// metadata: a client sets them for its server, not for the HTTP layer. So
// every header becomes metadata except the ones the protocol (Connect-*,
// Content-*, Accept-*, Grpc-*) or the connection (hop-by-hop) owns, those
// gRPC could not carry, and "Trailer-" ones, which name unary trailers.
// The identity policy still strips what a client must not assert.

// metadataKey reports whether a lower-case header name becomes metadata.
func metadataKey(key string) bool {
	if key == "" || key[0] == ':' || protocol.HopByHop(key) {
		return false
	}
	for _, p := range reservedPrefixes {
		if strings.HasPrefix(key, p) {
			return false
		}
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// reservedPrefixes start the header names that are the protocol's own.
var reservedPrefixes = [...]string{"connect-", "content-", "accept", "grpc-", "trailer-", "x-grpc-web"}

// responseKey reports whether response metadata key is sent to the
// client: the same rule as requests, so that an upstream cannot set the
// response's framing headers.
func responseKey(key string) bool { return metadataKey(key) }

// incomingMetadata builds the call's metadata from h. Values of "-bin"
// keys are base64 (padded or not), as in gRPC; other values must be
// printable ASCII, what gRPC carries, and others are dropped, their key
// handed to dropped.
func incomingMetadata(h http.Header, dropped func(key string)) (metadata.MD, error) {
	md := make(metadata.MD, len(h))
	for name, vals := range h {
		key := strings.ToLower(name)
		if !metadataKey(key) {
			continue
		}
		bin := strings.HasSuffix(key, "-bin")
		for _, v := range vals {
			if bin {
				b, err := protocol.DecodeBinaryHeader(v)
				if err != nil {
					return nil, err
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

// headerValue is how metadata value v of key travels in HTTP: binary
// values in unpadded base64, as connect-go writes them.
func headerValue(key, v string) string {
	if strings.HasSuffix(key, "-bin") {
		return base64.RawStdEncoding.EncodeToString([]byte(v))
	}
	return v
}

// setHeaders adds md to h, each key prefixed with prefix ("" for headers,
// "Trailer-" for a unary call's trailers).
func setHeaders(h http.Header, prefix string, md metadata.MD) {
	for k, vs := range md {
		if !responseKey(k) {
			continue
		}
		name := http.CanonicalHeaderKey(prefix + k)
		for _, v := range vs {
			h[name] = append(h[name], headerValue(k, v))
		}
	}
}

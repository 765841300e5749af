package grpcweb

import (
	"fmt"
	"net/http"
	"strings"

	"google.golang.org/grpc/metadata"

	"github.com/sluice-dev/sluice/protocol"
)

// A gRPC-Web request's headers are its call's metadata, as a native gRPC
// call's are (the protocol says so, and clients send custom metadata that
// way): every header becomes metadata except those that belong to HTTP or
// the browser rather than to the call. Those are hop-by-hop and
// connection headers, gRPC's reserved grpc-* keys (the adapter reads
// grpc-timeout and grpc-encoding itself; a client must not forge the
// others), and what browsers add on their own: content negotiation,
// caching, CORS and fetch metadata, cookies (an ambient credential a page
// does not choose to send, so never an upstream's business through this
// protocol), and gRPC-Web's own marker headers.

// browserHeaders are request headers that never become metadata.
var browserHeaders = map[string]bool{
	"accept": true, "accept-encoding": true, "accept-language": true, "cache-control": true, "pragma": true,
	"origin": true, "referer": true, "cookie": true, "dnt": true, "priority": true,
	"x-grpc-web": true, "x-user-agent": true,
	"access-control-request-method": true, "access-control-request-headers": true,
}

// reservedKey reports whether a metadata key is gRPC's own (grpc-*) or
// means something to HTTP, never an application's metadata.
func reservedKey(k string) bool {
	return strings.HasPrefix(k, "grpc-") || k == "" || k[0] == ':' || protocol.HopByHop(k)
}

// incomingMetadata builds the call's metadata from the request headers.
// Values of -bin keys are base64 in HTTP and decoded, as gRPC does; a
// value of another key with bytes outside printable ASCII, which gRPC
// cannot carry, is an error.
func incomingMetadata(h http.Header) (metadata.MD, error) {
	md := make(metadata.MD, len(h))
	for name, vals := range h {
		key := strings.ToLower(name)
		if reservedKey(key) || browserHeaders[key] || strings.HasPrefix(key, "sec-") || !validKey(key) {
			continue
		}
		for _, v := range vals {
			if strings.HasSuffix(key, "-bin") {
				for _, part := range strings.Split(v, ",") {
					b, err := protocol.DecodeBinaryHeader(part)
					if err != nil {
						return nil, fmt.Errorf("header %s: %w", name, err)
					}
					md[key] = append(md[key], string(b))
				}
				continue
			}
			if !protocol.PrintableASCII(v) {
				return nil, fmt.Errorf("header %s: a metadata value must be printable ASCII", name)
			}
			md[key] = append(md[key], v)
		}
	}
	return md, nil
}

// validKey reports whether a lower-case header name is a valid metadata
// key: gRPC allows fewer characters than HTTP.
func validKey(key string) bool {
	for i := 0; i < len(key); i++ {
		c := key[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

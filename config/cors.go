package config

import (
	"slices"
	"strconv"

	"github.com/sluice-dev/sluice/cors"
)

// CORS configures the one cross-origin policy for browsers, whatever
// protocol they use: REST/JSON, gRPC-Web and Connect.
type CORS struct {
	AllowedOrigins   []string `yaml:"allowed_origins" doc:"Origins allowed: {*} for any; an origin as browsers send it, {SCHEME://HOST[:PORT]} ({https://app.example.com}); or a subdomain wildcard, {*.} as the whole leftmost label ({https://*.example.com} allows {https://a.example.com} and {https://a.b.example.com}, not {https://example.com} nor {https://example.com.evil.com}; the domain needs at least two labels). Scheme and host are case-insensitive, and a default port ({:443}, {:80}) may be written or not. Entries that could never match are refused: a path or trailing {/}, a query, user information, a misplaced {*}, a non-ASCII host (write the punycode form browsers send), and {null} (sandboxed frames, file: pages and redirects send it, so anyone could)."`
	AllowedMethods   []string `yaml:"allowed_methods" doc:"Methods a preflight allows; empty means GET, POST, PUT, PATCH and DELETE."`
	AllowedHeaders   []string `yaml:"allowed_headers" doc:"Request headers a preflight allows; empty means what REST, gRPC-Web and Connect clients send: Authorization, Content-Type, X-Request-Id, traceparent, tracestate, X-Grpc-Web, X-User-Agent, Grpc-Timeout, Grpc-Encoding, Grpc-Accept-Encoding, Connect-Protocol-Version, Connect-Timeout-Ms, Connect-Accept-Encoding and Connect-Content-Encoding. A page that sends its own metadata headers needs them listed (with these)."`
	ExposedHeaders   []string `yaml:"exposed_headers" doc:"Response headers that scripts may read. Empty exposes every header of each response (the upstream's response metadata included) and the protocols' status headers: Grpc-Status, Grpc-Message, Grpc-Status-Details-Bin, Grpc-Encoding, Grpc-Accept-Encoding, Connect-Content-Encoding, Connect-Accept-Encoding, Content-Encoding."`
	AllowCredentials bool     `yaml:"allow_credentials" doc:"Let browsers send cookies and HTTP authentication. Not allowed with the {*} origin."`
	MaxAge           Duration `yaml:"max_age" doc:"How long browsers may cache a preflight answer; 0 sends no {Access-Control-Max-Age}."`
}

func (c *CORS) validate(errs *Errors, path string) {
	for i, o := range c.AllowedOrigins {
		if _, err := cors.ParseOrigin(o); err != nil {
			errs.add(path+".allowed_origins["+strconv.Itoa(i)+"]", err.Error())
		}
	}
	if c.AllowCredentials && slices.Contains(c.AllowedOrigins, "*") {
		errs.add(path+".allow_credentials", `cannot be true with the "*" origin`)
	}
	if c.MaxAge < 0 {
		errs.add(path+".max_age", "must not be negative")
	}
}

package transcoding

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/internal/origin"
)

// CORS is the cross-origin policy for browsers calling the REST API.
// Preflight requests (OPTIONS with Origin and
// Access-Control-Request-Method) are answered by the handler itself and
// never reach the chain or the upstream; other requests from an allowed
// origin get the Access-Control-Allow-Origin headers on their responses.
type CORS struct {
	// AllowedOrigins lists the origins allowed: "*" for any, an origin
	// as browsers send it ("https://app.example.com"), or a subdomain
	// wildcard ("https://*.example.com" allows a.example.com and
	// a.b.example.com, not example.com). Scheme and host are
	// case-insensitive. Entries that could never match (a path or
	// trailing "/", "null", a misplaced "*") are refused; the grammar is
	// internal/origin's.
	AllowedOrigins []string
	// AllowedMethods lists the methods a preflight allows (default GET,
	// POST, PUT, PATCH, DELETE).
	AllowedMethods []string
	// AllowedHeaders lists the request headers a preflight allows (default
	// Authorization, Content-Type, X-Request-Id, Grpc-Timeout,
	// traceparent, tracestate). Names are case-insensitive.
	AllowedHeaders []string
	// ExposedHeaders lists the response headers scripts may read.
	ExposedHeaders []string
	// AllowCredentials lets browsers send cookies and HTTP auth. It cannot
	// be combined with the "*" origin.
	AllowCredentials bool
	// MaxAge is how long browsers may cache a preflight answer; zero sends
	// no Access-Control-Max-Age.
	MaxAge time.Duration

	origins   []origin.Pattern // AllowedOrigins parsed, set by normalized
	anyOrigin bool
}

func (c CORS) validate() error {
	if len(c.AllowedOrigins) == 0 {
		return errors.New("cors: no allowed origins")
	}
	for _, o := range c.AllowedOrigins {
		if _, err := origin.Parse(o); err != nil {
			return fmt.Errorf("cors: allowed origin: %w", err)
		}
	}
	if c.AllowCredentials && slices.Contains(c.AllowedOrigins, "*") {
		return errors.New(`cors: credentials cannot be allowed for the "*" origin`)
	}
	if c.MaxAge < 0 {
		return errors.New("cors: negative max age")
	}
	return nil
}

// normalized fills in the defaults and lower-cases the header names, on
// copies of the slices: the caller's CORS is neither changed nor able to
// change the policy afterwards.
func (c CORS) normalized() CORS {
	c.AllowedOrigins = slices.Clone(c.AllowedOrigins)
	c.AllowedMethods = slices.Clone(c.AllowedMethods)
	c.AllowedHeaders = slices.Clone(c.AllowedHeaders)
	c.ExposedHeaders = slices.Clone(c.ExposedHeaders)
	if len(c.AllowedMethods) == 0 {
		c.AllowedMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	}
	if len(c.AllowedHeaders) == 0 {
		c.AllowedHeaders = []string{"Authorization", "Content-Type", "X-Request-Id", "Grpc-Timeout", "Traceparent", "Tracestate"}
	}
	for i, h := range c.AllowedHeaders {
		c.AllowedHeaders[i] = strings.ToLower(h)
	}
	c.origins = make([]origin.Pattern, 0, len(c.AllowedOrigins))
	for _, o := range c.AllowedOrigins {
		p, _ := origin.Parse(o) // validate parsed it
		c.origins = append(c.origins, p)
		c.anyOrigin = c.anyOrigin || p.Any()
	}
	return c
}

func (c *CORS) originAllowed(o string) bool {
	for _, p := range c.origins {
		if p.Match(o) {
			return true
		}
	}
	return false
}

// handle adds CORS headers for r and reports whether r was a preflight,
// which it has then answered.
func (c *CORS) handle(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	preflight := r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != ""
	if preflight {
		h.Add("Vary", "Access-Control-Request-Method")
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	allowed := c.originAllowed(origin)
	if allowed {
		if c.anyOrigin {
			h.Set("Access-Control-Allow-Origin", "*")
		} else {
			h.Set("Access-Control-Allow-Origin", origin)
		}
		if c.AllowCredentials {
			h.Set("Access-Control-Allow-Credentials", "true")
		}
	}
	if !preflight {
		if allowed && len(c.ExposedHeaders) > 0 {
			h.Set("Access-Control-Expose-Headers", strings.Join(c.ExposedHeaders, ", "))
		}
		return false
	}
	// A preflight is answered here whatever its outcome; a refused one
	// simply lacks the allow headers, which the browser enforces.
	method := r.Header.Get("Access-Control-Request-Method")
	if allowed && slices.Contains(c.AllowedMethods, method) && c.headersAllowed(r.Header.Values("Access-Control-Request-Headers")) {
		h.Set("Access-Control-Allow-Methods", strings.Join(c.AllowedMethods, ", "))
		if reqHeaders := r.Header.Values("Access-Control-Request-Headers"); len(reqHeaders) > 0 {
			h.Set("Access-Control-Allow-Headers", strings.Join(reqHeaders, ", "))
		}
		if c.MaxAge > 0 {
			h.Set("Access-Control-Max-Age", strconv.Itoa(int(c.MaxAge/time.Second)))
		}
	} else {
		h.Del("Access-Control-Allow-Origin")
		h.Del("Access-Control-Allow-Credentials")
	}
	w.WriteHeader(http.StatusNoContent)
	return true
}

func (c *CORS) headersAllowed(values []string) bool {
	for _, v := range values {
		for _, name := range strings.Split(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "" && !slices.Contains(c.AllowedHeaders, name) {
				return false
			}
		}
	}
	return true
}

// Package cors is the gateway's one cross-origin policy for browsers,
// whatever protocol they call it with: REST/JSON, gRPC-Web or Connect all
// sit behind one Handler, so a page's origin is allowed or refused once,
// with one set of headers, and a preflight is answered before any
// protocol handler, the interceptor chain or an upstream sees it.
//
// Its defaults fit what browser RPC clients send and read: the request
// headers of grpc-web, connect-web and REST clients are allowed, and every
// header of a response (status, compression, and the upstream's response
// metadata) is exposed to the page.
package cors

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Policy is a cross-origin policy. The zero value of every field but
// AllowedOrigins means its default.
type Policy struct {
	// AllowedOrigins lists the origins allowed: "*" for any, an origin
	// as browsers send it, or a subdomain wildcard (see ParseOrigin). At
	// least one is required.
	AllowedOrigins []string
	// AllowedMethods lists the methods a preflight allows (default
	// DefaultAllowedMethods).
	AllowedMethods []string
	// AllowedHeaders lists the request headers a preflight allows,
	// case-insensitively (default DefaultAllowedHeaders).
	AllowedHeaders []string
	// ExposedHeaders lists the response headers scripts may read. Empty
	// exposes every header each response carries (its metadata included)
	// and the protocols' status headers (DefaultExposedHeaders).
	ExposedHeaders []string
	// AllowCredentials lets browsers send cookies and HTTP
	// authentication. It cannot be combined with the "*" origin.
	AllowCredentials bool
	// MaxAge is how long browsers may cache a preflight answer; zero
	// sends no Access-Control-Max-Age.
	MaxAge time.Duration
}

// DefaultAllowedMethods are the methods a preflight allows by default:
// REST's verbs (RPC protocols POST, and Connect GETs).
func DefaultAllowedMethods() []string {
	return []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
}

// DefaultAllowedHeaders are the request headers a preflight allows by
// default: what REST, grpc-web and connect-web clients send, and trace
// context.
func DefaultAllowedHeaders() []string {
	return []string{
		"Authorization", "Content-Type", "X-Request-Id", "traceparent", "tracestate",
		"X-Grpc-Web", "X-User-Agent", "Grpc-Timeout", "Grpc-Encoding", "Grpc-Accept-Encoding",
		"Connect-Protocol-Version", "Connect-Timeout-Ms", "Connect-Accept-Encoding", "Connect-Content-Encoding",
	}
}

// DefaultExposedHeaders are the protocol headers always exposed when
// ExposedHeaders is empty, besides every header a response carries.
func DefaultExposedHeaders() []string {
	return []string{
		"Grpc-Status", "Grpc-Message", "Grpc-Status-Details-Bin", "Grpc-Encoding", "Grpc-Accept-Encoding",
		"Connect-Content-Encoding", "Connect-Accept-Encoding", "Content-Encoding",
	}
}

// Handler applies a Policy in front of the next handler. It is safe for
// concurrent use.
type Handler struct {
	next        http.Handler
	origins     []OriginPattern
	anyOrigin   bool
	credentials bool
	methods     []string
	methodsList string
	headers     map[string]bool // lower case
	exposed     string          // fixed Access-Control-Expose-Headers; "" exposes each response's own
	maxAge      string
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns next behind p. It refuses a policy that could never
// work: no origin, an origin entry that can never match, credentials with
// the "*" origin, a negative max age. The policy's slices are copied.
func NewHandler(next http.Handler, p Policy) (*Handler, error) {
	if next == nil {
		return nil, errors.New("cors: nil next handler")
	}
	if len(p.AllowedOrigins) == 0 {
		return nil, errors.New("cors: no allowed origins")
	}
	h := &Handler{next: next, credentials: p.AllowCredentials, headers: map[string]bool{}}
	for _, o := range p.AllowedOrigins {
		op, err := ParseOrigin(o)
		if err != nil {
			return nil, fmt.Errorf("cors: allowed origin: %w", err)
		}
		h.origins = append(h.origins, op)
		h.anyOrigin = h.anyOrigin || op.Any()
	}
	if h.anyOrigin && p.AllowCredentials {
		return nil, errors.New(`cors: credentials cannot be allowed for the "*" origin`)
	}
	if p.MaxAge < 0 {
		return nil, errors.New("cors: negative max age")
	}
	if p.MaxAge > 0 {
		h.maxAge = strconv.Itoa(int(p.MaxAge / time.Second))
	}
	h.methods = slices.Clone(p.AllowedMethods)
	if len(h.methods) == 0 {
		h.methods = DefaultAllowedMethods()
	}
	h.methodsList = strings.Join(h.methods, ", ")
	headers := p.AllowedHeaders
	if len(headers) == 0 {
		headers = DefaultAllowedHeaders()
	}
	for _, name := range headers {
		h.headers[strings.ToLower(name)] = true
	}
	if len(p.ExposedHeaders) > 0 {
		h.exposed = strings.Join(p.ExposedHeaders, ", ")
	}
	return h, nil
}

func (h *Handler) originAllowed(o string) bool {
	for _, p := range h.origins {
		if p.Match(o) {
			return true
		}
	}
	return false
}

// ServeHTTP answers preflights itself and passes every other request on,
// with the allow headers when its origin is allowed.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		h.next.ServeHTTP(w, r)
		return
	}
	hd := w.Header()
	hd.Add("Vary", "Origin")
	allowed := h.originAllowed(origin)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		h.preflight(w, r, allowed, origin)
		return
	}
	if !allowed {
		h.next.ServeHTTP(w, r)
		return
	}
	h.allowOrigin(hd, origin)
	if h.exposed != "" {
		hd.Set("Access-Control-Expose-Headers", h.exposed)
		h.next.ServeHTTP(w, r)
		return
	}
	h.next.ServeHTTP(&exposer{ResponseWriter: w}, r)
}

func (h *Handler) allowOrigin(hd http.Header, origin string) {
	if h.anyOrigin {
		hd.Set("Access-Control-Allow-Origin", "*")
	} else {
		hd.Set("Access-Control-Allow-Origin", origin)
	}
	if h.credentials {
		hd.Set("Access-Control-Allow-Credentials", "true")
	}
}

// preflight answers a preflight whatever its outcome: a refused one simply
// lacks the allow headers, which the browser enforces.
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request, allowed bool, origin string) {
	hd := w.Header()
	hd.Add("Vary", "Access-Control-Request-Method")
	hd.Add("Vary", "Access-Control-Request-Headers")
	requested := r.Header.Values("Access-Control-Request-Headers")
	if allowed && slices.Contains(h.methods, r.Header.Get("Access-Control-Request-Method")) && h.headersAllowed(requested) {
		h.allowOrigin(hd, origin)
		hd.Set("Access-Control-Allow-Methods", h.methodsList)
		if len(requested) > 0 {
			hd.Set("Access-Control-Allow-Headers", strings.Join(requested, ", "))
		}
		if h.maxAge != "" {
			hd.Set("Access-Control-Max-Age", h.maxAge)
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Handler) headersAllowed(values []string) bool {
	for _, v := range values {
		for _, name := range strings.Split(v, ",") {
			name = strings.ToLower(strings.TrimSpace(name))
			if name != "" && !h.headers[name] {
				return false
			}
		}
	}
	return true
}

// exposer sets Access-Control-Expose-Headers, as the response's headers
// are written, to every header the response carries besides the
// CORS-safelisted ones, and the protocols' status headers (a gRPC-Web
// response carries its status in its body, but a trailers-only one in its
// headers).
type exposer struct {
	http.ResponseWriter
	done bool
}

// Unwrap lets http.ResponseController reach the underlying writer
// (flushes, deadlines, full duplex).
func (e *exposer) Unwrap() http.ResponseWriter { return e.ResponseWriter }

func (e *exposer) expose() {
	if e.done {
		return
	}
	e.done = true
	hd := e.ResponseWriter.Header()
	names := DefaultExposedHeaders()
	for k := range hd {
		if !safelisted(k) && !slices.Contains(names, k) {
			names = append(names, k)
		}
	}
	slices.Sort(names[len(DefaultExposedHeaders()):])
	hd.Set("Access-Control-Expose-Headers", strings.Join(names, ", "))
}

// safelisted reports the response headers browsers expose anyway, and the
// headers that are not the response's own (CORS, framing).
func safelisted(k string) bool {
	switch k {
	case "Cache-Control", "Content-Language", "Content-Length", "Content-Type", "Expires", "Last-Modified", "Pragma",
		"Vary", "Trailer", "Connection", "Transfer-Encoding", "Date":
		return true
	}
	return strings.HasPrefix(k, "Access-Control-") || strings.HasPrefix(k, http.TrailerPrefix)
}

func (e *exposer) WriteHeader(code int) {
	e.expose()
	e.ResponseWriter.WriteHeader(code)
}

func (e *exposer) Write(b []byte) (int, error) {
	e.expose()
	return e.ResponseWriter.Write(b)
}

// Flush is http.Flusher's, for handlers that test for it rather than use
// a ResponseController.
func (e *exposer) Flush() {
	e.expose()
	if f, ok := e.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

package transcoding

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Option configures a REST handler (NewREST).
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// DefaultMaxBodyBytes bounds a REST request body unless WithMaxBodyBytes
// says otherwise: the same 4 MiB as the default gRPC message limit, so a
// REST call can carry what a gRPC call can.
const DefaultMaxBodyBytes = 4 << 20

// DefaultMaxJSONDepth bounds the nesting of JSON request bodies unless
// WithMaxJSONDepth says otherwise.
const DefaultMaxJSONDepth = 64

// WithBodyReadTimeout bounds how long the request body of a unary call may
// take to arrive once the call asks for it (default DefaultBodyReadTimeout);
// a slower body ends the call with DEADLINE_EXCEEDED (HTTP 408). Zero
// means no bound other than the call's deadline. Streamed bodies are
// bounded by the deadline, idle and stall policies instead.
func WithBodyReadTimeout(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("body read timeout must not be negative, got %v", d))
		}
		c.bodyReadTimeout = d
	})
}

// WithMaxBufferedBytes bounds the request-body bytes buffered across all
// calls of the handler at once (default DefaultMaxBufferedBytes), so that
// many slow or stalled uploads cannot exhaust memory: a body that does
// not fit is refused with RESOURCE_EXHAUSTED (HTTP 429). It must be at
// least the body limit (WithMaxBodyBytes).
func WithMaxBufferedBytes(n int64) Option {
	return optionFunc(func(c *config) {
		if n <= 0 {
			c.errs = append(c.errs, fmt.Errorf("max buffered bytes must be positive, got %d", n))
		}
		c.maxBuffered = n
	})
}

type config struct {
	maxBody         int64
	maxDepth        int
	strictQuery     bool
	discardUnknown  bool
	emitUnpopulated bool
	protoNames      bool
	enumNumbers     bool
	incoming        map[string]bool // lower-case header names passed as metadata
	metadataPrefix  bool            // Grpc-Metadata-* passes as its suffix
	outgoing        func(key string) bool
	success         map[string]int // gRPC method path -> HTTP status
	streamFormat    StreamFormat   // server streams without an explicit Accept
	sseHeartbeat    time.Duration  // 0: none
	headerGrace     time.Duration  // see WithStreamHeaderGrace
	protojsonOnly   bool           // no jsoncodec fast paths
	bodyReadTimeout time.Duration  // of a unary body; 0: none
	maxBuffered     int64          // request bytes buffered across all calls
	logger          *slog.Logger   // what the handler has to say; never nil
	ws              wsConfig
	compressMin     int      // smallest unary response compressed
	encodings       []string // response encodings by preference; none: no compression
	errs            []error
}

// defaultIncomingHeaders are the request headers that reach the chain as
// metadata when WithIncomingHeaders is not given: credentials, request
// correlation and trace context. Everything else about an HTTP request
// (cookies, user agents, caching) is the HTTP layer's business, not the
// call's.
var defaultIncomingHeaders = []string{
	"Authorization", "X-Request-Id", "Traceparent", "Tracestate", "X-Forwarded-For",
}

func defaultConfig() config {
	c := config{
		maxBody:         DefaultMaxBodyBytes,
		maxDepth:        DefaultMaxJSONDepth,
		discardUnknown:  true,
		emitUnpopulated: true,
		metadataPrefix:  true,
		incoming:        map[string]bool{},
		streamFormat:    StreamEnvelope,
		bodyReadTimeout: DefaultBodyReadTimeout,
		maxBuffered:     DefaultMaxBufferedBytes,
		logger:          slog.New(slog.DiscardHandler),
		ws:              wsConfig{ping: DefaultWebSocketPingInterval},
		compressMin:     DefaultCompressionMinSize,
	}
	for _, h := range defaultIncomingHeaders {
		c.incoming[strings.ToLower(h)] = true
	}
	return c
}

// WithMaxBodyBytes bounds the size of a request body (default 4 MiB). A
// larger body is refused with RESOURCE_EXHAUSTED (HTTP 413) before any of it
// is decoded.
func WithMaxBodyBytes(n int64) Option {
	return optionFunc(func(c *config) {
		if n <= 0 {
			c.errs = append(c.errs, fmt.Errorf("max body bytes must be positive, got %d", n))
		}
		c.maxBody = n
	})
}

// WithMaxJSONDepth bounds how deeply objects and arrays may nest in a JSON
// request body (default 64). Deeper bodies are refused with
// INVALID_ARGUMENT before protojson sees them.
func WithMaxJSONDepth(n int) Option {
	return optionFunc(func(c *config) {
		if n <= 0 {
			c.errs = append(c.errs, fmt.Errorf("max JSON depth must be positive, got %d", n))
		}
		c.maxDepth = n
	})
}

// WithStrictQuery makes a query parameter that names no field of the
// request, or a field the path or the body binds, INVALID_ARGUMENT instead
// of ignoring it (the default, as grpc-gateway does).
func WithStrictQuery() Option {
	return optionFunc(func(c *config) { c.strictQuery = true })
}

// WithDiscardUnknown says whether unknown fields in JSON request bodies are
// ignored (true, the default, as grpc-gateway does) or refused with
// INVALID_ARGUMENT. Routes of methods named by WithStrictMethods refuse them
// whatever this says.
func WithDiscardUnknown(discard bool) Option {
	return optionFunc(func(c *config) { c.discardUnknown = discard })
}

// WithEmitUnpopulated says whether JSON responses carry fields that hold
// their zero value (true, the default, as grpc-gateway does).
func WithEmitUnpopulated(emit bool) Option {
	return optionFunc(func(c *config) { c.emitUnpopulated = emit })
}

// WithProtoNames makes JSON responses use the proto field names
// (snake_case) instead of the lowerCamelCase JSON names (the default).
// Requests accept both spellings either way.
func WithProtoNames(on bool) Option {
	return optionFunc(func(c *config) { c.protoNames = on })
}

// WithEnumNumbers makes JSON responses write enums as numbers instead of
// their names (the default). Requests accept both either way.
func WithEnumNumbers(on bool) Option {
	return optionFunc(func(c *config) { c.enumNumbers = on })
}

// WithProtojsonOnly turns off the fast JSON codecs (on by default), which
// print responses straight from their wire bytes and turn JSON request
// bodies straight into wire bytes, so that every message goes through
// protojson and a Go message instead. The output is the same either way
// (the fast codecs hand whatever they do not treat exactly as protojson
// would to protojson); the switch is there to rule them out when
// diagnosing, and costs CPU per call.
func WithProtojsonOnly() Option {
	return optionFunc(func(c *config) { c.protojsonOnly = true })
}

// WithIncomingHeaders replaces the allowlist of request headers passed to
// the chain as metadata (default: Authorization, X-Request-Id,
// traceparent, tracestate, X-Forwarded-For). Names are case-insensitive.
// Hop-by-hop headers, pseudo-headers and grpc-* names are refused: they
// describe the HTTP exchange, not the call. Grpc-Metadata-<key> headers
// pass as <key> regardless, unless WithoutMetadataHeaders is given;
// Grpc-Timeout always sets the deadline.
func WithIncomingHeaders(names ...string) Option {
	return optionFunc(func(c *config) {
		c.incoming = map[string]bool{}
		c.allowIncoming(names)
	})
}

// WithExtraIncomingHeaders adds names to the allowlist of request headers
// passed to the chain as metadata, keeping the others: the headers that
// policies read (an API key header, X-Request-Timeout, a header a rate
// limit is keyed on). The same names are refused as by
// WithIncomingHeaders.
func WithExtraIncomingHeaders(names ...string) Option {
	return optionFunc(func(c *config) { c.allowIncoming(names) })
}

// allowIncoming adds names to the incoming allowlist, refusing those that
// can never be metadata.
func (c *config) allowIncoming(names []string) {
	for _, n := range names {
		k := strings.ToLower(n)
		if !passable(k) {
			c.errs = append(c.errs, fmt.Errorf("incoming header %q can never be passed as metadata", n))
			continue
		}
		c.incoming[k] = true
	}
}

// WithoutMetadataHeaders stops Grpc-Metadata-<key> request headers from
// being passed as metadata <key>.
func WithoutMetadataHeaders() Option {
	return optionFunc(func(c *config) { c.metadataPrefix = false })
}

// WithResponseMetadata sets which upstream header and trailer keys
// (lower case) are returned to REST clients, as Grpc-Metadata-<key> and
// Grpc-Trailer-<key> headers. The default returns all of them, as
// grpc-gateway does; nil restores it.
func WithResponseMetadata(allow func(key string) bool) Option {
	return optionFunc(func(c *config) { c.outgoing = allow })
}

// WithSuccessCode makes a successful call of method ("/pkg.Service/Method")
// answer with code (2xx) instead of 200, e.g. 201 for a Create method.
func WithSuccessCode(method string, code int) Option {
	return optionFunc(func(c *config) {
		if code < 200 || code > 299 || code == http.StatusNoContent {
			c.errs = append(c.errs, fmt.Errorf("success code for %s: %d is not a 2xx status with a body", method, code))
			return
		}
		if c.success == nil {
			c.success = map[string]int{}
		}
		c.success[method] = code
	})
}

// WithStreamFormat sets how server-streaming responses are written to a
// client that does not ask for a format by Accept (no Accept header,
// application/json or a wildcard): StreamEnvelope (the default, as
// grpc-gateway writes them) or StreamNDJSON. Whatever this says, a client
// gets NDJSON by asking for application/x-ndjson and Server-Sent Events by
// asking for text/event-stream. StreamSSE is refused here: it is a
// browser protocol that EventSource asks for by name.
func WithStreamFormat(f StreamFormat) Option {
	return optionFunc(func(c *config) {
		if f != StreamEnvelope && f != StreamNDJSON {
			c.errs = append(c.errs, fmt.Errorf("stream format must be %q or %q, got %q", StreamEnvelope, StreamNDJSON, f))
			return
		}
		c.streamFormat = f
	})
}

// WithSSEHeartbeat makes Server-Sent Events streams write a comment line
// (":") after every d without a message (default: never), so that proxies
// and load balancers with idle timeouts keep a quiet stream, such as a
// watch, open. A heartbeat is written only between messages, never inside
// one, and holds the same one-write-in-flight backpressure as messages.
func WithSSEHeartbeat(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d < 0 {
			c.errs = append(c.errs, fmt.Errorf("SSE heartbeat must not be negative, got %v", d))
			return
		}
		c.sseHeartbeat = d
	})
}

// WithStreamHeaderGrace sets how long a server stream's response headers
// wait, after the upstream's header, for a first message or the end of the
// call (default 20ms; see headerGrace). A failure within it answers with
// its own HTTP status rather than 200 and an error line. Tests that compare
// such answers set it long, so that a loaded machine's scheduling cannot
// decide them.
func WithStreamHeaderGrace(d time.Duration) Option {
	return optionFunc(func(c *config) {
		if d <= 0 {
			c.errs = append(c.errs, fmt.Errorf("stream header grace must be positive, got %v", d))
			return
		}
		c.headerGrace = d
	})
}

// RouteOption configures BuildRoutes.
type RouteOption interface{ applyRoute(*routeConfig) }

type routeOptionFunc func(*routeConfig)

func (f routeOptionFunc) applyRoute(c *routeConfig) { f(c) }

type routeConfig struct {
	strict       map[string]bool
	fullyDecode  bool
	strictRoutes bool
	prefix       func(method string) string
}

// WithPathPrefix puts prefix(method) ("/library", as httprule.CheckPrefix
// accepts; "" for none) in front of every binding of the method
// ("/pkg.Service/Method"), so that several APIs whose templates overlap
// (Google's share "/v1/{name=projects/*/locations/*}" between services)
// can be served by one gateway, each under its own prefix: with "/a" and
// "/b", "GET /a/v1/things/x" and "GET /b/v1/things/x" reach different
// methods. The prefix is part of the route everywhere (matching, the route
// table, OpenAPI); the upstream sees the request as its contract has it.
func WithPathPrefix(prefix func(method string) string) RouteOption {
	return routeOptionFunc(func(c *routeConfig) { c.prefix = prefix })
}

// WithStrictRoutes makes BuildRoutes fail, listing every one, when a
// binding is skipped or shadowed, instead of serving the others (config
// rest.strict_routes, `sluice validate --strict`).
func WithStrictRoutes() RouteOption {
	return routeOptionFunc(func(c *routeConfig) { c.strictRoutes = true })
}

// WithStrictMethods makes the routes of the named methods
// ("/pkg.Service/Method") refuse unknown JSON body fields and unknown query
// parameters with INVALID_ARGUMENT, whatever the handler's defaults.
func WithStrictMethods(methods ...string) RouteOption {
	return routeOptionFunc(func(c *routeConfig) {
		if c.strict == nil {
			c.strict = map[string]bool{}
		}
		for _, m := range methods {
			c.strict[m] = true
		}
	})
}

// WithFullyDecodeReservedExpansion mirrors google.api.Http's
// fully_decode_reserved_expansion: multi-segment path variables are fully
// percent-decoded except "%2F".
func WithFullyDecodeReservedExpansion() RouteOption {
	return routeOptionFunc(func(c *routeConfig) { c.fullyDecode = true })
}

// WithLogger is where the handler reports what it did not pass on, such as
// a response metadata value no HTTP header can hold (reported once per
// key). By default nothing is logged.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l == nil {
			c.errs = append(c.errs, fmt.Errorf("nil logger"))
			return
		}
		c.logger = l
	})
}

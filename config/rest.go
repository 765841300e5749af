package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// REST configures REST/JSON transcoding by the contracts' google.api.http
// rules. The JSON defaults are grpc-gateway's, so clients can switch
// gateways without changes.
type REST struct {
	Enabled          bool     `yaml:"enabled" doc:"Serve REST/JSON on the main port for every method with a {google.api.http} rule. Off, non-gRPC requests get 404."`
	MaxBodySize      ByteSize `yaml:"max_body_size" doc:"Largest request body read; larger ones get 413 ({RESOURCE_EXHAUSTED}) before any decoding. At most 1GiB."`
	BodyReadTimeout  Duration `yaml:"body_read_timeout" doc:"Longest time the request body of a unary call may take to arrive once the call passed the policies (bodies are read only then); slower bodies get 408 ({DEADLINE_EXCEEDED}). The call's deadline also ends a read. 0: only the deadline bounds it. Streamed bodies are bounded by {policy.deadline} and {limits} instead."`
	MaxBufferedBytes ByteSize `yaml:"max_buffered_bytes" doc:"Most request-body bytes buffered across all REST calls at once, so that many slow or stalled uploads cannot exhaust memory; a body that does not fit gets 429 ({RESOURCE_EXHAUSTED}). At least {max_body_size}."`
	MaxJSONDepth     int      `yaml:"max_json_depth" doc:"Deepest nesting of JSON objects and arrays accepted in a body (1 to 10000); deeper bodies get 400 before decoding."`
	StrictRoutes     bool     `yaml:"strict_routes" doc:"Refuse contracts with a {google.api.http} binding sluice cannot serve, or two bindings of one HTTP method whose templates match the same paths: {serve} does not start, a reload is refused. When false (the default) such a binding is skipped, or shadowed by the one declared later (files by path, then declaration order, as grpc-gateway's later registration wins), with a warning naming the method, its file and the reason; its method stays reachable over gRPC. {sluice routes} lists every binding with its status."`
	StrictQuery      bool     `yaml:"strict_query" doc:"Reject query parameters that name no field, or a field the path or the body binds, with 400 ({INVALID_ARGUMENT}) instead of ignoring them."`
	DiscardUnknown   bool     `yaml:"discard_unknown" doc:"Ignore unknown fields in JSON bodies. When false they get 400 ({INVALID_ARGUMENT})."`
	EmitUnpopulated  bool     `yaml:"emit_unpopulated" doc:"Write fields that hold their zero value in JSON responses."`
	ProtoNames       bool     `yaml:"proto_names" doc:"Write JSON field names as in the .proto ({page_size}) instead of lowerCamelCase ({pageSize}). Both are always accepted in requests."`
	EnumNumbers      bool     `yaml:"enum_numbers" doc:"Write enums as numbers instead of names. Both are always accepted in requests."`
	ProtojsonOnly    bool     `yaml:"protojson_only" doc:"Turn off the fast JSON codecs, which write responses straight from the upstream's protobuf bytes and turn JSON bodies straight into protobuf bytes, so that every message goes through a decoded message and protojson. The JSON is the same either way (the fast codecs leave to protojson whatever they would not treat exactly as it does); this is a diagnostic switch, and costs CPU on every call."`
	IncomingHeaders  []string `yaml:"incoming_headers" doc:"Request headers passed to upstreams and policies as metadata, besides Authorization, X-Request-Id, traceparent, tracestate, X-Forwarded-For, X-Request-Timeout, {Grpc-Metadata-*} (as their suffix) and the headers the policies read (the API key header, {metadata:NAME} keys of limits). Other headers stay at the HTTP layer."`
	StreamFormat     string   `yaml:"stream_format" doc:"Format of server streams for clients whose {Accept} asks for none in particular: {envelope} (grpc-gateway's: newline-delimited objects whose {result} field holds a message) or {ndjson} (one message per line). Clients choose {text/event-stream} (Server-Sent Events) or {application/x-ndjson} by {Accept}."`
	SSEHeartbeat     Duration `yaml:"sse_heartbeat" doc:"Send an SSE comment after this long without an event, so idle proxies keep the stream open; 0 sends none."`
	OpenAPIServers   []string `yaml:"openapi_servers" doc:"Base URLs clients reach the REST API at ({https://api.example.com}, with a path when a proxy adds one), listed as the servers of the OpenAPI document. Empty lists the listen address, its host a variable when it is every interface."`
}

// DefaultREST returns REST's defaults.
func DefaultREST() REST {
	return REST{
		Enabled:          true,
		MaxBodySize:      4 << 20,
		BodyReadTimeout:  Duration(30 * time.Second),
		MaxBufferedBytes: 32 << 20,
		MaxJSONDepth:     64,
		DiscardUnknown:   true,
		EmitUnpopulated:  true,
		StreamFormat:     "envelope",
	}
}

func (r *REST) validate(errs *Errors, path string) {
	if r.MaxBodySize <= 0 || r.MaxBodySize > 1<<30 {
		errs.add(path+".max_body_size", "must be between 1B and 1GiB")
	}
	if r.BodyReadTimeout < 0 {
		errs.add(path+".body_read_timeout", "must not be negative")
	}
	if r.MaxBufferedBytes < r.MaxBodySize {
		errs.add(path+".max_buffered_bytes", "must be at least max_body_size")
	}
	if r.MaxJSONDepth < 1 || r.MaxJSONDepth > 10000 {
		errs.add(path+".max_json_depth", "must be between 1 and 10000")
	}
	if r.StreamFormat != "envelope" && r.StreamFormat != "ndjson" {
		errs.add(path+".stream_format", `must be "envelope" or "ndjson"`)
	}
	if r.SSEHeartbeat < 0 {
		errs.add(path+".sse_heartbeat", "must not be negative")
	}
	for i, h := range r.IncomingHeaders {
		if h == "" || strings.ContainsAny(h, " :\t") {
			errs.add(path+".incoming_headers["+strconv.Itoa(i)+"]", "must be a header name")
		}
	}
	for i, u := range r.OpenAPIServers {
		if err := validServerURL(u); err != nil {
			errs.add(path+".openapi_servers["+strconv.Itoa(i)+"]", err.Error())
		}
	}
}

// validServerURL checks an absolute http(s) URL without query or
// fragment: what an OpenAPI server URL that clients append paths to is.
func validServerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL", s)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return fmt.Errorf("%q: want an absolute http or https URL, like \"https://api.example.com\"", s)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q: a base URL has no query, fragment or user information", s)
	}
	return nil
}

package transcoding

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluice-dev/sluice/grpctimeout"
	"github.com/sluice-dev/sluice/httpstatus"
	"github.com/sluice-dev/sluice/jsoncodec"
	"github.com/sluice-dev/sluice/protocol"
	"github.com/sluice-dev/sluice/transcoding/httprule"
)

// Dispatcher runs an adapted call through the gateway's one interceptor
// chain and proxy. *server.Dispatcher implements it.
type Dispatcher interface {
	Dispatch(ss grpc.ServerStream, method string, clientStreams, serverStreams bool) error
}

// REST transcodes REST/JSON requests into gRPC calls by the google.api.http
// rules of the contracts, and their results back into HTTP responses. A
// call is matched against the current Routes, its request message built
// from the path, the query and the body, and handed to the Dispatcher as a
// grpc.ServerStream, so every policy sees it exactly as a native gRPC call
// of the same method. It is safe for concurrent use.
type REST struct {
	routes func() *Routes
	d      Dispatcher
	cfg    config

	// marshal is the JSON encoding the options ask for; each call adds
	// its Routes' resolver.
	marshal protojson.MarshalOptions

	// fast holds the wire-to-JSON encoder of the route table the last
	// request used: its plans are per message descriptor, and descriptors
	// belong to one table, so a reload starts afresh and the old plans go
	// with the old table.
	fast atomic.Pointer[fastCodecs]

	// budget bounds the request bytes buffered across all calls.
	budget *byteBudget

	// bufs recycles request-body and JSON-response buffers (*[]byte)
	// between calls: allocation, not encoding, is most of what a small
	// call costs.
	bufs sync.Pool

	// dropped holds the metadata keys whose invalid values were reported.
	dropped sync.Map

	// compress recycles response compressors.
	compress compressors
}

// fastCodecs are the JSON codecs that work on wire bytes directly, for
// one route table.
type fastCodecs struct {
	routes *Routes
	enc    *jsoncodec.Encoder
	// dec decodes request bodies that may carry unknown fields (dropped);
	// decStrict those that may not.
	dec, decStrict *jsoncodec.Decoder
}

// codecs returns the fast codecs for rt, building them on the first call
// after a reload.
func (h *REST) codecs(rt *Routes) *fastCodecs {
	if fc := h.fast.Load(); fc != nil && fc.routes == rt {
		return fc
	}
	fc := &fastCodecs{routes: rt, enc: jsoncodec.NewEncoder(jsoncodec.MarshalOptions{
		EmitUnpopulated: h.marshal.EmitUnpopulated,
		UseProtoNames:   h.marshal.UseProtoNames,
		UseEnumNumbers:  h.marshal.UseEnumNumbers,
	}),
		dec:       jsoncodec.NewDecoder(jsoncodec.UnmarshalOptions{DiscardUnknown: true}),
		decStrict: jsoncodec.NewDecoder(jsoncodec.UnmarshalOptions{DiscardUnknown: false}),
	}
	h.fast.Store(fc)
	return fc
}

// maxPooledBuffer is the largest buffer kept for reuse, so that one huge
// body does not stay pinned in the pool.
const maxPooledBuffer = 256 << 10

// getBuffer returns an empty buffer to fill and hand back to putBuffer.
func (h *REST) getBuffer() *[]byte {
	if v, ok := h.bufs.Get().(*[]byte); ok {
		return v
	}
	return new([]byte)
}

// putBuffer recycles bp, holding b (bp's buffer, possibly grown). Nothing
// may use b afterwards.
func (h *REST) putBuffer(bp *[]byte, b []byte) {
	if cap(b) > maxPooledBuffer {
		return
	}
	*bp = b[:0]
	h.bufs.Put(bp)
}

var _ http.Handler = (*REST)(nil)

// NewREST returns a REST handler dispatching to d. routes is called once
// per request and its result kept for the whole request, so a reload that
// swaps the table never changes a call in flight; it may return nil while
// nothing is loaded (every request is then 404).
func NewREST(routes func() *Routes, d Dispatcher, opts ...Option) (*REST, error) {
	if routes == nil {
		return nil, errors.New("rest: nil routes function")
	}
	if d == nil {
		return nil, errors.New("rest: nil dispatcher")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.maxBuffered < cfg.maxBody {
		cfg.errs = append(cfg.errs, fmt.Errorf("max buffered bytes (%d) must be at least the body limit (%d)", cfg.maxBuffered, cfg.maxBody))
	}
	if len(cfg.errs) > 0 {
		return nil, fmt.Errorf("rest: %w", errors.Join(cfg.errs...))
	}
	return &REST{routes: routes, d: d, cfg: cfg, budget: &byteBudget{limit: cfg.maxBuffered}, marshal: protojson.MarshalOptions{
		EmitUnpopulated: cfg.emitUnpopulated,
		UseProtoNames:   cfg.protoNames,
		UseEnumNumbers:  cfg.enumNumbers,
	}}, nil
}

// call is the per-request state shared by the stages of ServeHTTP.
type call struct {
	h         *REST
	w         http.ResponseWriter
	r         *http.Request
	b         *binding
	errs      httpstatus.Writer
	marshal   protojson.MarshalOptions
	unmarshal protojson.UnmarshalOptions
	allow     func(key string) bool // response metadata filter
	fast      *fastCodecs           // nil until a route table is loaded

	// pathQuery caches, for buildFast, the path and query bindings as a
	// message of their own: every message of a streamed body has the
	// same. It stays nil when they need buildMessage; pathQueryDone once
	// computed.
	pathQuery     protoreflect.Message
	pathQueryDone bool

	// vars holds the path variables of most templates, so that matching
	// allocates nothing of its own.
	vars [4]httprule.Var
}

// bind makes b the call's binding.
func (c *call) bind(b *binding) {
	c.b = b
	c.unmarshal = protojson.UnmarshalOptions{
		DiscardUnknown: c.h.cfg.discardUnknown && !b.strict,
		Resolver:       c.marshal.Resolver,
		RecursionLimit: c.h.cfg.maxDepth + 1,
	}
}

// ServeHTTP serves one REST request.
func (h *REST) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rt := h.routes()
	c := &call{h: h, w: w, r: r, allow: h.cfg.outgoing, marshal: h.marshal}
	if rt != nil && rt.resolver != nil {
		c.marshal.Resolver = rt.resolver
	}
	c.errs = httpstatus.NewWriter(c.marshal)
	if rt != nil && !h.cfg.protojsonOnly {
		c.fast = h.codecs(rt)
	}
	path := r.URL.EscapedPath()
	if rt == nil || rt.snap == nil || rt.router == nil {
		c.errs.WriteStatus(w, status.Newf(codes.NotFound, "no route for %s %s", r.Method, path))
		return
	}
	if !h.cfg.ws.off && isWebSocket(r) {
		if match, b, ok := matchWebSocket(rt.router, path); ok {
			c.bind(b)
			h.serveWebSocket(c, match.Vars)
			return
		}
	}
	if len(h.cfg.encodings) > 0 {
		w.Header().Add("Vary", "Accept-Encoding")
		if enc := negotiateEncoding(r.Header.Values("Accept-Encoding"), h.cfg.encodings); enc != "" {
			cw := &compressWriter{ResponseWriter: w, pool: &h.compress, encoding: enc, min: h.cfg.compressMin}
			defer cw.close()
			w, c.w = cw, cw
		}
	}
	match, res := rt.router.MatchInto(r.Method, path, c.vars[:0])
	switch res {
	case httprule.NotFound:
		c.errs.WriteStatus(w, status.Newf(codes.NotFound, "no route for %s %s", r.Method, path))
		return
	case httprule.MalformedPath:
		c.errs.WriteStatus(w, status.Newf(codes.InvalidArgument, "malformed path %q: invalid percent-encoding", path))
		return
	case httprule.MethodNotAllowed:
		w.Header().Set("Allow", strings.Join(match.Allow, ", "))
		c.errs.WriteStatusAs(w, status.Newf(codes.Unimplemented, "method %s is not allowed for %s; allowed: %s",
			r.Method, path, strings.Join(match.Allow, ", ")), http.StatusMethodNotAllowed)
		return
	}
	b, _ := match.Route.Value.(*binding)
	if b == nil {
		c.errs.WriteStatus(w, status.New(codes.Internal, "route without a binding"))
		return
	}
	c.bind(b)
	clientStreams, serverStreams := b.method.ClientStreaming(), b.method.ServerStreaming()
	streamedBody := clientStreams && b.body != bodyNone
	rc := http.NewResponseController(w)
	var rb *requestBody
	if b.body != bodyNone {
		release, err := decodeBody(r, h.cfg.maxBody)
		if err != nil {
			c.fail(err)
			return
		}
		defer release()
		if streamedBody && r.ProtoMajor == 1 {
			// HTTP/1.x forbids reading the body once the response
			// started, unless asked: a bidirectional call writes while it
			// reads, and an early error must not wait for the body
			// either. HTTP/2 always allows it.
			_ = rc.EnableFullDuplex()
			// In that mode net/http neither discards an unread body
			// before the response headers nor says Connection: close
			// when it cannot: it tries after the handler returned, and
			// if that fails (the linger deadline, a body cut short) it
			// still reuses the connection, reading what is left of the
			// body as the next request (golang/go#68560), which the
			// client sees as a reset. Such a connection serves one call,
			// unless the body was read to its end before the response
			// (a client stream answered once it ended; see writeUnary).
			w.Header().Set("Connection", "close")
		}
		timeout := h.cfg.bodyReadTimeout
		if streamedBody {
			// A streamed body is paced by the upstream and ends when the
			// client says; the deadline, idle and stall policies bound it.
			timeout = 0
		}
		rb = newRequestBody(rc, h.budget, timeout)
		defer func() {
			rb.releaseAll()
			lingerUnlessRead(rc, rb)
			rb.handlerReturns()
		}()
	}
	format := h.cfg.streamFormat
	accept := r.Header.Values("Accept")
	switch {
	case b.rawResponse:
	case serverStreams:
		var ok bool
		if format, ok = negotiateStream(accept, format); !ok {
			c.errs.WriteStatusAs(w, status.Newf(codes.InvalidArgument,
				"the response is a stream of application/json, application/x-ndjson or text/event-stream, none of which the Accept header %q allows",
				strings.Join(accept, ", ")), http.StatusNotAcceptable)
			return
		}
	case !acceptsJSON(accept):
		c.errs.WriteStatusAs(w, status.Newf(codes.InvalidArgument,
			"the response is application/json, which the Accept header %q does not allow", strings.Join(accept, ", ")),
			http.StatusNotAcceptable)
		return
	}

	ctx, cancel, err := h.callContext(r)
	if err != nil {
		c.fail(err)
		return
	}
	defer cancel()
	if rb != nil {
		ctx = protocol.WithEnd(ctx, rb.end)
	}
	s := protocol.NewStream(ctx, protocol.REST, b.method.Path)
	s.NextReportsEnd = true // the body reader words the end (reqbody.go)
	switch {
	case streamedBody && (b.rawRequest || b.rawBodyField):
		// A stream of google.api.HttpBody: the raw body, cut into
		// chunks as it arrives.
		cr := newChunkReader(ctx, r.Body, min(rawChunkSize, h.cfg.maxBody), rb)
		contentType := r.Header.Get("Content-Type")
		s.Next = func() ([]byte, error) {
			chunk, first, err := cr.next()
			if err != nil {
				return nil, err
			}
			ct := ""
			if first {
				ct = contentType
			}
			return h.buildMessage(c, match.Vars, chunk, ct)
		}
	case streamedBody:
		if err := checkStreamContentType(r.Header.Get("Content-Type")); err != nil {
			c.fail(err)
			return
		}
		mr := newMessageReader(ctx, r.Body, h.cfg.maxBody, rb)
		s.Next = func() ([]byte, error) {
			body, err := mr.next()
			if err != nil {
				return nil, err
			}
			return h.buildMessage(c, match.Vars, body, "")
		}
	case rb != nil:
		// The body is read when the proxy asks for the request, after
		// every policy accepted the call on its headers.
		s.Next = protocol.Once(func() ([]byte, error) { return h.buildRequest(c, match.Vars, rb) })
	default:
		req, err := h.buildRequest(c, match.Vars, nil)
		if err != nil {
			c.fail(err)
			return
		}
		s.Next = protocol.Once(func() ([]byte, error) { return req, nil })
	}
	if err := ctx.Err(); err != nil {
		// The client reset the request while it was being prepared.
		c.fail(status.FromContextError(err).Err())
		return
	}
	if serverStreams {
		sr := newStreamResponder(c, rc, format, h.cfg.sseHeartbeat, h.cfg.headerGrace)
		s.Header, s.Message = sr.header, sr.message
		err := h.d.Dispatch(s, b.method.Path, clientStreams, true)
		s.StopReceiving(rc)
		sr.finish(s, cutCause(r.Context(), err))
		return
	}
	var resp []byte
	got := false
	s.Header = func(metadata.MD, bool) {}
	s.Message = func(data []byte) error {
		if got {
			return status.Errorf(codes.Internal, "upstream sent more than one response to unary %s", b.method.Path)
		}
		got, resp = true, data
		return nil
	}
	err = h.d.Dispatch(s, b.method.Path, clientStreams, false)
	s.StopReceiving(rc)
	if streamedBody && r.ProtoMajor == 1 && rb.bodyRead() {
		// The whole body was read: the connection is in step again.
		w.Header().Del("Connection")
	}
	if err == nil && !got {
		err = status.Error(codes.Internal, errNoResponse.Error())
	}
	if err != nil {
		c.writeError(s, cutCause(r.Context(), err))
		return
	}
	code := http.StatusOK
	if sc, ok := h.cfg.success[b.method.Path]; ok {
		code = sc
	}
	c.writeUnary(s, resp, code)
}

// cutCause returns the status the server cut the request with (the cause
// of its context, such as the gateway's shutdown: UNAVAILABLE) in place
// of err, the cancellation the call saw; otherwise err.
func cutCause(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil {
		if _, ok := status.FromError(cause); ok {
			return cause
		}
	}
	return err
}

// BufferedBytes is the number of request-body bytes the handler holds
// against its budget (WithMaxBufferedBytes) now, for observers.
func (h *REST) BufferedBytes() int64 { return h.budget.used.Load() }

// callContext derives the call's context from the request: incoming
// metadata, peer, protocol and the Grpc-Timeout deadline.
func (h *REST) callContext(r *http.Request) (context.Context, context.CancelFunc, error) {
	md, err := h.cfg.incomingMetadata(r.Header, h.reportDroppedIncoming)
	if err != nil {
		return nil, nil, status.Error(codes.InvalidArgument, err.Error())
	}
	ctx := r.Context()
	cancel := context.CancelFunc(func() {})
	if v := r.Header.Values(timeoutHeader); len(v) > 0 {
		// A malformed value gets grpc-go's answer to a native call with
		// it (INTERNAL, "malformed grpc-timeout"), with HTTP 400 as
		// grpc-go's own HTTP handler gives: one answer for every protocol.
		if len(v) > 1 {
			return nil, nil, withHTTPStatus(status.Newf(codes.Internal, "malformed grpc-timeout: %d values", len(v)), http.StatusBadRequest)
		}
		d, err := grpctimeout.Parse(v[0])
		if err != nil {
			return nil, nil, withHTTPStatus(status.Newf(codes.Internal, "malformed grpc-timeout: %v", err), http.StatusBadRequest)
		}
		ctx, cancel = context.WithTimeout(ctx, d)
	}
	ctx = metadata.NewIncomingContext(ctx, md)
	ctx = peer.NewContext(ctx, protocol.Peer(r))
	ctx = protocol.NewContext(ctx, protocol.REST)
	ctx = protocol.WithHTTPMethod(ctx, r.Method)
	return ctx, cancel, nil
}

// buildRequest reads the body, if the rule binds one, and builds the
// request message from it, the path and the query.
func (h *REST) buildRequest(c *call, vars []httprule.Var, rb *requestBody) ([]byte, error) {
	if c.b.body == bodyNone {
		return h.buildMessage(c, vars, nil, c.r.Header.Get("Content-Type"))
	}
	// The body is only read while the message is built: proto.Marshal
	// copies what the message took from it, so its buffer is reused.
	bp := h.getBuffer()
	body, err := readBody(c.w, c.r, h.cfg.maxBody, rb, *bp)
	if err != nil {
		h.putBuffer(bp, body)
		return nil, err
	}
	out, err := h.buildMessage(c, vars, body, c.r.Header.Get("Content-Type"))
	h.putBuffer(bp, body)
	return out, err
}

// buildFast builds what buildMessage builds without decoding the JSON body
// into a message: jsoncodec's Decoder turns the body straight into wire
// bytes, and the path and query bindings, built as a message of their own,
// are appended after them. Protobuf defines concatenated messages as merged,
// later values winning, which is the precedence buildMessage gives path
// variables over the body. It reports false for whatever it leaves to
// buildMessage, which then also words any error: no JSON body, raw
// HttpBody requests, PATCH update masks (derived from the body's keys),
// nested body fields ("payload.input_value"),
// scalar, repeated and map body fields, and any input the fast decoder
// does not take exactly as protojson would.
func (h *REST) buildFast(c *call, vars []httprule.Var, body []byte, contentType string) ([]byte, bool) {
	b := c.b
	if c.fast == nil || b.body == bodyNone || b.rawRequest || b.rawBodyField || b.updateMask != nil || len(b.bodyParents) > 0 ||
		isBlank(body) || checkJSONContentType(contentType) != nil {
		return nil, false
	}
	md := b.in.Descriptor()
	if b.body == bodyField {
		fd := b.bodyField
		if fd.Message() == nil || fd.IsList() || fd.IsMap() {
			return nil, false
		}
		md = fd.Message()
	}
	if checkDepth(body, h.cfg.maxDepth) != nil {
		return nil, false
	}
	dec := c.fast.decStrict
	if c.unmarshal.DiscardUnknown {
		dec = c.fast.dec
	}
	bp := h.getBuffer()
	defer func() { h.putBuffer(bp, *bp) }()
	decoded, err := dec.AppendMessage((*bp)[:0], body, md)
	*bp = decoded
	if err != nil {
		return nil, false
	}
	pq := h.fastPathQuery(c, vars)
	if pq == nil {
		return nil, false
	}
	mo := proto.MarshalOptions{}
	size := len(decoded) + mo.Size(pq.Interface())
	if b.body == bodyField {
		size += protowire.SizeTag(b.bodyField.Number()) + protowire.SizeBytes(len(decoded))
	}
	out := make([]byte, 0, size)
	if b.body == bodyField {
		out = protowire.AppendTag(out, b.bodyField.Number(), protowire.BytesType)
		out = protowire.AppendVarint(out, uint64(len(decoded)))
	}
	out = append(out, decoded...)
	out, err = mo.MarshalAppend(out, pq.Interface())
	if err != nil {
		return nil, false
	}
	return out, true
}

// fastPathQuery returns the path and query bindings of the call, built
// once as a message of their own, or nil when they need buildMessage
// (which words the error). Nothing may modify the message.
func (h *REST) fastPathQuery(c *call, vars []httprule.Var) protoreflect.Message {
	if c.pathQueryDone {
		return c.pathQuery
	}
	c.pathQueryDone = true
	b := c.b
	m := b.in.New()
	for i, v := range vars {
		if i >= len(b.vars) {
			break
		}
		if setPathVariable(m, b.vars[i], v.Value) != nil {
			return nil
		}
	}
	if b.body == bodyAll {
		if (h.cfg.strictQuery || b.strict) && c.r.URL.RawQuery != "" {
			return nil
		}
	} else if c.r.URL.RawQuery != "" {
		q, err := url.ParseQuery(c.r.URL.RawQuery)
		if err != nil || bindQuery(m, q, b.bound, h.cfg.strictQuery || b.strict) != nil {
			return nil
		}
	}
	if b.body == bodyField {
		// The body sets its field, but this message is built without it:
		// when the field is a member of a oneof that the path or the
		// query set too, appending would let that member replace the
		// body's. buildMessage binds them onto the body and refuses the
		// second member, as grpc-gateway does.
		if of := b.bodyField.ContainingOneof(); of != nil && !of.IsSynthetic() && m.WhichOneof(of) != nil {
			return nil
		}
	}
	c.pathQuery = m
	return m
}

// buildMessage builds one request message, in the order grpc-gateway
// uses: body, then path variables (which win over the body), then query
// parameters for the fields neither bound, then the PATCH update mask.
// Each message of a streamed body is built so, with the same path and
// query. contentType is the body's (empty: JSON). It returns the message
// in wire format.
func (h *REST) buildMessage(c *call, vars []httprule.Var, body []byte, contentType string) ([]byte, error) {
	if out, ok := h.buildFast(c, vars, body, contentType); ok {
		return out, nil
	}
	b := c.b
	m := b.in.New()
	if b.body != bodyNone {
		if err := h.bindBody(m, b, body, contentType, c.unmarshal); err != nil {
			return nil, err
		}
	}
	if err := h.bindPathQuery(c, m, vars); err != nil {
		return nil, err
	}
	if err := fillUpdateMask(m, b, body); err != nil {
		return nil, err
	}
	return marshalRequest(m)
}

// bindPathQuery sets the path variables and query parameters of the call
// in m, the path winning over what m holds.
func (h *REST) bindPathQuery(c *call, m protoreflect.Message, vars []httprule.Var) error {
	b, r := c.b, c.r
	for i, v := range vars {
		if i >= len(b.vars) {
			break
		}
		if err := setPathVariable(m, b.vars[i], v.Value); err != nil {
			return status.Errorf(codes.InvalidArgument, "type mismatch, parameter: %s, error: %v", strings.Join(v.FieldPath, "."), err)
		}
	}
	strict := h.cfg.strictQuery || b.strict
	if b.body == bodyAll {
		if strict && r.URL.RawQuery != "" {
			return status.Error(codes.InvalidArgument, "query parameters are not allowed: the body binds the whole request")
		}
	} else if r.URL.RawQuery != "" {
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			return status.Errorf(codes.InvalidArgument, "%v", err)
		}
		if err := bindQuery(m, q, b.bound, strict); err != nil {
			return status.Errorf(codes.InvalidArgument, "%v", err)
		}
	}
	return nil
}

// buildBinary builds one request message whose body is protobuf wire
// format (a "sluice.proto" WebSocket message) rather than JSON: the body
// binds what a JSON body would (the whole message, or its body field),
// then the path and query, as buildMessage does.
func (h *REST) buildBinary(c *call, vars []httprule.Var, body []byte) ([]byte, error) {
	b := c.b
	m := b.in.New()
	target := m
	switch {
	case b.body == bodyAll:
	case b.body == bodyField && b.bodyField.Message() != nil && !b.bodyField.IsList() && !b.bodyField.IsMap() && len(b.bodyParents) == 0:
		target = m.Mutable(b.bodyField).Message()
	default:
		return nil, status.Error(codes.InvalidArgument, "binary messages need a binding whose body is the request or one of its message fields")
	}
	if err := unmarshalResponse(body, target, c.unmarshal.Resolver); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid protobuf request message: %v", err)
	}
	if err := h.bindPathQuery(c, m, vars); err != nil {
		return nil, err
	}
	return marshalRequest(m)
}

// marshalRequest returns m in wire format.
func marshalRequest(m protoreflect.Message) ([]byte, error) {
	out, err := proto.Marshal(m.Interface())
	if err != nil {
		// Only what the client sent can make a message unmarshallable
		// (invalid UTF-8 in a string, say).
		return nil, status.Errorf(codes.InvalidArgument, "invalid request: %v", err)
	}
	return out, nil
}

// acceptsJSON reports whether an Accept header allows application/json,
// by the same negotiation as server streams (the most specific matching
// media range decides). No header, or none that parses, accepts anything.
func acceptsJSON(values []string) bool {
	ranges := parseAccept(values)
	if len(ranges) == 0 {
		return true
	}
	q, _ := acceptQuality(ranges, contentTypeJSON)
	return q > 0
}

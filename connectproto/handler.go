package connectproto

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluice-dev/sluice/protocol"
	"github.com/sluice-dev/sluice/registry"
)

// Dispatcher runs an adapted call through the gateway's one interceptor
// chain and proxy. *server.Dispatcher implements it.
type Dispatcher interface {
	Dispatch(ss grpc.ServerStream, method string, clientStreams, serverStreams bool) error
}

// Handler serves the Connect protocol and hands every other request to
// the next handler. Calls are resolved by path against the current
// contract snapshot and run through the Dispatcher, so every policy sees a
// Connect call exactly as a native gRPC call of the same method. It is
// safe for concurrent use.
type Handler struct {
	d        Dispatcher
	snapshot func() *registry.Snapshot
	next     http.Handler
	cfg      config
	gz       gzipCodec

	// json holds the JSON codecs of the snapshot the last JSON call used;
	// a reload starts afresh and the old plans go with the old snapshot.
	json atomic.Pointer[jsonCodecs]

	// dropped holds the header names whose dropped values were reported.
	dropped sync.Map
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns a Handler dispatching Connect calls to d and passing
// other requests to next (nil: 404 for them). snapshot is called once per
// request, and its result kept for the call, so a reload never changes a
// call in flight; it may return nil while nothing is loaded.
func NewHandler(d Dispatcher, snapshot func() *registry.Snapshot, next http.Handler, opts ...Option) (*Handler, error) {
	if d == nil {
		return nil, errors.New("connect: nil dispatcher")
	}
	if snapshot == nil {
		return nil, errors.New("connect: nil snapshot function")
	}
	if next == nil {
		next = http.NotFoundHandler()
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	return &Handler{d: d, snapshot: snapshot, next: next, cfg: cfg}, nil
}

// codec is a message encoding of the protocol.
type codec uint8

const (
	codecProto codec = iota
	codecJSON
)

// Media types and headers of the protocol.
const (
	typeProto          = "application/proto"
	typeJSON           = "application/json"
	typeStreamPrefix   = "application/connect+"
	headerVersion      = "Connect-Protocol-Version"
	headerTimeout      = "Connect-Timeout-Ms"
	headerStreamEnc    = "Connect-Content-Encoding"
	headerStreamAccept = "Connect-Accept-Encoding"
)

// call is one Connect request, from classification to its response.
type call struct {
	h      *Handler
	w      http.ResponseWriter
	r      *http.Request
	rc     *http.ResponseController
	method *registry.Method
	codec  codec
	stream bool // the streaming protocol: enveloped messages, end-of-stream
	json   *jsonCodecs
	gzipIn bool // the request is gzipped
	gzipOK bool // the client accepts gzipped responses

	cancel context.CancelCauseFunc
	done   <-chan struct{} // the call context's Done

	// reqDone, on HTTP/1.1 server streams, is closed once the request
	// has been read: the response waits for it (see serve).
	reqDone     chan struct{}
	reqDoneOnce sync.Once
	closeConn   bool // HTTP/1.1 full duplex: close the connection after the stream

	endMu    sync.Mutex
	returned bool // the handler is returning: the ResponseWriter is off limits
	ended    bool // end was called
	reading  bool // a read of the request body is in flight
	writing  bool // a write to the client is in flight
}

// ServeHTTP serves one request: a Connect call, or whatever next serves.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	base, params := splitMediaType(r.Header.Get("Content-Type"))
	stream := strings.HasPrefix(base, typeStreamPrefix)
	_, versioned := r.Header[headerVersion]
	var snap *registry.Snapshot
	if h.snapshot != nil {
		snap = h.snapshot()
	}
	var m *registry.Method
	if snap != nil {
		m, _ = snap.Method(r.URL.Path)
	}
	if !stream && !versioned && !h.unaryCandidate(r, m, base) {
		h.next.ServeHTTP(w, r)
		return
	}
	c := &call{h: h, w: w, r: r, rc: http.NewResponseController(w), method: m, stream: stream}
	if m == nil {
		c.stream = false // the answer is a plain HTTP error either way
		c.writeUnaryError(nil, status.Newf(codes.Unimplemented, "method %s is not served here: no contract describes it", r.URL.Path), http.StatusNotFound)
		return
	}
	if !c.negotiate(base, params) {
		return
	}
	if c.codec == codecJSON {
		c.json = h.jsonFor(snap)
	}
	c.serve()
}

// unaryCandidate reports whether a request without Connect's headers is a
// Connect unary call all the same: a POST of a Connect media type, or a
// GET with an encoding parameter, to a method of the contracts.
func (h *Handler) unaryCandidate(r *http.Request, m *registry.Method, base string) bool {
	if m == nil {
		return false
	}
	switch r.Method {
	case http.MethodPost:
		// Other media types pass on: a REST route may serve the path, and
		// the gateway answers 415 when none does.
		return base == typeProto || base == typeJSON
	case http.MethodGet:
		return strings.Contains(r.URL.RawQuery, "encoding=")
	}
	return false
}

// splitMediaType returns the lower-case media type of a Content-Type and
// its parameters, unparsed.
func splitMediaType(ct string) (base, params string) {
	base, params, _ = strings.Cut(ct, ";")
	return strings.ToLower(strings.TrimSpace(base)), strings.TrimSpace(params)
}

// noSideEffects reports whether the contract marks m as safe to call by
// GET (idempotency_level = NO_SIDE_EFFECTS).
func noSideEffects(m *registry.Method) bool {
	opts, ok := m.Desc.Options().(*descriptorpb.MethodOptions)
	return ok && opts.GetIdempotencyLevel() == descriptorpb.MethodOptions_NO_SIDE_EFFECTS
}

// negotiate checks the HTTP method, the media type and the protocol
// version against the method's kind, setting the call's codec; it writes
// the refusal and reports false when the call cannot go on.
func (c *call) negotiate(base, params string) bool {
	r, m := c.r, c.method
	streaming := m.ClientStreaming() || m.ServerStreaming()
	allow := http.MethodPost
	if !streaming && noSideEffects(m) {
		allow = "GET, POST"
	}
	switch {
	case r.Method == http.MethodPost:
	case r.Method == http.MethodGet && allow != http.MethodPost && !c.stream:
	default:
		// As connect-go answers: the status and Allow, no error body (a
		// client words the error from the status).
		c.w.Header().Set("Allow", allow)
		c.w.WriteHeader(http.StatusMethodNotAllowed)
		return false
	}
	var ok bool
	if r.Method == http.MethodGet {
		switch r.URL.Query().Get("encoding") {
		case "proto":
			c.codec, ok = codecProto, true
		case "json":
			c.codec, ok = codecJSON, true
		}
		if !ok {
			c.writeUnaryError(nil, status.Newf(codes.InvalidArgument, "invalid message encoding %q: want proto or json", r.URL.Query().Get("encoding")), 0)
			return false
		}
	} else {
		c.codec, ok = mediaCodec(base, params, c.stream)
		if !ok || c.stream != streaming {
			c.refuseMediaType(streaming)
			return false
		}
	}
	if v, present := r.Header[headerVersion]; present && (len(v) != 1 || v[0] != "1") {
		c.fail(nil, status.Newf(codes.InvalidArgument, "%s must be \"1\": got %q", headerVersion, strings.Join(v, ", ")))
		return false
	}
	if r.Method == http.MethodGet {
		if v := r.URL.Query()["connect"]; len(v) > 0 && v[0] != "v1" {
			c.fail(nil, status.Newf(codes.InvalidArgument, "connect must be \"v1\": got %q", v[0]))
			return false
		}
	}
	return true
}

// mediaCodec maps a Content-Type to its codec: application/proto and
// application/json for unary calls (JSON with an optional UTF-8 charset),
// application/connect+proto and +json for streams.
func mediaCodec(base, params string, stream bool) (codec, bool) {
	name := base
	if stream {
		name = strings.TrimPrefix(base, typeStreamPrefix)
	} else if n, ok := strings.CutPrefix(base, "application/"); ok {
		name = n
	} else {
		return 0, false
	}
	switch name {
	case "proto":
		return codecProto, params == ""
	case "json":
		if params != "" {
			k, v, _ := strings.Cut(params, "=")
			if !strings.EqualFold(strings.TrimSpace(k), "charset") || !strings.EqualFold(strings.Trim(strings.TrimSpace(v), `"`), "utf-8") {
				return 0, false
			}
		}
		return codecJSON, true
	}
	return 0, false
}

// refuseMediaType answers 415 naming the media types the method takes.
func (c *call) refuseMediaType(streaming bool) {
	accept := typeProto + ", " + typeJSON
	if streaming {
		accept = typeStreamPrefix + "proto, " + typeStreamPrefix + "json"
	}
	c.w.Header().Set("Accept-Post", accept)
	c.w.WriteHeader(http.StatusUnsupportedMediaType)
}

// jsonFor returns the JSON codecs of snap, building them on the first
// JSON call after a reload.
func (h *Handler) jsonFor(snap *registry.Snapshot) *jsonCodecs {
	if j := h.json.Load(); j != nil && j.snap == snap {
		return j
	}
	j := newJSONCodecs(snap, h.cfg.discardUnknown)
	h.json.Store(j)
	return j
}

// serve runs the call through the dispatcher and writes its response.
func (c *call) serve() {
	r, m := c.r, c.method
	var err error
	encHeader, acceptHeader := "Content-Encoding", "Accept-Encoding"
	if c.stream {
		encHeader, acceptHeader = headerStreamEnc, headerStreamAccept
	}
	if r.Method == http.MethodGet {
		c.gzipIn, err = requestEncoding(r.URL.Query().Get("compression"))
	} else {
		c.gzipIn, err = requestEncoding(r.Header.Get(encHeader))
	}
	if err != nil {
		c.w.Header().Set(acceptHeader, "gzip")
		c.fail(nil, status.Convert(err))
		return
	}
	c.gzipOK = acceptsGzip(r.Header.Values(acceptHeader))

	ctx, release, err := c.context()
	if err != nil {
		c.fail(nil, status.Convert(err))
		return
	}
	defer release()
	s := protocol.NewStream(ctx, protocol.Connect, m.Path)
	clientStreams, serverStreams := m.ClientStreaming(), m.ServerStreaming()
	if c.stream {
		if r.ProtoMajor == 1 {
			if clientStreams {
				// HTTP/1.1 forbids reading the body once the response
				// started unless asked: a stream's headers go out when
				// the upstream sends its own, which may be before it has
				// read the requests. A full-duplex HTTP/1.1 exchange
				// whose body is not read to its end breaks the next
				// request on the connection (golang/go#68560), so the
				// connection closes after the stream.
				_ = c.rc.EnableFullDuplex()
				c.closeConn = true
			} else {
				// A server stream has one request message: the response
				// waits until it is read, and the connection stays
				// reusable.
				c.reqDone = make(chan struct{})
			}
		}
		er := &envelopeReader{body: r.Body, max: c.h.cfg.maxRecv}
		if c.gzipIn {
			er.gz = &c.h.gz
		}
		s.Next = func() ([]byte, error) {
			if err := c.beginRead(); err != nil {
				return nil, err
			}
			payload, err := er.next()
			c.endRead()
			if err != nil {
				return nil, err
			}
			return c.decode(payload)
		}
		if !clientStreams {
			s.Next = exactlyOne(s.Next, c.requestRead)
		}
		sw := &streamWriter{c: c}
		s.Header, s.Message = sw.header, sw.message
		err = c.h.d.Dispatch(s, m.Path, clientStreams, serverStreams)
		c.handlerReturns(s)
		sw.finish(s, cutCause(r.Context(), err))
		return
	}

	s.Next = protocol.Once(c.readUnary)
	var resp []byte
	got := false
	s.Header = func(metadata.MD, bool) {}
	s.Message = func(data []byte) error {
		if got {
			return status.Errorf(codes.Internal, "upstream sent more than one response to unary %s", m.Path)
		}
		got, resp = true, data
		return nil
	}
	err = c.h.d.Dispatch(s, m.Path, false, false)
	c.handlerReturns(s)
	if err == nil && !got {
		err = status.Error(codes.Internal, "upstream ended a unary call without a response message")
	}
	if err != nil {
		c.writeUnaryError(s, statusOf(cutCause(r.Context(), err)), 0)
		return
	}
	c.writeUnary(s, resp)
}

// exactlyOne yields the one request message of a server stream, once
// the body has ended, then io.EOF. A body without a message or with more
// than one is UNIMPLEMENTED, as gRPC and connect-go answer a cardinality
// violation. done is called when the body has been read.
func exactlyOne(next func() ([]byte, error), done func()) func() ([]byte, error) {
	called := false
	return func() ([]byte, error) {
		if called {
			return nil, io.EOF
		}
		called = true
		defer done()
		b, err := next()
		if errors.Is(err, io.EOF) {
			return nil, status.Error(codes.Unimplemented, "protocol error: a server stream needs one request message, got none")
		}
		if err != nil {
			return nil, err
		}
		if _, err := next(); !errors.Is(err, io.EOF) {
			if err == nil {
				err = status.Error(codes.Unimplemented, "protocol error: a server stream takes one request message, got more")
			}
			return nil, err
		}
		return b, nil
	}
}

// requestRead notes that a server stream's request has been read (or
// failed): the response may start on HTTP/1.1.
func (c *call) requestRead() {
	if c.reqDone != nil {
		c.reqDoneOnce.Do(func() { close(c.reqDone) })
	}
}

// handlerReturns ends the request side before the handler writes its
// last bytes and returns: no end may touch the ResponseWriter later.
func (c *call) handlerReturns(s *protocol.Stream) {
	s.StopReceiving(c.rc)
	c.requestRead()
	c.endMu.Lock()
	c.returned = true
	c.endMu.Unlock()
	_ = c.rc.SetWriteDeadline(time.Time{})
}

// context derives the call's context: incoming metadata, peer, protocol,
// the Connect-Timeout-Ms deadline, and the end hook the proxy uses to cut
// the call on the wire when a policy ends it.
func (c *call) context() (context.Context, func(), error) {
	r := c.r
	md, err := incomingMetadata(r.Header, c.h.reportDropped)
	if err != nil {
		return nil, nil, status.Errorf(codes.InvalidArgument, "binary header: %v", err)
	}
	ctx := r.Context()
	release := func() {}
	if v := r.Header.Get(headerTimeout); v != "" {
		d, err := parseTimeout(v)
		if err != nil {
			return nil, nil, err
		}
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, d)
		release = cancel
	}
	ctx, c.cancel = context.WithCancelCause(ctx)
	c.done = ctx.Done()
	ctx = metadata.NewIncomingContext(ctx, md)
	ctx = peer.NewContext(ctx, protocol.Peer(r))
	ctx = protocol.NewContext(ctx, protocol.Connect)
	ctx = protocol.WithEnd(ctx, c.end)
	stopTimeout := release
	return ctx, func() { c.cancel(nil); stopTimeout() }, nil
}

// reportDropped logs, once per key, a request header whose value gRPC
// metadata cannot carry (not printable ASCII), so an operator learns why
// the upstream never sees it.
func (h *Handler) reportDropped(key string) {
	if _, seen := h.dropped.LoadOrStore(key, true); !seen {
		h.cfg.logger.Warn("connect: request header dropped: its value is not printable ASCII, which gRPC metadata requires (use a -bin header for binary data)", "header", key)
	}
}

// end ends the call on the client's wire (see protocol.WithEnd): reads
// of the body in flight or to come fail at once, and so does a write the
// client is not taking. Once the handler is returning it does nothing to
// the ResponseWriter, which net/http forbids using then.
func (c *call) end(cause error) {
	c.cancel(cause)
	c.endMu.Lock()
	defer c.endMu.Unlock()
	if c.returned {
		return
	}
	c.ended = true
	// Only a read or write in flight is cut: a read deadline set while
	// none is would fail net/http's own background read of an HTTP/1.1
	// connection, which cancels every later request on it.
	if c.reading {
		_ = c.rc.SetReadDeadline(time.Now())
	}
	if c.writing {
		_ = c.rc.SetWriteDeadline(time.Now())
	}
}

// beginRead and endRead bracket a read of the request body, so that end
// knows whether one is blocked; beginRead refuses to start one once the
// call has ended.
func (c *call) beginRead() error {
	c.endMu.Lock()
	defer c.endMu.Unlock()
	if c.ended {
		return status.Error(codes.Canceled, "the call has ended")
	}
	c.reading = true
	return nil
}

func (c *call) endRead() {
	c.endMu.Lock()
	c.reading = false
	c.endMu.Unlock()
}

// beginWrite and endWrite bracket a write to the client, so that end
// knows whether one is blocked.
func (c *call) beginWrite() {
	c.endMu.Lock()
	c.writing = true
	c.endMu.Unlock()
}

func (c *call) endWrite() {
	c.endMu.Lock()
	c.writing = false
	c.endMu.Unlock()
}

// parseTimeout reads Connect-Timeout-Ms: a positive integer of at most
// 10 digits.
func parseTimeout(v string) (time.Duration, error) {
	if len(v) > 10 {
		return 0, status.Errorf(codes.InvalidArgument, "parse timeout: %q has more than 10 digits", v)
	}
	ms, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, status.Errorf(codes.InvalidArgument, "parse timeout: %q is not a number of milliseconds", v)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

// cutCause returns the status the server cut the request with (the cause
// of its context, such as the gateway's shutdown) in place of err, the
// cancellation the call saw; otherwise err.
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

// readUnary reads and decodes the one request message of a unary call:
// the body of a POST, the message parameter of a GET.
func (c *call) readUnary() ([]byte, error) {
	var payload []byte
	var err error
	if c.r.Method == http.MethodGet {
		payload, err = c.getMessage()
	} else {
		if err := c.beginRead(); err != nil {
			return nil, err
		}
		payload, err = c.readBody()
		c.endRead()
	}
	if err != nil {
		return nil, err
	}
	if c.gzipIn {
		if payload, err = c.h.gz.decompress(payload, c.h.cfg.maxRecv); err != nil {
			return nil, err
		}
	}
	return c.decode(payload)
}

// readBody reads a unary request body of at most the message limit.
func (c *call) readBody() ([]byte, error) {
	max := c.h.cfg.maxRecv
	if c.r.ContentLength > int64(max) {
		return nil, status.Errorf(codes.ResourceExhausted, "message size %d is larger than the limit %d", c.r.ContentLength, max)
	}
	size := 512
	if c.r.ContentLength >= 0 {
		size = int(c.r.ContentLength)
	}
	buf := make([]byte, 0, size+1)
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := c.r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if len(buf) > max {
			return nil, status.Errorf(codes.ResourceExhausted, "message is larger than the limit %d", max)
		}
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return nil, readError(err, "read body")
		}
	}
}

// decode turns a request payload into wire format: proto passes as it is.
func (c *call) decode(payload []byte) ([]byte, error) {
	if c.codec == codecProto {
		return payload, nil
	}
	return c.json.decode(nil, payload, c.method.Desc.Input())
}

// encode turns a response message into the call's codec.
func (c *call) encode(wire []byte) ([]byte, error) {
	if c.codec == codecProto {
		return wire, nil
	}
	return c.json.encode(nil, wire, c.method.Desc.Output())
}

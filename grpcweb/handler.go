package grpcweb

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluice-dev/sluice/grpctimeout"
	"github.com/sluice-dev/sluice/protocol"
)

// Handler serves gRPC-Web requests and passes every other request to the
// next handler. It is safe for concurrent use.
type Handler struct {
	d         Dispatcher
	contracts Resolver
	next      http.Handler
	cfg       config
	json      codecCache
}

var _ http.Handler = (*Handler)(nil)

// NewHandler returns a Handler dispatching gRPC-Web calls to d, for the
// methods the contracts resolver returns describe, and passing other
// requests to next (the REST handler; nil answers them 404).
func NewHandler(d Dispatcher, contracts Resolver, next http.Handler, opts ...Option) (*Handler, error) {
	if d == nil {
		return nil, errors.New("grpcweb: nil dispatcher")
	}
	if contracts == nil {
		return nil, errors.New("grpcweb: nil contracts resolver")
	}
	if next == nil {
		next = http.NotFoundHandler()
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("grpcweb: %w", err)
	}
	return &Handler{d: d, contracts: contracts, next: next, cfg: cfg}, nil
}

// contentType is what a request's Content-Type says of its body.
type contentType struct {
	text  bool   // grpc-web-text: base64
	codec string // "proto", "json", or another subtype (refused)
}

// parseContentType recognizes the gRPC-Web media types:
// application/grpc-web and application/grpc-web-text, with an optional
// +subtype (none means proto).
func parseContentType(ct string) (contentType, bool) {
	if !strings.HasPrefix(ct, "application/grpc-web") {
		return contentType{}, false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return contentType{}, false
	}
	base, sub, _ := strings.Cut(mt, "+")
	var c contentType
	switch base {
	case "application/grpc-web":
	case "application/grpc-web-text":
		c.text = true
	default:
		return contentType{}, false
	}
	c.codec = sub
	if sub == "" {
		c.codec = "proto"
	}
	return c, true
}

func (c contentType) String() string {
	base := "application/grpc-web"
	if c.text {
		base += "-text"
	}
	return base + "+" + c.codec
}

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ct, ok := parseContentType(r.Header.Get("Content-Type"))
	if !ok {
		h.next.ServeHTTP(w, r)
		return
	}
	rc := http.NewResponseController(w)
	rs := &responder{w: w, rc: rc, contentType: ct.String(), text: ct.text}
	if ct.codec != "proto" && ct.codec != "json" {
		rs.contentType = "application/grpc-web+proto"
		rs.fail(status.Newf(codes.Unknown, "grpc-web: codec %q is not supported: use proto or json", ct.codec), http.StatusUnsupportedMediaType)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		rs.fail(status.Newf(codes.Unimplemented, "grpc-web: method %s is not allowed: calls are POST", r.Method), http.StatusMethodNotAllowed)
		return
	}
	method := r.URL.Path
	contracts := h.contracts()
	var desc protoreflect.MethodDescriptor
	found := false
	if contracts != nil {
		desc, found = contracts.Method(method)
	}
	if !found {
		rs.finish(status.Newf(codes.Unimplemented, "unknown method %s", method), nil, nil)
		return
	}
	gz, err := requestEncoding(r.Header)
	if err != nil {
		rs.finish(status.Convert(err), nil, nil)
		return
	}
	// Responses are compressed as the request was, if the client accepts
	// it: a client that compresses expects compression back.
	rs.gzip = gz && acceptsGzip(r.Header)

	ctx, cancel, err := h.callContext(r)
	if err != nil {
		rs.finish(status.Convert(err), nil, nil)
		return
	}
	defer cancel()
	clientStreams := desc.IsStreamingClient()
	if r.ProtoMajor == 1 && clientStreams {
		// HTTP/1.x forbids reading the body once the response started,
		// unless asked: a bidirectional call writes while it reads. A
		// call with one request message reads its whole body before any
		// response (see lookahead), so it needs no such mode. HTTP/2
		// always allows it.
		_ = rc.EnableFullDuplex()
		// In that mode net/http leaves a body the call did not read to
		// its end (it failed early) in the connection, and reading it
		// when the handler returned breaks the next request on the
		// connection (golang/go#68560): such a connection serves one
		// call. Browsers never stream requests over HTTP/1.1 anyway.
		w.Header().Set("Connection", "close")
	}
	end := &ender{rc: rc}
	defer end.handlerReturns()
	ctx = protocol.WithEnd(ctx, end.end)

	body := &watchedBody{r: r.Body, e: end}
	mr := &messageReader{r: body, max: h.cfg.maxRecv, gzip: gz}
	if ct.text {
		mr.r = newBase64Reader(body)
	}
	next := mr.next
	if !clientStreams && r.ProtoMajor == 1 {
		next = lookahead(next)
	}
	s := protocol.NewStream(ctx, protocol.GRPCWeb, method)
	s.Next = readError(next)
	s.Header = rs.header
	s.Message = rs.message
	if ct.codec == "json" {
		jc := h.json.get(contracts)
		in, out := desc.Input(), desc.Output()
		s.Next = readError(func() ([]byte, error) {
			data, err := next()
			if err != nil {
				return nil, err
			}
			return jc.toWire(data, in)
		})
		s.Message = func(data []byte) error {
			data, err := jc.toJSON(data, out)
			if err != nil {
				return err
			}
			return rs.message(data)
		}
	}
	if desc.IsStreamingServer() {
		rs.startFlusher()
		defer rs.stopFlusher() // a no-op once finish stopped it
	}
	err = h.d.Dispatch(s, method, clientStreams, desc.IsStreamingServer())
	s.StopReceiving(rc)
	st := status.Convert(cutCause(r.Context(), err))
	if err == nil {
		st = status.New(codes.OK, "")
	}
	hdr, _ := s.Headers()
	rs.finish(st, hdr, s.Trailers())
}

// callContext derives the call's context from the request: incoming
// metadata, peer, protocol and the grpc-timeout deadline.
func (h *Handler) callContext(r *http.Request) (context.Context, context.CancelFunc, error) {
	md, err := incomingMetadata(r.Header)
	if err != nil {
		return nil, nil, status.Error(codes.Internal, err.Error())
	}
	ctx := r.Context()
	cancel := context.CancelFunc(func() {})
	if v := r.Header.Values("Grpc-Timeout"); len(v) > 0 {
		// A malformed value gets grpc-go's answer to a native call with
		// it: one answer for every protocol.
		if len(v) > 1 {
			return nil, nil, status.Errorf(codes.Internal, "malformed grpc-timeout: %d values", len(v))
		}
		d, err := grpctimeout.Parse(v[0])
		if err != nil {
			return nil, nil, status.Errorf(codes.Internal, "malformed grpc-timeout: %v", err)
		}
		ctx, cancel = context.WithTimeout(ctx, d)
	}
	ctx = metadata.NewIncomingContext(ctx, md)
	ctx = peer.NewContext(ctx, protocol.Peer(r))
	ctx = protocol.NewContext(ctx, protocol.GRPCWeb)
	return ctx, cancel, nil
}

// requestEncoding reads grpc-encoding: whether request messages flagged
// compressed are gzip. Any other compression is UNIMPLEMENTED, as gRPC
// answers it.
func requestEncoding(h http.Header) (gzip bool, err error) {
	switch enc := h.Get("Grpc-Encoding"); enc {
	case "", "identity":
		return false, nil
	case "gzip":
		return true, nil
	default:
		return false, status.Errorf(codes.Unimplemented, "grpc-web: grpc-encoding %q is not supported: use gzip or identity", enc)
	}
}

// acceptsGzip reports whether the client takes gzip responses: it says
// so in grpc-accept-encoding, or says nothing (it compressed its request).
func acceptsGzip(h http.Header) bool {
	vals := h.Values("Grpc-Accept-Encoding")
	if len(vals) == 0 {
		return true
	}
	for _, v := range vals {
		for _, e := range strings.Split(v, ",") {
			if strings.TrimSpace(e) == "gzip" {
				return true
			}
		}
	}
	return false
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

// ender ends a call on the wire when a policy ends it (a deadline, an
// idle or stall timeout): a read of the body in flight fails at once,
// even one the client never completes. After the handler returned, the
// ResponseWriter is gone and nothing is touched.
type ender struct {
	rc   *http.ResponseController
	mu   sync.Mutex
	done bool
	eof  bool // the body was read to its end
}

func (e *ender) end(error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// Once the body is read, net/http watches the connection itself (a
	// read deadline then would break it for the next request).
	if !e.done && !e.eof {
		_ = e.rc.SetReadDeadline(time.Now())
	}
}

// watchedBody tells the ender when the body was read to its end.
type watchedBody struct {
	r io.Reader
	e *ender
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		b.e.mu.Lock()
		b.e.eof = true
		b.e.mu.Unlock()
	}
	return n, err
}

func (e *ender) handlerReturns() {
	e.mu.Lock()
	e.done = true
	e.mu.Unlock()
}

// lookahead reads, with the one request message of a call that has one,
// what follows it (the end of the body, or a second message the proxy
// then refuses), so that the body is read to its end before any response
// is written: HTTP/1.x closes an unread body when the response starts.
func lookahead(next func() ([]byte, error)) func() ([]byte, error) {
	var (
		started  bool
		after    []byte
		afterErr error
		ended    error // sticky: the body is not read again after its end
	)
	return func() ([]byte, error) {
		if ended != nil {
			return nil, ended
		}
		if started {
			if after != nil || afterErr != nil {
				msg, err := after, afterErr
				after, afterErr = nil, nil
				if err != nil {
					ended = err
				}
				return msg, err
			}
			return next()
		}
		started = true
		msg, err := next()
		if err != nil {
			ended = err
			return nil, err
		}
		after, afterErr = next()
		return msg, nil
	}
}

// readError words a failed read of the request that is not a status
// already (the connection broke) as CANCELLED; io.EOF passes as it is.
func readError(next func() ([]byte, error)) func() ([]byte, error) {
	return func() ([]byte, error) {
		data, err := next()
		if err != nil && err != io.EOF {
			if _, ok := status.FromError(err); !ok {
				return nil, status.Errorf(codes.Canceled, "grpc-web: read request: %v", err)
			}
		}
		return data, err
	}
}

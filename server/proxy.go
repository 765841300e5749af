package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding"
	_ "google.golang.org/grpc/encoding/gzip" // gzip on both legs: clients and upstreams may compress
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/frame"
	"github.com/sluice-dev/sluice/protocol"
	"github.com/sluice-dev/sluice/upstream"
)

// Proxy forwards calls to upstream gRPC services frame by frame. It is the
// handler at the end of the interceptor chain: it serves every method the
// gateway has no service of its own for, whatever protocol the call came
// in on.
//
// For each call it opens one client stream to the upstream chosen by the
// method's route and pumps messages both ways, one message in flight per
// direction: it reads the next message from a peer only after the previous
// one was written to the other, so HTTP/2 flow control carries a slow
// peer's pace back to a fast one and nothing queues in between. Headers,
// trailers and the final status (code, message and details) are forwarded
// as they are.
type Proxy struct {
	upstreams *upstream.Pool
	codec     encoding.CodecV2
	logger    *slog.Logger
	xff       bool
	kinds     func(method string) (clientStreams, serverStreams, ok bool)
	callOpts  []grpc.CallOption // every upstream call's; never appended to in place
	stall     time.Duration     // upstream send-stall timeout; 0: none
}

// ProxyOption configures a Proxy.
type ProxyOption interface{ applyProxy(*Proxy) }

type proxyOptionFunc func(*Proxy)

func (f proxyOptionFunc) applyProxy(p *Proxy) { f(p) }

// WithProxyLogger sets where the proxy reports panics in its pump
// goroutines. The default discards them.
func WithProxyLogger(l *slog.Logger) ProxyOption {
	return proxyOptionFunc(func(p *Proxy) { p.logger = l })
}

// WithForwardedFor controls whether the caller's address is appended to the
// x-forwarded-for metadata sent upstream (default true).
func WithForwardedFor(on bool) ProxyOption {
	return proxyOptionFunc(func(p *Proxy) { p.xff = on })
}

// WithMethodKinds tells the proxy the call kind of methods it has a
// contract for, so unary calls take the shorter unary path; calls to other
// methods are forwarded as full-duplex streams, which carries any kind.
func WithMethodKinds(kinds func(method string) (clientStreams, serverStreams, ok bool)) ProxyOption {
	return proxyOptionFunc(func(p *Proxy) { p.kinds = kinds })
}

// WithUpstreamSendStallTimeout ends a call whose upstream accepts no data
// for d (its HTTP/2 window stays full while the client has more to send):
// the upstream call is cancelled and the client gets UNAVAILABLE, so an
// upstream that stops reading cannot pin a client stream forever. The
// client leg has its own timeout in interceptors/flow. Zero disables it.
func WithUpstreamSendStallTimeout(d time.Duration) ProxyOption {
	return proxyOptionFunc(func(p *Proxy) { p.stall = d })
}

// NewProxy returns a Proxy that routes by ups.
func NewProxy(ups *upstream.Pool, opts ...ProxyOption) *Proxy {
	p := &Proxy{
		upstreams: ups,
		codec:     frame.Codec(),
		logger:    slog.New(slog.DiscardHandler),
		xff:       true,
	}
	for _, o := range opts {
		o.applyProxy(p)
	}
	p.callOpts = []grpc.CallOption{grpc.ForceCodecV2(p.codec), upstream.FrameCall()}
	return p
}

// isUnary reports whether the contract says method is unary (see
// WithMethodKinds); without a contract every call is forwarded as a stream.
func (p *Proxy) isUnary(method string) bool {
	if p.kinds == nil {
		return false
	}
	client, server, ok := p.kinds(method)
	return ok && !client && !server
}

// unaryDesc describes a unary call to grpc-go: the request goes out with
// END_STREAM, and RecvMsg reads the response and the status.
var unaryDesc = &grpc.StreamDesc{}

// duplexDesc describes any other call: a full-duplex stream carries every
// kind. grpc-go only reads it.
var duplexDesc = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

// forward proxies the call to a canonical method path. A call the contract
// says is unary takes forwardUnary; any other is forwarded as a
// full-duplex stream, which carries every kind.
func (p *Proxy) forward(stream grpc.ServerStream, method string, unary bool) error {
	if err := stream.Context().Err(); err != nil {
		// The client reset the call, or a policy ended it, before it got
		// here: start no upstream call for it.
		return status.FromContextError(err).Err()
	}
	conn, name, ok := p.upstreams.Lookup(method)
	if !ok {
		return status.Errorf(codes.Unimplemented, "method %s is not served here: no upstream matches it", method)
	}

	inCtx := stream.Context()
	// The policies' deadlines and timeouts end the call on the client's
	// wire too, whatever the proxy is blocked on (a unary request whose
	// last bytes never come, a client that stopped reading).
	defer protocol.EndWhenDone(inCtx)()
	// FromIncomingContext returns a copy the proxy owns: it becomes the
	// outgoing metadata in place, with no second map.
	md, _ := metadata.FromIncomingContext(inCtx)
	callOpts := p.callOpts
	if sub := contentSubtype(md); sub != "" {
		callOpts = append(callOpts[:len(callOpts):len(callOpts)], grpc.CallContentSubtype(sub))
	}
	out := forwarded(md)
	// Metadata the policies added for the upstream (the request id the
	// gateway generated, say) is in the call's outgoing metadata: adding
	// it here spares each of them a copy of the whole incoming metadata.
	if added, ok := metadata.FromOutgoingContext(inCtx); ok {
		for k, v := range added {
			out[k] = v
		}
	}
	if p.xff {
		if pr, ok := peer.FromContext(inCtx); ok && pr.Addr != nil {
			appendForwardedFor(out, pr.Addr)
		}
	}
	if unary {
		// The upstream call runs under the client's context: a unary call
		// has no pump to stop, so it needs no context of its own.
		return p.forwardUnary(metadata.NewOutgoingContext(inCtx, out), stream, conn, name, method, callOpts)
	}
	ctx, cancel := context.WithCancel(inCtx)
	defer cancel()
	ctx = metadata.NewOutgoingContext(ctx, out)
	upstream, err := conn.NewStream(ctx, duplexDesc, method, callOpts...)
	if err != nil {
		return p.upstreamError(inCtx, err, name, method)
	}

	reqDone := make(chan error, 1)
	// reqFailed is set before the request pump cancels the upstream call,
	// so the response side knows a cancellation it sees came from there.
	var reqFailed atomic.Bool
	go func() {
		defer func() {
			if r := recover(); r != nil {
				p.logger.ErrorContext(inCtx, "panic in request pump", "method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				reqFailed.Store(true)
				reqDone <- status.Error(codes.Internal, "internal error")
				cancel()
			}
		}()
		err := p.forwardRequests(stream, upstream, func() { reqFailed.Store(true); cancel() })
		if err != nil {
			// The client's side failed: give up on the upstream call too.
			reqFailed.Store(true)
			cancel()
		}
		reqDone <- err
	}()

	err = p.forwardResponses(stream, upstream, name, method)
	// A failure on the request side is the real cause when the response side
	// only saw the cancellation it triggered.
	if reqFailed.Load() {
		if reqErr := <-reqDone; reqErr != nil {
			return reqErr
		}
	}
	if err != nil {
		if inCtx.Err() != nil && status.Code(err) == codes.Canceled {
			return status.FromContextError(inCtx.Err()).Err()
		}
		return err
	}
	return nil
}

// forwardUnary proxies a unary call inline: read the one request, send it,
// read the response and the status. Cancellation needs no pump: the
// upstream call runs under the client's context.
//
// The call goes out through grpc.ClientConn.Invoke, which, unlike a stream
// opened with NewStream, needs no goroutine of its own to watch the
// context; calls an upstream's RetryPolicy may retry take NewStream, where
// the retry interceptor sits.
func (p *Proxy) forwardUnary(ctx context.Context, client grpc.ServerStream, conn *grpc.ClientConn, name, method string, callOpts []grpc.CallOption) error {
	u := new(unaryCall) // the frames, metadata and options of the call, one allocation
	req, resp := &u.frames[0], &u.frames[1]
	if err := client.RecvMsg(req); err != nil {
		req.Free()
		if errors.Is(err, io.EOF) {
			// gRPC's answer to a cardinality violation, as grpc-go's
			// own servers give it.
			return status.Errorf(codes.Unimplemented, "unary call to %s sent no request message", method)
		}
		return toStatus(err)
	}
	// A unary request ends with its message (native clients send both in
	// one frame): a second message is a cardinality violation too.
	if err := client.RecvMsg(resp); !errors.Is(err, io.EOF) {
		req.Free()
		resp.Free()
		if err == nil {
			return status.Errorf(codes.Unimplemented, "unary call to %s sent more than one request message", method)
		}
		return toStatus(err)
	}
	var err error
	if p.upstreams.Retries(name, method) {
		err = u.stream(ctx, conn, method, callOpts)
	} else {
		u.opts[0], u.opts[1] = grpc.Header(&u.header), grpc.Trailer(&u.trailer)
		err = conn.Invoke(ctx, method, req, resp, append(u.opts[:2], callOpts...)...)
		req.Free() // a no-op once grpc-go took the request over
	}
	if u.header != nil {
		// Set, not sent: the headers leave with the response message (or
		// the status), in one write to the client rather than two.
		if serr := client.SetHeader(forwarded(u.header)); serr != nil {
			resp.Free()
			return toStatus(serr)
		}
	}
	client.SetTrailer(forwarded(u.trailer))
	if err != nil {
		resp.Free()
		return p.upstreamError(ctx, err, name, method)
	}
	if err := client.SendMsg(resp); err != nil {
		resp.Free()
		return toStatus(err)
	}
	return nil
}

// unaryCall is the state of one unary call through forwardUnary.
type unaryCall struct {
	frames          [2]frame.Frame // the request and the response
	header, trailer metadata.MD
	opts            [2]grpc.CallOption
}

// stream makes the call as a stream (the retry interceptor's way), with
// the request in frames[0], leaving the response in frames[1] and the
// upstream's header and trailer in u.
func (u *unaryCall) stream(ctx context.Context, conn *grpc.ClientConn, method string, callOpts []grpc.CallOption) error {
	req, resp := &u.frames[0], &u.frames[1]
	upstream, err := conn.NewStream(ctx, unaryDesc, method, callOpts...)
	if err != nil {
		req.Free()
		return err // worded by forwardUnary's caller-facing upstreamError
	}
	if err := upstream.SendMsg(req); err != nil {
		req.Free() // io.EOF: the upstream ended first; RecvMsg has its status
	}
	err = upstream.RecvMsg(resp)
	if hdr, herr := upstream.Header(); herr == nil {
		u.header = hdr
	}
	u.trailer = upstream.Trailer()
	return err
}

// forwardRequests pumps client messages upstream until the client
// half-closes (then it half-closes upstream) or either side ends. It
// returns nil when the client finished or the upstream ended first (the
// upstream's status is then read by the response pump), and the client's
// error otherwise.
//
// With a send-stall timeout, a send the upstream does not take within it
// calls abort (which cancels the upstream call) and ends the pump with
// UNAVAILABLE.
func (p *Proxy) forwardRequests(client grpc.ServerStream, upstream grpc.ClientStream, abort func()) error {
	var stalled atomic.Bool
	var timer *time.Timer
	if p.stall > 0 {
		timer = time.AfterFunc(time.Hour, func() { stalled.Store(true); abort() })
		timer.Stop()
		defer timer.Stop()
	}
	for {
		f := new(frame.Frame)
		if err := client.RecvMsg(f); err != nil {
			f.Free()
			if errors.Is(err, io.EOF) {
				_ = upstream.CloseSend()
				return nil
			}
			return toStatus(err)
		}
		if timer != nil {
			timer.Reset(p.stall)
		}
		err := upstream.SendMsg(f)
		if timer != nil {
			timer.Stop()
		}
		if stalled.Load() {
			f.Free()
			return status.Errorf(codes.Unavailable, "the upstream accepted no data for %v: call ended", p.stall)
		}
		if err != nil {
			f.Free()
			// io.EOF: the upstream ended the call; its status arrives on
			// the response side. Any other error has already been recorded
			// as the upstream stream's status as well.
			return nil
		}
	}
}

// forwardResponses pumps upstream headers, messages and trailers to the
// client and returns the upstream's final status.
func (p *Proxy) forwardResponses(client grpc.ServerStream, upstream grpc.ClientStream, name, method string) error {
	hdr, err := upstream.Header()
	if err == nil && hdr != nil {
		if err := client.SendHeader(forwarded(hdr)); err != nil {
			return toStatus(err)
		}
	}
	for {
		f := new(frame.Frame)
		if err := upstream.RecvMsg(f); err != nil {
			f.Free()
			client.SetTrailer(forwarded(upstream.Trailer()))
			if errors.Is(err, io.EOF) {
				return nil
			}
			if _, ok := status.FromError(err); ok {
				return p.upstreamError(client.Context(), err, name, method)
			}
			return toStatus(err)
		}
		if err := client.SendMsg(f); err != nil {
			f.Free()
			return toStatus(err)
		}
	}
}

// toStatus makes sure err crosses the gRPC boundary as a status, with
// context errors mapped to their codes.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return status.FromContextError(err).Err()
	}
	return status.Error(codes.Internal, err.Error())
}

// upstreamError is the status a client gets for err, the failure of a
// call to the upstream name. What the upstream itself answered passes as
// it is. A failure of the gateway's own connection to it (grpc-go words
// those with addresses: "dial tcp 10.0.0.7:50051: connect: connection
// refused") reaches the client as a generic UNAVAILABLE naming the
// upstream, so that clients learn nothing of the network behind the
// gateway; the detail is logged.
func (p *Proxy) upstreamError(ctx context.Context, err error, name, method string) error {
	st, ok := status.FromError(err)
	if !ok {
		p.logger.WarnContext(ctx, "upstream call failed", "upstream", name, "method", method, "error", err)
		return status.Errorf(codes.Unavailable, "upstream %s is unavailable", name)
	}
	if localTransportError(st) {
		p.logger.WarnContext(ctx, "upstream connection failed", "upstream", name, "method", method, "error", st.Message())
		return status.Errorf(st.Code(), "upstream %s is unavailable", name)
	}
	return err
}

// localTransportError reports whether st was made by grpc-go's client
// side (dialing, name resolution, a connection lost) rather than received
// from the upstream: such statuses are UNAVAILABLE (or INTERNAL, UNKNOWN
// for a broken stream), carry no details, and are worded by grpc-go.
func localTransportError(st *status.Status) bool {
	switch st.Code() {
	case codes.Unavailable, codes.Internal, codes.Unknown:
	default:
		return false
	}
	if len(st.Proto().GetDetails()) > 0 {
		return false
	}
	msg := st.Message()
	for _, marker := range transportMarkers {
		if strings.Contains(msg, marker) {
			return true
		}
	}
	return false
}

// transportMarkers are the phrases of grpc-go's client-side failures.
var transportMarkers = []string{
	"connection error:", "last connection error:", "last resolver error:", "name resolver error:",
	"produced zero addresses", "error reading from server", "transport:", "dial tcp", "dial unix",
	"connection refused", "no children to pick from", "SubConns are in TransientFailure",
}

// forwardable reports whether metadata key crosses the proxy.
func forwardable(key string) bool {
	if key == "" || key[0] == ':' || protocol.HopByHop(key) {
		return false
	}
	// grpc-* names are the protocol's own (timeout, encodings, status);
	// grpc-go regenerates the ones each leg needs. Tracing context passes.
	if strings.HasPrefix(key, "grpc-") && key != "grpc-trace-bin" {
		return false
	}
	return true
}

// forwarded drops from md, in place, what must not cross the proxy, and
// returns it (an empty MD for nil). md must be the proxy's own copy:
// metadata.FromIncomingContext and grpc-go's ClientStream.Header and
// Trailer all return copies.
func forwarded(md metadata.MD) metadata.MD {
	if md == nil {
		return metadata.MD{}
	}
	for k := range md {
		if !forwardable(k) {
			delete(md, k)
		}
	}
	return md
}

func appendForwardedFor(md metadata.MD, addr net.Addr) {
	host := hostOf(addr)
	if host == "" {
		return
	}
	prev := md["x-forwarded-for"]
	if len(prev) == 0 {
		md["x-forwarded-for"] = []string{host}
		return
	}
	md["x-forwarded-for"] = []string{strings.Join(prev, ", ") + ", " + host}
}

// hostOf is addr without its port. A TCP address (what both gRPC and REST
// clients have) is formatted from its IP directly rather than through
// String and SplitHostPort, which build and split a host:port string per
// call.
func hostOf(addr net.Addr) string {
	if ta, ok := addr.(*net.TCPAddr); ok && ta != nil && len(ta.IP) > 0 {
		if ta.Zone != "" {
			return ta.IP.String() + "%" + ta.Zone
		}
		return ta.IP.String()
	}
	host := addr.String()
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return host
}

// contentSubtype returns the "proto" of "application/grpc+proto" from the
// request's content-type, so the upstream sees the subtype the client sent.
func contentSubtype(md metadata.MD) string {
	for _, ct := range md.Get("content-type") {
		rest, ok := strings.CutPrefix(strings.ToLower(ct), "application/grpc+")
		if !ok {
			continue
		}
		sub, _, _ := strings.Cut(rest, ";")
		return sub
	}
	return ""
}

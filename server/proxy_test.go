package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	errdetails "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding/gzip"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/interceptors/recovery"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/upstream"
)

// Methods of the test upstreams.
const (
	idempotent = "/test.Echo/Get"
	other      = "/test.Echo/Create"
)

// unaryMethods are the test upstreams' unary methods.
var unaryMethods = map[string]bool{"/test.Echo/Unary": true, idempotent: true, other: true}

// forwardPaths are the proxy's two ways of forwarding a unary call: as a
// stream (the gateway has no contract for the method) and through its
// unary path (a contract says the method is unary).
var forwardPaths = []struct {
	name string
	opts []server.ProxyOption
}{
	{"stream path", nil},
	{"unary path", []server.ProxyOption{server.WithMethodKinds(func(method string) (bool, bool, bool) {
		return false, false, unaryMethods[method]
	})}},
}

// startEchoGateway runs an echo upstream and a gateway in front of it
// with proxyOpts, and returns the upstream and a client of the gateway.
func startEchoGateway(t *testing.T, proxyOpts []server.ProxyOption, chain ...grpc.StreamServerInterceptor) (*gatewaytest.Echo, *grpc.ClientConn) {
	t.Helper()
	up := gatewaytest.StartEcho(t)
	gw := gatewaytest.NewGatewayWithProxy(t, gatewaytest.Route(up.Addr, "test.Echo"), proxyOpts, chain...)
	gw.Start(t)
	return up, gatewaytest.Dial(t, gw.Addr)
}

// eachForwardPath runs test once per forward path, on its own gateway.
func eachForwardPath(t *testing.T, test func(t *testing.T, up *gatewaytest.Echo, cc *grpc.ClientConn)) {
	t.Helper()
	for _, path := range forwardPaths {
		t.Run(path.name, func(t *testing.T) {
			up, cc := startEchoGateway(t, path.opts)
			test(t, up, cc)
		})
	}
}

func TestProxyUnaryHeadersTrailersAndMetadata(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	eachForwardPath(t, testProxyUnaryHeadersTrailersAndMetadata)
}

func testProxyUnaryHeadersTrailersAndMetadata(t *testing.T, up *gatewaytest.Echo, cc *grpc.ClientConn) {

	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-echo", "hello", "x-custom-bin", string([]byte{0, 1, 2}))
	var header, trailer metadata.MD
	out := new(wrapperspb.StringValue)
	if err := cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("ping"), out, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if out.GetValue() != "ping" {
		t.Errorf("response = %q, want ping", out.GetValue())
	}
	if got := header.Get("x-echo"); len(got) != 1 || got[0] != "hello" {
		t.Errorf("header x-echo = %v, want [hello]", got)
	}
	if got := trailer.Get("x-echo-t"); len(got) != 1 || got[0] != "hello" {
		t.Errorf("trailer x-echo-t = %v, want [hello]", got)
	}
	in := up.Last().Metadata
	if got := in.Get("x-custom-bin"); len(got) != 1 || got[0] != string([]byte{0, 1, 2}) {
		t.Errorf("upstream saw x-custom-bin = %q, want the binary value", got)
	}
	if got := in.Get("x-forwarded-for"); len(got) != 1 || got[0] != "127.0.0.1" {
		t.Errorf("upstream saw x-forwarded-for = %v, want [127.0.0.1]", got)
	}
	if got := in.Get("content-type"); len(got) != 1 || got[0] != "application/grpc" {
		t.Errorf("upstream saw content-type %v, want [application/grpc]", got)
	}
}

// A native gRPC call reaches the proxy as an unknown service, which
// grpc-go describes as a bidirectional stream; with the contract's kinds
// the chain sees what the call really is, as it does for REST.
func TestNativeCallKindsFromContract(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	for _, path := range forwardPaths {
		t.Run(path.name, func(t *testing.T) {
			seen := make(chan *grpc.StreamServerInfo, 1)
			record := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
				seen <- info
				return h(srv, ss)
			}
			_, cc := startEchoGateway(t, path.opts, record)
			if err := cc.Invoke(context.Background(), "/test.Echo/Unary", wrapperspb.String("x"), new(wrapperspb.StringValue)); err != nil {
				t.Fatal(err)
			}
			info := <-seen
			wantStreams := path.opts == nil // without a contract the kind is unknown: a full-duplex stream
			if info.FullMethod != "/test.Echo/Unary" || info.IsClientStream != wantStreams || info.IsServerStream != wantStreams {
				t.Errorf("the chain saw %+v, want client and server streams %v", info, wantStreams)
			}
		})
	}
}

func TestProxyStatusWithDetails(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	eachForwardPath(t, func(t *testing.T, _ *gatewaytest.Echo, cc *grpc.ClientConn) { testProxyStatusWithDetails(t, cc) })
}

func testProxyStatusWithDetails(t *testing.T, cc *grpc.ClientConn) {

	for _, noHeader := range []bool{false, true} {
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-echo", "v")
		if noHeader {
			ctx = metadata.AppendToOutgoingContext(ctx, "x-no-header", "1")
		}
		var header, trailer metadata.MD
		err := cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("fail:9"), new(wrapperspb.StringValue), grpc.Header(&header), grpc.Trailer(&trailer))
		st := status.Convert(err)
		if st.Code() != codes.FailedPrecondition || st.Message() != "scripted failure" {
			t.Fatalf("noHeader=%v: status = %v, want FAILED_PRECONDITION scripted failure", noHeader, st)
		}
		if len(st.Details()) != 1 {
			t.Fatalf("noHeader=%v: details = %v, want one ErrorInfo", noHeader, st.Details())
		}
		if info, ok := st.Details()[0].(*errdetails.ErrorInfo); !ok || info.GetReason() != "SCRIPTED" {
			t.Errorf("noHeader=%v: detail = %v, want ErrorInfo SCRIPTED", noHeader, st.Details()[0])
		}
		if got := trailer.Get("x-echo-t"); len(got) != 1 {
			t.Errorf("noHeader=%v: trailer = %v, want x-echo-t", noHeader, trailer)
		}
		wantHeader := !noHeader
		if got := len(header.Get("x-echo")) == 1; got != wantHeader {
			t.Errorf("noHeader=%v: header = %v, header forwarded = %v, want %v", noHeader, header, got, wantHeader)
		}
	}
}

func TestProxyStreamKinds(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	up := gatewaytest.StartEcho(t)
	gw := gatewaytest.StartGateway(t, gatewaytest.Route(up.Addr, "test.Echo"))
	cc := gatewaytest.Dial(t, gw.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	t.Run("server streaming", func(t *testing.T) {
		s, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/test.Echo/ServerStream")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SendMsg(wrapperspb.String("count:1000")); err != nil {
			t.Fatal(err)
		}
		if err := s.CloseSend(); err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			m := new(wrapperspb.StringValue)
			err := s.RecvMsg(m)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("after %d messages: %v", n, err)
			}
			n++
		}
		if n != 1000 {
			t.Errorf("got %d messages, want 1000", n)
		}
	})

	t.Run("client streaming", func(t *testing.T) {
		s, err := cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, "/test.Echo/ClientStream")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range []string{"a", "b", "c"} {
			if err := s.SendMsg(wrapperspb.String(v)); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CloseSend(); err != nil {
			t.Fatal(err)
		}
		m := new(wrapperspb.StringValue)
		if err := s.RecvMsg(m); err != nil {
			t.Fatal(err)
		}
		if m.GetValue() != "a,b,c" {
			t.Errorf("got %q, want a,b,c", m.GetValue())
		}
	})

	t.Run("bidi ping-pong", func(t *testing.T) {
		s, err := cc.NewStream(ctx, anyStream, "/test.Echo/Bidi")
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range []string{"one", "two", "three"} {
			if err := s.SendMsg(wrapperspb.String(v)); err != nil {
				t.Fatal(err)
			}
			m := new(wrapperspb.StringValue)
			if err := s.RecvMsg(m); err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if m.GetValue() != v {
				t.Errorf("message %d = %q, want %q", i, m.GetValue(), v)
			}
		}
		if err := s.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if err := s.RecvMsg(new(wrapperspb.StringValue)); !errors.Is(err, io.EOF) {
			t.Errorf("end of stream = %v, want EOF", err)
		}
	})
}

// The upstream fails a full-duplex stream while the client is still
// sending: the client gets the upstream's own status, not a proxy error.
func TestProxyBidiUpstreamFailsWhileClientSends(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	up := gatewaytest.StartEcho(t)
	gw := gatewaytest.StartGateway(t, gatewaytest.Route(up.Addr, "test.Echo"))
	cc := gatewaytest.Dial(t, gw.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	s, err := cc.NewStream(ctx, anyStream, "/test.Echo/Bidi")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(wrapperspb.String("first")); err != nil {
		t.Fatal(err)
	}
	if err := s.RecvMsg(new(wrapperspb.StringValue)); err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(wrapperspb.String("fail:10")); err != nil {
		t.Fatal(err)
	}
	// Keep sending: the proxy must not turn the upstream's end into an
	// error of its own.
	sendErr := make(chan error, 1)
	go func() {
		for {
			if err := s.SendMsg(wrapperspb.String(strings.Repeat("x", 1024))); err != nil {
				sendErr <- err
				return
			}
		}
	}()
	err = s.RecvMsg(new(wrapperspb.StringValue))
	st := status.Convert(err)
	if st.Code() != codes.Aborted || st.Message() != "scripted failure" || len(st.Details()) != 1 {
		t.Fatalf("status = %v (details %v), want ABORTED scripted failure with one detail", st, st.Details())
	}
	if err := <-sendErr; !errors.Is(err, io.EOF) {
		t.Errorf("send after the end = %v, want EOF", err)
	}
}

func TestProxyDeadlinePropagates(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	eachForwardPath(t, testProxyDeadlinePropagates)
}

func testProxyDeadlinePropagates(t *testing.T, up *gatewaytest.Echo, cc *grpc.ClientConn) {

	// The window is wide: on a loaded machine the call may take seconds
	// to reach the upstream.
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("x"), new(wrapperspb.StringValue)); err != nil {
		t.Fatal(err)
	}
	if d := up.Last().Deadline; d <= 30*time.Second || d > 60*time.Second {
		t.Errorf("upstream saw remaining deadline %v, want within (30s, 60s]", d)
	}

	// A deadline that expires while the upstream works ends the call with
	// DEADLINE_EXCEEDED, and the upstream call is cancelled too.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	err := cc.Invoke(ctx2, "/test.Echo/Unary", wrapperspb.String("sleep:5s"), new(wrapperspb.StringValue))
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("status = %v, want DEADLINE_EXCEEDED", err)
	}
	waitFor(t, func() bool { return len(up.Ended()) == 2 && up.Ended()[1] != nil })
}

func TestProxyClientCancelCancelsUpstream(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	up := gatewaytest.StartEcho(t)
	logged := make(chan codes.Code, 1)
	record := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		err := h(srv, ss)
		logged <- status.Code(err)
		return err
	}
	gw := gatewaytest.StartGateway(t, gatewaytest.Route(up.Addr, "test.Echo"), record)
	cc := gatewaytest.Dial(t, gw.Addr)

	ctx, cancel := context.WithCancel(context.Background())
	s, err := cc.NewStream(ctx, anyStream, "/test.Echo/Bidi")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(wrapperspb.String("a")); err != nil {
		t.Fatal(err)
	}
	if err := s.RecvMsg(new(wrapperspb.StringValue)); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := s.RecvMsg(new(wrapperspb.StringValue)); status.Code(err) != codes.Canceled {
		t.Fatalf("client sees %v, want CANCELED", err)
	}
	waitFor(t, func() bool { errs := up.Ended(); return len(errs) == 1 && errors.Is(errs[0], context.Canceled) })
	if got := <-logged; got != codes.Canceled {
		t.Errorf("the chain saw %v, want CANCELED", got)
	}
}

func TestProxyRouting(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	up := gatewaytest.StartEcho(t)
	gw := gatewaytest.StartGateway(t, []upstream.Spec{
		{Target: up.Addr, Methods: []string{"test.Echo"}},
		{Target: "127.0.0.1:1", Methods: []string{"test.Nowhere*"}}, // nothing listens there
	})
	cc := gatewaytest.Dial(t, gw.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	err := cc.Invoke(ctx, "/other.Service/Method", wrapperspb.String("x"), new(wrapperspb.StringValue))
	if st := status.Convert(err); st.Code() != codes.Unimplemented || !strings.Contains(st.Message(), "/other.Service/Method") {
		t.Errorf("unrouted method: %v, want UNIMPLEMENTED naming it", err)
	}
	// "test.Echo" matches test.Echo's methods but not test.EchoOther's.
	err = cc.Invoke(ctx, "/test.EchoOther/Unary", wrapperspb.String("x"), new(wrapperspb.StringValue))
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("test.EchoOther: %v, want UNIMPLEMENTED", err)
	}
	err = cc.Invoke(ctx, "/test.NowhereService/M", wrapperspb.String("x"), new(wrapperspb.StringValue))
	if status.Code(err) != codes.Unavailable {
		t.Errorf("unreachable upstream: %v, want UNAVAILABLE", err)
	}
}

// Non-canonical method paths are refused before any interceptor sees them.
func TestNonCanonicalPathsRefused(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	up := gatewaytest.StartEcho(t)
	var mu sync.Mutex
	var seen []string
	record := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		mu.Lock()
		seen = append(seen, info.FullMethod)
		mu.Unlock()
		return h(srv, ss)
	}
	gw := gatewaytest.StartGateway(t, gatewaytest.Route(up.Addr, "*"), record)
	cc := gatewaytest.Dial(t, gw.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, path := range []string{"test.Echo/Unary", "//test.Echo/Unary", "/", "", "/test.Echo/", "/test.Echo//Unary", "/test.Echo/Unary/x"} {
		err := cc.Invoke(ctx, path, wrapperspb.String("x"), new(wrapperspb.StringValue))
		if status.Code(err) != codes.Unimplemented {
			t.Errorf("path %q: %v, want UNIMPLEMENTED", path, err)
		}
	}
	// Adapted calls, and native gRPC served through grpc.Server.ServeHTTP,
	// pass no tap handle: the dispatcher's own check must refuse them.
	for _, path := range []string{"test.Echo/Unary", "//test.Echo/Unary", "/test.Echo/Unary/x"} {
		err := gw.Dispatcher.Dispatch(contextStream{ctx: ctx}, path, false, false)
		if status.Code(err) != codes.Unimplemented {
			t.Errorf("dispatched path %q: %v, want UNIMPLEMENTED", path, err)
		}
	}
	mu.Lock()
	if len(seen) != 0 {
		t.Errorf("interceptors saw %q, want nothing", seen)
	}
	mu.Unlock()
	if err := cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("x"), new(wrapperspb.StringValue)); err != nil {
		t.Errorf("canonical path: %v", err)
	}
}

// contextStream is a grpc.ServerStream that has only a context: enough
// for a call refused before anything reads or writes it.
type contextStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s contextStream) Context() context.Context { return s.ctx }

// compressionStats records payload sizes on the client side.
type compressionStats struct {
	in []*stats.InPayload
}

func (c *compressionStats) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return ctx
}
func (c *compressionStats) HandleRPC(_ context.Context, s stats.RPCStats) {
	if p, ok := s.(*stats.InPayload); ok {
		c.in = append(c.in, p)
	}
}
func (c *compressionStats) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (c *compressionStats) HandleConn(context.Context, stats.ConnStats) {}

func TestProxyGzipBothWays(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	for _, path := range forwardPaths {
		t.Run(path.name, func(t *testing.T) { testProxyGzipBothWays(t, path.opts) })
	}
}

func testProxyGzipBothWays(t *testing.T, proxyOpts []server.ProxyOption) {
	up := gatewaytest.StartEcho(t)
	gw := gatewaytest.NewGatewayWithProxy(t, gatewaytest.Route(up.Addr, "test.Echo"), proxyOpts)
	gw.Start(t)
	st := &compressionStats{}
	cc := gatewaytest.Dial(t, gw.Addr, grpc.WithStatsHandler(st))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	payload := strings.Repeat("compressible ", 10000)
	out := new(wrapperspb.StringValue)
	if err := cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String(payload), out, grpc.UseCompressor(gzip.Name)); err != nil {
		t.Fatal(err)
	}
	if out.GetValue() != payload {
		t.Fatalf("payload changed across the proxy (%d bytes back, want %d)", len(out.GetValue()), len(payload))
	}
	if len(st.in) != 1 {
		t.Fatalf("got %d responses, want 1", len(st.in))
	}
	if p := st.in[0]; p.CompressedLength >= p.Length {
		t.Errorf("response not compressed: %d bytes on the wire for %d", p.CompressedLength, p.Length)
	}
}

// A panic in an interceptor or in the proxy's request pump fails that call
// with INTERNAL; the gateway lives on and the next call succeeds.
func TestPanicsBecomeInternal(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	up := gatewaytest.StartEcho(t)
	chain := []grpc.StreamServerInterceptor{
		recovery.StreamServerInterceptor(),
		func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			md, _ := metadata.FromIncomingContext(ss.Context())
			switch first(md.Get("x-panic")) {
			case "interceptor":
				panic("boom in interceptor")
			case "pump":
				return h(srv, &panickyStream{ServerStream: ss})
			}
			return h(srv, ss)
		},
	}
	gw := gatewaytest.StartGateway(t, gatewaytest.Route(up.Addr, "test.Echo"), chain...)
	cc := gatewaytest.Dial(t, gw.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	for _, where := range []string{"interceptor", "pump"} {
		pctx := metadata.AppendToOutgoingContext(ctx, "x-panic", where)
		err := cc.Invoke(pctx, "/test.Echo/Unary", wrapperspb.String("x"), new(wrapperspb.StringValue))
		if st := status.Convert(err); st.Code() != codes.Internal || strings.Contains(st.Message(), "boom") {
			t.Errorf("panic in %s: %v, want INTERNAL without the panic value", where, err)
		}
		out := new(wrapperspb.StringValue)
		if err := cc.Invoke(ctx, "/test.Echo/Unary", wrapperspb.String("after"), out); err != nil || out.GetValue() != "after" {
			t.Errorf("call after panic in %s: %v %q", where, err, out.GetValue())
		}
	}
}

type panickyStream struct{ grpc.ServerStream }

func (p *panickyStream) RecvMsg(any) error { panic("boom in pump") }

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// An upstream that stops reading a client stream cannot pin it: after the
// send-stall timeout the upstream call is cancelled and the client gets
// UNAVAILABLE.
func TestProxyUpstreamSendStall(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	up := gatewaytest.StartEcho(t)
	ups, err := upstream.NewPool(gatewaytest.Route(up.Addr, "test.Echo"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ups.Close() })
	d, err := server.NewDispatcher(server.NewProxy(ups, server.WithUpstreamSendStallTimeout(300*time.Millisecond)))
	if err != nil {
		t.Fatal(err)
	}
	gw, err := server.NewGateway(d)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
	})
	cc := gatewaytest.Dial(t, ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	s, err := cc.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, "/test.Echo/ClientStream")
	if err != nil {
		t.Fatal(err)
	}
	// The upstream reads this one and then sleeps without reading.
	if err := s.SendMsg(wrapperspb.String("sleep:15s")); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	big := wrapperspb.String(strings.Repeat("x", 64<<10))
	for s.SendMsg(big) == nil {
		if time.Since(start) > 60*time.Second {
			t.Fatal("the gateway kept taking data from a client whose upstream stopped reading")
		}
	}
	err = s.RecvMsg(new(wrapperspb.StringValue))
	if st := status.Convert(err); st.Code() != codes.Unavailable || !strings.Contains(st.Message(), "accepted no data") {
		t.Fatalf("stalled upstream: %v, want UNAVAILABLE saying the upstream stopped reading", err)
	}
	// A bound for failure only (the cut comes about 300ms after the
	// windows filled; filling them under -race on a loaded machine is slow).
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("cut after %v, want about the 300ms stall timeout after the windows filled", d)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ended := up.Ended(); len(ended) == 1 && ended[0] != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the upstream call was not cancelled: %v", up.Ended())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// A unary call with no request message, or more than one, breaks gRPC's
// cardinality: UNIMPLEMENTED, as grpc-go's own servers answer (and the
// conformance suite checks), whichever way the proxy forwards it.
func TestProxyUnaryCardinality(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	_, cc := startEchoGateway(t, forwardPaths[1].opts)
	desc := &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}
	for _, n := range []int{0, 2} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		cs, err := cc.NewStream(ctx, desc, "/test.Echo/Unary")
		if err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := cs.SendMsg(wrapperspb.String("x")); err != nil {
				t.Fatal(err)
			}
		}
		_ = cs.CloseSend()
		err = cs.RecvMsg(new(wrapperspb.StringValue))
		if status.Code(err) != codes.Unimplemented {
			t.Errorf("%d request messages: %v, want UNIMPLEMENTED", n, err)
		}
	}
}

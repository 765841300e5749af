package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	testgrpc "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// failAfter bounds every test: generous, for failure only.
const failAfter = 20 * time.Second

// testService is grpc-go's interop TestService with what the tests need:
// payloads of the sizes asked for, metadata echoed as headers and
// trailers, statuses on request, and a record of cancellations.
type testService struct {
	testgrpc.UnimplementedTestServiceServer
	sent      atomic.Int64  // StreamingOutputCall messages sent
	started   chan struct{} // FullDuplexCall started (buffered)
	cancelled chan struct{} // a FullDuplexCall saw its context end (buffered)
}

func newTestService() *testService {
	return &testService{started: make(chan struct{}, 16), cancelled: make(chan struct{}, 16)}
}

func payload(n int32) *testgrpc.Payload {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i * 7)
	}
	return &testgrpc.Payload{Body: b}
}

// echoMetadata sends the request's x-* metadata back as headers and, with
// a -trailer suffix, as trailers.
func echoMetadata(ctx context.Context, setHeader func(metadata.MD) error, setTrailer func(metadata.MD)) {
	in, _ := metadata.FromIncomingContext(ctx)
	h, t := metadata.MD{}, metadata.MD{}
	for k, v := range in {
		if len(k) > 2 && k[:2] == "x-" {
			h[k] = v
			t[k+"-trailer"] = v
			if len(k) > 4 && k[len(k)-4:] == "-bin" {
				t[k[:len(k)-4]+"-trailer-bin"] = v
				delete(t, k+"-trailer")
			}
		}
	}
	_ = setHeader(h)
	setTrailer(t)
}

func (s *testService) UnaryCall(ctx context.Context, req *testgrpc.SimpleRequest) (*testgrpc.SimpleResponse, error) {
	echoMetadata(ctx, func(md metadata.MD) error { return grpc.SetHeader(ctx, md) }, func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) })
	if st := req.GetResponseStatus(); st != nil && st.GetCode() != 0 {
		s := status.New(codes.Code(st.GetCode()), st.GetMessage())
		if codes.Code(st.GetCode()) == codes.ResourceExhausted {
			// A detail, so that grpc-status-details-bin is relayed.
			s, _ = s.WithDetails(durationpb.New(3 * time.Second))
		}
		return nil, s.Err()
	}
	return &testgrpc.SimpleResponse{Payload: &testgrpc.Payload{Body: append(payload(req.GetResponseSize()).Body, req.GetPayload().GetBody()...)}}, nil
}

func (s *testService) StreamingOutputCall(req *testgrpc.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testgrpc.StreamingOutputCallResponse]) error {
	for i, p := range req.GetResponseParameters() {
		body := payload(p.GetSize())
		if len(body.Body) >= 4 {
			body.Body[0], body.Body[1], body.Body[2], body.Body[3] = byte(i>>24), byte(i>>16), byte(i>>8), byte(i)
		}
		if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: body}); err != nil {
			return err
		}
		s.sent.Add(1)
	}
	return nil
}

func (s *testService) StreamingInputCall(stream grpc.ClientStreamingServer[testgrpc.StreamingInputCallRequest, testgrpc.StreamingInputCallResponse]) error {
	var n int32
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&testgrpc.StreamingInputCallResponse{AggregatedPayloadSize: n})
		}
		if err != nil {
			return err
		}
		n += int32(len(req.GetPayload().GetBody()))
	}
}

// FullDuplexCall answers each request with one response per parameter;
// it records its start and a context that ends before the client's half.
func (s *testService) FullDuplexCall(stream grpc.BidiStreamingServer[testgrpc.StreamingOutputCallRequest, testgrpc.StreamingOutputCallResponse]) error {
	s.started <- struct{}{}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if stream.Context().Err() != nil {
				s.cancelled <- struct{}{}
			}
			return err
		}
		for _, p := range req.GetResponseParameters() {
			if err := stream.Send(&testgrpc.StreamingOutputCallResponse{Payload: payload(p.GetSize())}); err != nil {
				return err
			}
		}
	}
}

// env is one test's upstream, relay and client.
type env struct {
	svc    *testService
	srv    *grpc.Server
	relay  *Relay
	client testgrpc.TestServiceClient
	up     string
}

func newEnv(t *testing.T, relayOpts []Option, srvOpts []grpc.ServerOption, dialOpts ...grpc.DialOption) *env {
	t.Helper()
	e := &env{svc: newTestService()}
	uln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e.up = uln.Addr().String()
	e.srv = grpc.NewServer(append([]grpc.ServerOption{grpc.MaxRecvMsgSize(16 << 20)}, srvOpts...)...)
	testgrpc.RegisterTestServiceServer(e.srv, e.svc)
	go func() { _ = e.srv.Serve(uln) }()
	t.Cleanup(e.srv.Stop)
	e.relay, e.client = startRelay(t, e.up, relayOpts, dialOpts...)
	return e
}

// startRelay runs a relay to upstream on a loopback listener and dials it.
func startRelay(t *testing.T, upstream string, relayOpts []Option, dialOpts ...grpc.DialOption) (*Relay, testgrpc.TestServiceClient) {
	t.Helper()
	r, err := NewRelay(upstream, relayOpts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- r.Serve(ln) }()
	t.Cleanup(func() {
		r.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	cc, err := grpc.NewClient(ln.Addr().String(), append([]grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20), grpc.MaxCallSendMsgSize(16<<20)),
	}, dialOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return r, testgrpc.NewTestServiceClient(cc)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), failAfter)
	t.Cleanup(cancel)
	return ctx
}

func TestUnaryMetadataAndTrailers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	ctx := testContext(t)
	bin := []byte{0, 1, 2, 0xff, 0xfe, '\n', ':'}
	// 40 KB of metadata: header blocks larger than a frame, so HEADERS and
	// CONTINUATION frames both ways.
	big := make([]byte, 40000)
	for i := range big {
		big[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i*7%36]
	}
	ctx = metadata.AppendToOutgoingContext(ctx, "x-text", "hello, world", "x-data-bin", string(bin), "x-multi", "a", "x-multi", "b", "x-big", string(big))
	var header, trailer metadata.MD
	resp, err := e.client.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: 300, Payload: payload(100)}, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatalf("UnaryCall: %v", err)
	}
	want := append(payload(300).Body, payload(100).Body...)
	if !bytes.Equal(resp.GetPayload().GetBody(), want) {
		t.Errorf("payload: got %d bytes, want %d", len(resp.GetPayload().GetBody()), len(want))
	}
	for _, c := range []struct {
		md   metadata.MD
		key  string
		want []string
	}{
		{header, "x-text", []string{"hello, world"}},
		{header, "x-data-bin", []string{string(bin)}},
		{header, "x-multi", []string{"a", "b"}},
		{header, "x-big", []string{string(big)}},
		{trailer, "x-big-trailer", []string{string(big)}},
		{trailer, "x-text-trailer", []string{"hello, world"}},
		{trailer, "x-data-trailer-bin", []string{string(bin)}},
		{trailer, "x-multi-trailer", []string{"a", "b"}},
	} {
		if got := c.md.Get(c.key); !equalStrings(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.key, got, c.want)
		}
	}
}

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStatusCodesAndDetails(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	for _, code := range []codes.Code{codes.InvalidArgument, codes.NotFound, codes.PermissionDenied, codes.ResourceExhausted, codes.Internal, codes.Unavailable, codes.Unauthenticated} {
		t.Run(code.String(), func(t *testing.T) {
			t.Parallel()
			msg := "failed: " + code.String() + " 100% ünïcode\n"
			ctx := metadata.AppendToOutgoingContext(testContext(t), "x-code", code.String())
			var trailer metadata.MD
			_, err := e.client.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseStatus: &testgrpc.EchoStatus{Code: int32(code), Message: msg}}, grpc.Trailer(&trailer))
			st := status.Convert(err)
			if st.Code() != code || st.Message() != msg {
				t.Fatalf("got %v %q, want %v %q", st.Code(), st.Message(), code, msg)
			}
			if got := trailer.Get("x-code-trailer"); !equalStrings(got, []string{code.String()}) {
				t.Errorf("trailer x-code-trailer: got %q", got)
			}
			if code == codes.ResourceExhausted {
				if len(st.Details()) != 1 || !proto.Equal(st.Details()[0].(proto.Message), durationpb.New(3*time.Second)) {
					t.Errorf("details (grpc-status-details-bin): got %v", st.Details())
				}
			}
		})
	}
}

func TestServerStream10k(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	params := make([]*testgrpc.ResponseParameters, 10000)
	for i := range params {
		params[i] = &testgrpc.ResponseParameters{Size: 16}
	}
	stream, err := e.client.StreamingOutputCall(testContext(t), &testgrpc.StreamingOutputCallRequest{ResponseParameters: params})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d messages: %v", n, err)
		}
		if b := m.GetPayload().GetBody(); len(b) != 16 || int(b[0])<<24|int(b[1])<<16|int(b[2])<<8|int(b[3]) != n {
			t.Fatalf("message %d out of order or wrong: % x", n, b)
		}
		n++
	}
	if n != 10000 {
		t.Fatalf("got %d messages, want 10000", n)
	}
}

func TestClientStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	stream, err := e.client.StreamingInputCall(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	var want int32
	for i := range 2000 {
		size := int32(1 + i%1000)
		want += size
		if err := stream.Send(&testgrpc.StreamingInputCallRequest{Payload: payload(size)}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetAggregatedPayloadSize() != want {
		t.Fatalf("aggregated %d bytes, want %d", resp.GetAggregatedPayloadSize(), want)
	}
}

func TestBidiPingPong(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	stream, err := e.client.FullDuplexCall(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		size := int32(i % 300)
		if err := stream.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: size}}}); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("recv %d: %v", i, err)
		}
		if len(m.GetPayload().GetBody()) != int(size) {
			t.Fatalf("recv %d: %d bytes, want %d", i, len(m.GetPayload().GetBody()), size)
		}
	}
	if err := stream.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("end: got %v, want EOF", err)
	}
}

// TestLargeMessages sends messages larger than every window on the path,
// with the relay's default windows and with the smallest it allows, so
// DATA waits on the relay for WINDOW_UPDATEs both ways.
func TestLargeMessages(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		opts []Option
	}{
		{"default windows", nil},
		{"64KiB windows", []Option{WithStreamWindow(initialWindow), WithConnWindow(initialWindow)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, c.opts, nil)
			for _, size := range []int32{64 << 10, 4 << 20} {
				ctx := testContext(t)
				resp, err := e.client.UnaryCall(ctx, &testgrpc.SimpleRequest{ResponseSize: size, Payload: payload(size)})
				if err != nil {
					t.Fatalf("%d bytes: %v", size, err)
				}
				want := append(payload(size).Body, payload(size).Body...)
				if !bytes.Equal(resp.GetPayload().GetBody(), want) {
					t.Fatalf("%d bytes: response differs", size)
				}
				// Both directions of a stream at once, concurrently with others.
				stream, err := e.client.FullDuplexCall(ctx)
				if err != nil {
					t.Fatal(err)
				}
				for range 3 {
					if err := stream.Send(&testgrpc.StreamingOutputCallRequest{Payload: payload(size), ResponseParameters: []*testgrpc.ResponseParameters{{Size: size}}}); err != nil {
						t.Fatal(err)
					}
				}
				_ = stream.CloseSend()
				for i := range 3 {
					m, err := stream.Recv()
					if err != nil {
						t.Fatalf("%d bytes, message %d: %v", size, i, err)
					}
					if !bytes.Equal(m.GetPayload().GetBody(), payload(size).Body) {
						t.Fatalf("%d bytes, message %d differs", size, i)
					}
				}
				if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
					t.Fatalf("end: %v", err)
				}
			}
			if q := e.relay.stats.queued.Load(); q != 0 {
				t.Errorf("%d bytes still queued after every call ended", q)
			}
		})
	}
}

// TestSlowReaderBounded: a client that stops reading a large server
// stream. The relay holds at most the windows it advertised (the
// upstream's sends stop), and the stream completes once the client reads.
func TestSlowReaderBounded(t *testing.T) {
	t.Parallel()
	const (
		streamWindow = 256 << 10
		connWindow   = 512 << 10
		msgSize      = 32 << 10
		messages     = 1024 // 32 MiB, far more than every window on the path
	)
	e := newEnv(t, []Option{WithStreamWindow(streamWindow), WithConnWindow(connWindow)}, nil,
		grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	params := make([]*testgrpc.ResponseParameters, messages)
	for i := range params {
		params[i] = &testgrpc.ResponseParameters{Size: msgSize}
	}
	ctx := testContext(t)
	stream, err := e.client.StreamingOutputCall(ctx, &testgrpc.StreamingOutputCallRequest{ResponseParameters: params})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	// The client reads no more: the relay's queue for the stream fills to
	// the window it gave the upstream.
	for e.relay.stats.peakStreamQueue.Load() < streamWindow/2 {
		if ctx.Err() != nil {
			t.Fatalf("the relay never queued: peak %d bytes", e.relay.stats.peakStreamQueue.Load())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// What the upstream sent is bounded by the windows on the path
	// (client 64 KiB, relay 256 KiB, grpc-go's own buffers), far below the
	// stream: checked several times while nobody reads.
	for range 20 {
		if sent := e.svc.sent.Load() * msgSize; sent > 4<<20 {
			t.Fatalf("the upstream sent %d bytes to a client that read one message", sent)
		}
		time.Sleep(5 * time.Millisecond)
	}
	n := 1
	for {
		_, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d messages: %v", n, err)
		}
		n++
	}
	if n != messages {
		t.Fatalf("got %d messages, want %d", n, messages)
	}
	if p := e.relay.stats.peakStreamQueue.Load(); p > streamWindow {
		t.Errorf("one stream queued %d bytes, more than the %d-byte window the relay advertised", p, streamWindow)
	}
	if p := e.relay.stats.peakConnQueue.Load(); p > connWindow {
		t.Errorf("one connection queued %d bytes, more than the %d-byte window the relay advertised", p, connWindow)
	}
	if q := e.relay.stats.queued.Load(); q != 0 {
		t.Errorf("%d bytes still queued after the stream ended", q)
	}
}

func TestClientCancelReachesUpstream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	ctx, cancel := context.WithCancel(testContext(t))
	stream, err := e.client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&testgrpc.StreamingOutputCallRequest{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-e.svc.started:
	case <-time.After(failAfter):
		t.Fatal("the call never reached the upstream")
	}
	cancel()
	select {
	case <-e.svc.cancelled:
	case <-time.After(failAfter):
		t.Fatal("the upstream never saw the cancellation")
	}
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Fatalf("client: got %v, want Canceled", err)
	}
}

func TestUpstreamDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	_, client := startRelay(t, addr, nil)
	_, err = client.UnaryCall(testContext(t), &testgrpc.SimpleRequest{})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("got %v, want Unavailable", err)
	}
}

func TestUpstreamGoneMidCall(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, nil)
	ctx := testContext(t)
	stream, err := e.client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 10}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	e.srv.Stop() // closes the upstream's connections under the open stream
	if _, err := stream.Recv(); status.Code(err) != codes.Unavailable {
		t.Fatalf("got %v, want Unavailable", err)
	}
	// New calls fail fast too (the pool's dial is refused).
	if _, err := e.client.UnaryCall(ctx, &testgrpc.SimpleRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("new call: got %v, want Unavailable", err)
	}
}

// TestUpstreamStreamLimit: with the upstream's SETTINGS_MAX_CONCURRENT_STREAMS
// used up on the only connection, a new stream is refused (the client
// sees UNAVAILABLE after its transparent retry), not queued or hung.
func TestUpstreamStreamLimit(t *testing.T) {
	t.Parallel()
	e := newEnv(t, nil, []grpc.ServerOption{grpc.MaxConcurrentStreams(1)})
	ctx := testContext(t)
	stream, err := e.client.FullDuplexCall(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&testgrpc.StreamingOutputCallRequest{ResponseParameters: []*testgrpc.ResponseParameters{{Size: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.UnaryCall(ctx, &testgrpc.SimpleRequest{}); status.Code(err) != codes.Unavailable {
		t.Fatalf("second stream: got %v, want Unavailable", err)
	}
	_ = stream.CloseSend()
	if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("first stream: %v", err)
	}
	if _, err := e.client.UnaryCall(ctx, &testgrpc.SimpleRequest{}); err != nil {
		t.Fatalf("after the first stream ended: %v", err)
	}
}

package flow_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/frame"
	"github.com/sluice-dev/sluice/interceptors/flow"
)

// fakeStream receives frames of a fixed size and sends into a channel
// (nil: sends block until the context ends).
type fakeStream struct {
	grpc.ServerStream
	ctx     context.Context
	recvLen int
	sent    chan *frame.Frame
}

func (s *fakeStream) Context() context.Context { return s.ctx }

func (s *fakeStream) RecvMsg(m any) error {
	m.(*frame.Frame).SetBytes(make([]byte, s.recvLen))
	return nil
}

func (s *fakeStream) SendMsg(m any) error {
	if s.sent == nil {
		<-s.ctx.Done()
		return s.ctx.Err()
	}
	s.sent <- m.(*frame.Frame)
	return nil
}

// run calls the interceptor of c for a unary call of method with body as
// the handler.
func run(t *testing.T, c *flow.Controller, ss grpc.ServerStream, method string, body func(grpc.ServerStream) error) error {
	t.Helper()
	return runInfo(t, c, ss, &grpc.StreamServerInfo{FullMethod: method}, body)
}

// runInfo calls the interceptor of c for the call info describes.
func runInfo(t *testing.T, c *flow.Controller, ss grpc.ServerStream, info *grpc.StreamServerInfo, body func(grpc.ServerStream) error) error {
	t.Helper()
	return c.StreamServerInterceptor()(nil, ss, info, func(_ any, s grpc.ServerStream) error {
		return body(s)
	})
}

func TestMessageSizeLimits(t *testing.T) {
	t.Parallel()
	c, err := flow.New(
		flow.WithRule(flow.Rule{Methods: []string{"a.v1"}, MaxRecvMsgSize: 100, MaxSendMsgSize: 50}),
		flow.WithRule(flow.Rule{Methods: []string{"a.v1.S.Big"}, MaxRecvMsgSize: 1000}),
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method     string
		recvLen, sendLen int
		wantRecv         codes.Code
		wantSend         codes.Code
	}{
		{"within", "/a.v1.S/M", 100, 50, codes.OK, codes.OK},
		{"recv too big", "/a.v1.S/M", 101, 0, codes.ResourceExhausted, codes.OK},
		{"send too big", "/a.v1.S/M", 0, 51, codes.OK, codes.ResourceExhausted},
		{"more specific rule", "/a.v1.S/Big", 1000, 5000, codes.OK, codes.OK},
		{"no rule", "/b.S/M", 1 << 20, 1 << 20, codes.OK, codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ss := &fakeStream{ctx: context.Background(), recvLen: tt.recvLen, sent: make(chan *frame.Frame, 1)}
			_ = run(t, c, ss, tt.method, func(s grpc.ServerStream) error {
				f := new(frame.Frame)
				err := s.RecvMsg(f)
				if status.Code(err) != tt.wantRecv {
					t.Errorf("RecvMsg of %d bytes: %v, want %v", tt.recvLen, err, tt.wantRecv)
				}
				if err != nil && f.Len() != 0 {
					t.Error("refused frame was not released")
				}
				err = s.SendMsg(frame.FromBytes(make([]byte, tt.sendLen)))
				if status.Code(err) != tt.wantSend {
					t.Errorf("SendMsg of %d bytes: %v, want %v", tt.sendLen, err, tt.wantSend)
				}
				return nil
			})
		})
	}
}

func TestPacing(t *testing.T) {
	t.Parallel()
	const rate, msgs = 100.0, 11 // 10 intervals of 10ms after the first
	tests := []struct {
		name    string
		rule    flow.Rule
		streams int // run concurrently, sharing the key
		minimum time.Duration
	}{
		{"per stream", flow.Rule{Methods: []string{"*"}, MessagesPerSecond: rate}, 1, 100 * time.Millisecond},
		{"per key shared by two streams", flow.Rule{Methods: []string{"*"}, MessagesPerSecondPerKey: rate}, 2, 210 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := flow.New(flow.WithRule(tt.rule), flow.WithKey(func(ctx context.Context, _ string) (string, bool) {
				return "k", true
			}))
			if err != nil {
				t.Fatal(err)
			}
			begin := time.Now()
			done := make(chan struct{}, tt.streams)
			for range tt.streams {
				go func() {
					defer func() { done <- struct{}{} }()
					_ = run(t, c, &fakeStream{ctx: context.Background()}, "/a.S/M", func(s grpc.ServerStream) error {
						for range msgs {
							if err := s.RecvMsg(new(frame.Frame)); err != nil {
								t.Error(err)
							}
						}
						return nil
					})
				}()
			}
			for range tt.streams {
				<-done
			}
			if d := time.Since(begin); d < tt.minimum-5*time.Millisecond {
				t.Errorf("%d streams x %d messages at %v/s took %v, want at least %v", tt.streams, msgs, rate, d, tt.minimum)
			}
		})
	}
}

func TestPacingRespectsDeadline(t *testing.T) {
	t.Parallel()
	c, err := flow.New(flow.WithRule(flow.Rule{Methods: []string{"*"}, MessagesPerSecond: 1}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = run(t, c, &fakeStream{ctx: ctx}, "/a.S/M", func(s grpc.ServerStream) error {
		if err := s.RecvMsg(new(frame.Frame)); err != nil {
			return err
		}
		return s.RecvMsg(new(frame.Frame)) // allowed only in 1s
	})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("second message: %v, want DEADLINE_EXCEEDED at once", err)
	}
}

func TestSendStall(t *testing.T) {
	t.Parallel()
	c, err := flow.New(flow.WithSendStallTimeout(50 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	// The fake transport blocks a send until its stream ends, as grpc-go
	// does for a client that reads nothing.
	ctx, cancel := context.WithCancel(metadata.NewIncomingContext(context.Background(), nil))
	defer cancel()
	begin := time.Now()
	callCtx := make(chan context.Context, 1)
	sent := make(chan error, 1)
	info := &grpc.StreamServerInfo{FullMethod: "/a.S/M", IsServerStream: true}
	err = runInfo(t, c, &fakeStream{ctx: ctx}, info, func(s grpc.ServerStream) error {
		callCtx <- s.Context()
		err := s.SendMsg(frame.FromBytes([]byte("hello")))
		sent <- err
		return err
	})
	if st := status.Convert(err); st.Code() != codes.DeadlineExceeded || !strings.Contains(st.Message(), "send stalled") {
		t.Fatalf("stalled send: %v, want DEADLINE_EXCEEDED send stalled", err)
	}
	if d := time.Since(begin); d < 50*time.Millisecond {
		t.Errorf("cut after %v, before the 50ms timeout", d)
	}
	// The call's context, as the chain below saw it (the proxy derives the
	// upstream call from it), is cancelled with the stall.
	if hctx := <-callCtx; hctx.Err() == nil {
		t.Error("the call's context is still live after the stall")
	}
	select {
	case err := <-sent:
		t.Fatalf("the blocked send returned (%v) before the transport ended the stream", err)
	default:
	}
	cancel() // the transport finishes the stream once the interceptors have returned
	select {
	case err := <-sent:
		if status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("the released send returned %v, want DEADLINE_EXCEEDED", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the blocked send was not released when the stream ended")
	}
}

// A send that keeps up is never cut, however long the stream lasts.
func TestSteadySendsNotCut(t *testing.T) {
	t.Parallel()
	// Each send waits about 10ms for the reader; the stall timeout is a
	// hundred times that, so only a real stall (not a loaded machine's
	// scheduling) could cut the stream.
	c, err := flow.New(flow.WithSendStallTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	fs := &fakeStream{ctx: context.Background(), sent: make(chan *frame.Frame, 1)}
	go func() {
		for f := range fs.sent {
			f.Free()
			time.Sleep(10 * time.Millisecond) // a slow but steady reader
		}
	}()
	info := &grpc.StreamServerInfo{FullMethod: "/a.S/M", IsServerStream: true}
	err = runInfo(t, c, fs, info, func(s grpc.ServerStream) error {
		for range 200 { // 2s in all, twice the stall timeout
			if err := s.SendMsg(frame.FromBytes([]byte("x"))); err != nil {
				return err
			}
		}
		return nil
	})
	close(fs.sent)
	if err != nil {
		t.Fatalf("steady stream: %v", err)
	}
}

// A panic in the chain below, which runs on a goroutine of its own for a
// watched stream, reaches the interceptor's caller (the recovery
// interceptor) with the stack where it happened.
func TestWatchedStreamPanicPropagates(t *testing.T) {
	t.Parallel()
	c, err := flow.New(flow.WithSendStallTimeout(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	info := &grpc.StreamServerInfo{FullMethod: "/a.S/M", IsServerStream: true}
	defer func() {
		p := recover()
		if p == nil {
			t.Fatal("the panic was lost")
		}
		if msg := fmt.Sprint(p); !strings.Contains(msg, "boom") || !strings.Contains(msg, "flow_test.go") {
			t.Errorf("panic value %q, want the original value and its stack", msg)
		}
	}()
	_ = runInfo(t, c, &fakeStream{ctx: context.Background()}, info, func(grpc.ServerStream) error {
		panic("boom")
	})
}

// The one answer of a unary call is sent inline, unwatched: the transports
// take a call's first message without waiting for the peer, so watching it
// would only cost a goroutine. (The fake stream blocks anyway, to show the
// send is not cut.)
func TestUnaryFirstSendUnwatched(t *testing.T) {
	t.Parallel()
	c, err := flow.New(flow.WithSendStallTimeout(20 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	begin := time.Now() // before the timer is armed: it fires at least 150ms later
	release := time.AfterFunc(150*time.Millisecond, cancel)
	defer release.Stop()
	err = run(t, c, &fakeStream{ctx: ctx}, "/a.S/M", func(s grpc.ServerStream) error {
		return s.SendMsg(frame.FromBytes([]byte("answer")))
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first send: %v, want the stream's own end (context canceled), not a stall", err)
	}
	if d := time.Since(begin); d < 150*time.Millisecond {
		t.Errorf("first send returned after %v, before the stream ended", d)
	}
}

func TestNewRejectsBadSettings(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []flow.Option
		want string
	}{
		{"negative stall", []flow.Option{flow.WithSendStallTimeout(-1)}, "negative"},
		{"negative size", []flow.Option{flow.WithRule(flow.Rule{Methods: []string{"*"}, MaxRecvMsgSize: -1})}, "negative"},
		{"per key without key", []flow.Option{flow.WithRule(flow.Rule{Methods: []string{"*"}, MessagesPerSecondPerKey: 1})}, "needs a key"},
		{"no methods", []flow.Option{flow.WithRule(flow.Rule{MessagesPerSecond: 1})}, "no method pattern"},
		{"twice", []flow.Option{flow.WithRule(flow.Rule{Methods: []string{"a"}}), flow.WithRule(flow.Rule{Methods: []string{"a"}})}, "given twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := flow.New(tt.opts...); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

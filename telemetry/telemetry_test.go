package telemetry_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/telemetry"
)

// captured is what an observer after telemetry.StreamServerInterceptor
// saw of each call once the rest of the chain returned.
type captured struct {
	mu    sync.Mutex
	calls []*telemetry.Call
	md    []metadata.MD // the incoming metadata the handler saw
}

func (c *captured) observer(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	err := h(srv, ss)
	c.mu.Lock()
	c.calls = append(c.calls, telemetry.FromContext(ss.Context()))
	c.mu.Unlock()
	return err
}

func (c *captured) last(t *testing.T) (*telemetry.Call, metadata.MD) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.calls) == 0 {
		t.Fatal("no call observed")
	}
	return c.calls[len(c.calls)-1], c.md[len(c.md)-1]
}

// serve runs chain in front of an echoing handler, on loopback, with
// telemetry.StreamServerInterceptor first and the capturing observer
// second, and returns a client of it.
func serve(t *testing.T, chain ...grpc.StreamServerInterceptor) (*grpc.ClientConn, *captured) {
	t.Helper()
	c := &captured{}
	all := append([]grpc.StreamServerInterceptor{telemetry.StreamServerInterceptor(), c.observer}, chain...)
	handler := func(_ any, ss grpc.ServerStream) error {
		// What a proxy sends upstream: the incoming metadata with the
		// call's outgoing metadata (what the chain added) over it.
		md, _ := metadata.FromIncomingContext(ss.Context())
		if added, ok := metadata.FromOutgoingContext(ss.Context()); ok {
			if md == nil {
				md = metadata.MD{}
			}
			for k, v := range added {
				md[k] = v
			}
		}
		c.mu.Lock()
		c.md = append(c.md, md)
		c.mu.Unlock()
		msg := new(wrapperspb.StringValue)
		if err := ss.RecvMsg(msg); err != nil {
			return err
		}
		if code, ok := strings.CutPrefix(msg.GetValue(), "fail:"); ok {
			return status.Error(codes.Code(code[0]-'0'), "failed")
		}
		return ss.SendMsg(msg)
	}
	addr := gatewaytest.StartUpstream(t, handler, grpc.ChainStreamInterceptor(all...))
	return gatewaytest.Dial(t, addr), c
}

// call makes one call of /test.Svc/Echo with msg and returns the
// response header and the call's final status.
func call(ctx context.Context, cc *grpc.ClientConn, msg string) (metadata.MD, error) {
	s, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, "/test.Svc/Echo")
	if err != nil {
		return nil, err
	}
	if err := s.SendMsg(wrapperspb.String(msg)); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if err := s.CloseSend(); err != nil {
		return nil, err
	}
	header, _ := s.Header()
	for {
		if err := s.RecvMsg(new(wrapperspb.StringValue)); err != nil {
			if errors.Is(err, io.EOF) {
				return header, nil
			}
			return header, err
		}
	}
}

func TestRequestID(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	cc, got := serve(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tests := []struct {
		name string
		sent []string
		keep bool
	}{
		{"none", nil, false},
		{"client's", []string{"abc-123"}, true},
		{"too long", []string{strings.Repeat("a", 129)}, false},
		{"space", []string{"a b"}, false},
		{"two", []string{"a", "b"}, false},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cctx := ctx
			for _, id := range tt.sent {
				cctx = metadata.AppendToOutgoingContext(cctx, "x-request-id", id)
			}
			header, err := call(cctx, cc, "hi")
			if err != nil {
				t.Fatal(err)
			}
			call, md := got.last(t)
			id := call.RequestID()
			if tt.keep && id != tt.sent[0] {
				t.Errorf("request id %q, want the client's %q", id, tt.sent[0])
			}
			if !tt.keep {
				if len(id) != 26 || seen[id] {
					t.Errorf("generated request id %q: want 26 characters, new each time", id)
				}
				seen[id] = true
			}
			if h := header.Get("x-request-id"); len(h) != 1 || h[0] != id {
				t.Errorf("response x-request-id %q, want [%q]", h, id)
			}
			if v := md.Get("x-request-id"); len(v) != 1 || v[0] != id {
				t.Errorf("x-request-id bound upstream %q, want [%q]", v, id)
			}
			if n, b := call.Received(); n != 1 || b != 4 {
				t.Errorf("received %d messages, %d bytes; want 1, 4", n, b)
			}
			if n, b := call.Sent(); n != 1 || b != 4 {
				t.Errorf("sent %d messages, %d bytes; want 1, 4", n, b)
			}
		})
	}
}

// refuse is a policy that ends every call with err, without calling the
// rest of the chain.
func refuse(err error) grpc.StreamServerInterceptor {
	return func(any, grpc.ServerStream, *grpc.StreamServerInfo, grpc.StreamHandler) error { return err }
}

// pass is a policy that passes every call through.
func pass(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, ss)
}

// replace is a policy that runs the call and then ends it with err
// (a deadline that expired under way).
func replace(err error) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		_ = h(srv, ss)
		return err
	}
}

func TestPoliciesRecordRefusals(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	exhausted := status.Error(codes.ResourceExhausted, "slow down")
	late := status.Error(codes.DeadlineExceeded, "too late")
	tests := []struct {
		name     string
		policies []telemetry.Policy
		msg      string
		code     codes.Code
		policy   string
		reason   string
		rlRan    bool
		rlRefuse bool
	}{
		{"all pass", []telemetry.Policy{{telemetry.PolicyAuthn, pass}, {telemetry.PolicyRateLimit, pass}}, "hi", codes.OK, "", "", true, false},
		{"upstream error is no refusal", []telemetry.Policy{{telemetry.PolicyAuthn, pass}, {telemetry.PolicyDeadline, pass}}, "fail:5", codes.NotFound, "", "", false, false},
		{"refused before the call", []telemetry.Policy{{telemetry.PolicyAuthn, pass}, {telemetry.PolicyRateLimit, refuse(exhausted)}, {telemetry.PolicyFlow, pass}}, "hi", codes.ResourceExhausted, telemetry.PolicyRateLimit, "resource_exhausted", true, true},
		{"first refuses", []telemetry.Policy{{telemetry.PolicyAuthn, refuse(status.Error(codes.Unauthenticated, "who?"))}, {telemetry.PolicyRateLimit, pass}}, "hi", codes.Unauthenticated, telemetry.PolicyAuthn, "unauthenticated", false, false},
		{"ended under way", []telemetry.Policy{{telemetry.PolicyAuthn, pass}, {telemetry.PolicyDeadline, replace(late)}, {telemetry.PolicyFlow, pass}}, "hi", codes.DeadlineExceeded, telemetry.PolicyDeadline, "deadline_exceeded", false, false},
		{"outermost replacement wins", []telemetry.Policy{{telemetry.PolicyDeadline, replace(late)}, {telemetry.PolicyConcurrency, refuse(exhausted)}}, "hi", codes.DeadlineExceeded, telemetry.PolicyDeadline, "deadline_exceeded", false, false},
		{"a plain error", []telemetry.Policy{{telemetry.PolicyAuthz, refuse(errors.New("boom"))}}, "hi", codes.Unknown, telemetry.PolicyAuthz, "unknown", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chain, err := telemetry.Policies(nil, tt.policies...)
			if err != nil {
				t.Fatal(err)
			}
			cc, got := serve(t, chain...)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err = call(ctx, cc, tt.msg)
			if status.Code(err) != tt.code {
				t.Fatalf("call: %v, want %v", err, tt.code)
			}
			got.mu.Lock()
			call := got.calls[len(got.calls)-1]
			got.mu.Unlock()
			if p, r := call.Refusal(); p != tt.policy || r != tt.reason {
				t.Errorf("refusal (%q, %q), want (%q, %q)", p, r, tt.policy, tt.reason)
			}
			if ran, refused := call.RateLimited(); ran != tt.rlRan || refused != tt.rlRefuse {
				t.Errorf("rate limited (%v, %v), want (%v, %v)", ran, refused, tt.rlRan, tt.rlRefuse)
			}
		})
	}
}

// The subject is recorded by the first policy after the one that
// authenticated, also when that policy then refuses the call.
func TestPoliciesRecordSubject(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	type key struct{}
	authn := func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return h(srv, &ctxStream{ServerStream: ss, ctx: context.WithValue(ss.Context(), key{}, "alice")})
	}
	subject := func(ctx context.Context) string { s, _ := ctx.Value(key{}).(string); return s }
	chain, err := telemetry.Policies(subject,
		telemetry.Policy{Name: telemetry.PolicyAuthn, Interceptor: authn},
		telemetry.Policy{Name: telemetry.PolicyAuthz, Interceptor: refuse(status.Error(codes.PermissionDenied, "no"))})
	if err != nil {
		t.Fatal(err)
	}
	cc, got := serve(t, chain...)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := call(ctx, cc, "hi"); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("call: %v", err)
	}
	got.mu.Lock()
	call := got.calls[len(got.calls)-1]
	got.mu.Unlock()
	if s := call.Subject(); s != "alice" {
		t.Errorf("subject %q, want alice", s)
	}
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }

// The policy wrappers add no allocation to a call.
func TestPoliciesAllocateNothing(t *testing.T) {
	chain, err := telemetry.Policies(nil,
		telemetry.Policy{Name: telemetry.PolicyAuthn, Interceptor: pass},
		telemetry.Policy{Name: telemetry.PolicyRateLimit, Interceptor: pass},
		telemetry.Policy{Name: telemetry.PolicyFlow, Interceptor: pass})
	if err != nil {
		t.Fatal(err)
	}
	ss := &ctxStream{ctx: telemetry.NewContext(context.Background(), &telemetry.Call{})}
	info := &grpc.StreamServerInfo{FullMethod: "/test.Svc/Echo"}
	final := func(any, grpc.ServerStream) error { return nil }
	handlers := make([]grpc.StreamHandler, len(chain)+1)
	handlers[len(chain)] = final
	for i := len(chain) - 1; i >= 0; i-- {
		next, in := handlers[i+1], chain[i]
		handlers[i] = func(srv any, s grpc.ServerStream) error { return in(srv, s, info, next) }
	}
	if n := testing.AllocsPerRun(100, func() { _ = handlers[0](nil, ss) }); n != 0 {
		t.Errorf("%v allocations per call, want 0", n)
	}
}

func TestPoliciesLimits(t *testing.T) {
	t.Parallel()
	if _, err := telemetry.Policies(nil, telemetry.Policy{Name: "x"}); err == nil {
		t.Error("a policy without an interceptor was accepted")
	}
	many := make([]telemetry.Policy, 9)
	for i := range many {
		many[i] = telemetry.Policy{Name: "p", Interceptor: pass}
	}
	if _, err := telemetry.Policies(nil, many...); err == nil {
		t.Error("9 policies were accepted")
	}
}

func TestReasonOf(t *testing.T) {
	t.Parallel()
	for c, want := range map[codes.Code]string{
		codes.ResourceExhausted: "resource_exhausted", codes.OK: "ok", codes.Unauthenticated: "unauthenticated",
		codes.DeadlineExceeded: "deadline_exceeded", codes.PermissionDenied: "permission_denied",
	} {
		if got := telemetry.ReasonOf(c); got != want {
			t.Errorf("ReasonOf(%v) = %q, want %q", c, got, want)
		}
	}
}

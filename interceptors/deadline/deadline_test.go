package deadline_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/interceptors/deadline"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// testConfig is in tens of seconds, so that a call may take seconds to
// reach the upstream on a loaded machine and still see the deadline the
// tests expect (with 200ms to 500ms of slack, some did not).
func testConfig() []deadline.Option {
	return []deadline.Option{
		deadline.WithLimits(deadline.Limits{Default: 20 * time.Second, Max: 50 * time.Second}),
		deadline.WithRules(
			deadline.Rule{Methods: []string{"test.Echo.Clamp"}, Limits: deadline.Limits{Default: 5 * time.Second, Max: 10 * time.Second}},
			deadline.Rule{Methods: []string{"test.Echo.Offset"}, Limits: deadline.Limits{Default: 20 * time.Second, Offset: 5 * time.Second}},
			deadline.Rule{Methods: []string{"test.Echo.Watch*"}},
			deadline.Rule{Methods: []string{"test.Echo.Slow"}, Limits: deadline.Limits{Default: 200 * time.Millisecond, Max: 200 * time.Millisecond}},
		),
	}
}

// startDeadlines runs an Echo upstream behind a gateway whose chain is
// the deadline interceptor of testConfig, and returns the interceptor's
// Deadlines, the upstream and a client of the gateway.
func startDeadlines(t *testing.T) (*deadline.Deadlines, *gatewaytest.Echo, *grpc.ClientConn) {
	t.Helper()
	d, err := deadline.New(testConfig()...)
	if err != nil {
		t.Fatal(err)
	}
	up := gatewaytest.StartEcho(t)
	gw := gatewaytest.StartGateway(t, gatewaytest.Route(up.Addr, "*"), d.StreamServerInterceptor())
	return d, up, gatewaytest.Dial(t, gw.Addr)
}

// TestDeadlines (acceptance 4): the upstream receives the deadline the
// configuration gives the call.
func TestDeadlines(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	_, up, cc := startDeadlines(t)
	cases := []struct {
		name     string
		method   string
		callerTO time.Duration // 0: none
		md       metadata.MD
		lo, hi   time.Duration // upstream's remaining deadline; hi < 0: none
	}{
		{name: "default applied", method: "/test.Echo/Get", lo: 15 * time.Second, hi: 20 * time.Second},
		{name: "caller's shorter deadline kept", method: "/test.Echo/Get", callerTO: 10 * time.Second, lo: 7 * time.Second, hi: 10 * time.Second},
		{name: "caller's longer deadline kept under max", method: "/test.Echo/Get", callerTO: 40 * time.Second, lo: 35 * time.Second, hi: 40 * time.Second},
		{name: "clamped to max", method: "/test.Echo/Get", callerTO: time.Hour, lo: 45 * time.Second, hi: 50 * time.Second},
		{name: "per-method default", method: "/test.Echo/Clamp", lo: 3 * time.Second, hi: 5 * time.Second},
		{name: "per-method clamp", method: "/test.Echo/Clamp", callerTO: 300 * time.Second, lo: 7 * time.Second, hi: 10 * time.Second},
		{name: "offset on the default", method: "/test.Echo/Offset", lo: 12 * time.Second, hi: 15 * time.Second},
		{name: "offset on the caller's deadline", method: "/test.Echo/Offset", callerTO: 10 * time.Second, lo: 3 * time.Second, hi: 5 * time.Second},
		{name: "no deadline for watches", method: "/test.Echo/WatchShelf", hi: -1},
		{name: "x-request-timeout metadata", method: "/test.Echo/Get", md: metadata.Pairs("x-request-timeout", "8S"), lo: 5 * time.Second, hi: 8 * time.Second},
		{name: "x-request-timeout clamped", method: "/test.Echo/Clamp", md: metadata.Pairs("x-request-timeout", "1H"), lo: 7 * time.Second, hi: 10 * time.Second},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Not parallel: each case reads the upstream's last call.
			ctx := context.Background()
			if c.callerTO > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, c.callerTO)
				defer cancel()
			}
			if c.md != nil {
				ctx = metadata.NewOutgoingContext(ctx, c.md)
			}
			if _, _, err := gatewaytest.Call(ctx, cc, c.method, "x"); err != nil {
				t.Fatal(err)
			}
			got := up.Last().Deadline
			if c.hi < 0 {
				if got != -1 {
					t.Fatalf("upstream deadline = %v, want none", got)
				}
				return
			}
			if got < c.lo || got > c.hi {
				t.Fatalf("upstream deadline = %v, want in [%v, %v]", got, c.lo, c.hi)
			}
		})
	}
}

// TestMalformedTimeouts: timeouts an adapter passes on as metadata are
// parsed strictly; bad ones are INVALID_ARGUMENT and reach no upstream.
func TestMalformedTimeouts(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	d, _, cc := startDeadlines(t)
	in := d.StreamServerInterceptor()
	for _, key := range []string{"grpc-timeout", "x-request-timeout"} {
		for _, c := range []struct {
			name string
			vals []string
		}{
			{"negative", []string{"-5S"}},
			{"nine digits", []string{"999999999H"}},
			{"unknown unit", []string{"1x"}},
			{"no unit", []string{"100"}},
			{"empty", []string{""}},
			{"space", []string{" 1S"}},
			{"plus", []string{"+1S"}},
			{"duplicated", []string{"1S", "2S"}},
		} {
			t.Run(key+"/"+c.name, func(t *testing.T) {
				t.Parallel()
				md := metadata.MD{key: c.vals}
				// As an adapter delivers it: straight into the chain.
				ss := &fakeStream{ctx: metadata.NewIncomingContext(context.Background(), md)}
				called := false
				err := in(nil, ss, &grpc.StreamServerInfo{FullMethod: "/test.Echo/Get"}, func(any, grpc.ServerStream) error {
					called = true
					return nil
				})
				if status.Code(err) != codes.InvalidArgument || called {
					t.Fatalf("got %v (handler called: %v), want InvalidArgument", err, called)
				}
				if key == "grpc-timeout" {
					return // grpc-go clients never send it as metadata
				}
				ctx := metadata.NewOutgoingContext(context.Background(), md)
				if _, _, err := gatewaytest.Call(ctx, cc, "/test.Echo/Get", "x"); status.Code(err) != codes.InvalidArgument {
					t.Fatalf("through the gateway: %v, want InvalidArgument", err)
				}
			})
		}
	}
}

// TestSlowUpstream: the upstream sees its context end, and the caller gets
// DEADLINE_EXCEEDED, soon after the deadline.
func TestSlowUpstream(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	_, up, cc := startDeadlines(t)
	ended := 0
	for _, c := range []struct {
		name   string
		method string
		offset bool
	}{
		{"max deadline", "/test.Echo/Slow", false},
		{"offset deadline", "/test.Echo/Offset", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The offset leaves 5s of the caller's 10s; the upstream
			// would sleep for a minute.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _, err := gatewaytest.Call(ctx, cc, c.method, "sleep:1m")
			if status.Code(err) != codes.DeadlineExceeded {
				t.Fatalf("got %v, want DeadlineExceeded", err)
			}
			if c.offset && ctx.Err() != nil {
				t.Fatal("the caller's own deadline ended the call; the offset should have answered first")
			}
			// The upstream saw its context end (the deadline reached it).
			waitUntil := time.Now().Add(20 * time.Second)
			for {
				n := 0
				for _, err := range up.Ended() {
					if err != nil {
						n++
					}
				}
				if n >= ended+1 {
					break
				}
				if time.Now().After(waitUntil) {
					t.Fatal("the upstream's context never ended")
				}
				time.Sleep(5 * time.Millisecond)
			}
			ended++
		})
	}
}

// TestOffsetLeavesNothing: a caller deadline shorter than the offset is
// refused at once rather than sent upstream with no time.
func TestOffsetLeavesNothing(t *testing.T) {
	t.Parallel()
	d, err := deadline.New(testConfig()...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err = d.StreamServerInterceptor()(nil, &fakeStream{ctx: ctx}, &grpc.StreamServerInfo{FullMethod: "/test.Echo/Offset"}, func(any, grpc.ServerStream) error {
		t.Error("handler called")
		return nil
	})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
}

type fakeStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *fakeStream) Context() context.Context { return s.ctx }

// TestNewRefuses: values that contradict each other are refused at
// construction, whoever builds the Deadlines.
func TestNewRefuses(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]deadline.Option{
		"negative":               {deadline.WithLimits(deadline.Limits{IdleTimeout: -time.Second})},
		"default beyond max":     {deadline.WithLimits(deadline.Limits{Default: 2 * time.Second, Max: time.Second})},
		"offset eats default":    {deadline.WithLimits(deadline.Limits{Default: time.Second, Offset: time.Second})},
		"offset eats rule max":   {deadline.WithRules(deadline.Rule{Methods: []string{"a"}, Limits: deadline.Limits{Max: time.Second, Offset: 2 * time.Second}})},
		"rule without pattern":   {deadline.WithRules(deadline.Rule{})},
		"pattern in two rules":   {deadline.WithRules(deadline.Rule{Methods: []string{"a"}}, deadline.Rule{Methods: []string{"a"}})},
		"pattern does not parse": {deadline.WithRules(deadline.Rule{Methods: []string{"a/b"}})},
	} {
		if _, err := deadline.New(opts...); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

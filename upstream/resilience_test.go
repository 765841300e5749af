package upstream_test

import (
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/telemetry"
	"github.com/sluice-dev/sluice/upstream"
	"github.com/sluice-dev/sluice/upstream/outlier"
)

func TestMain(m *testing.M) {
	// grpc-go's registry of load-balancing policies may only be written
	// before any connection exists.
	outlier.Register()
	os.Exit(m.Run())
}

// unaryMethods are the test upstreams' unary methods.
var unaryMethods = map[string]bool{"/test.Echo/Unary": true, idempotent: true, other: true}

// forwardPaths are the proxy's two ways of forwarding a unary call: as a
// stream (the gateway has no contract for the method) and through its
// unary path (a contract says the method is unary). Retries must work on
// both.
var forwardPaths = []struct {
	name string
	opts []server.ProxyOption
}{
	{"stream path", nil},
	{"unary path", []server.ProxyOption{server.WithMethodKinds(func(method string) (bool, bool, bool) {
		return false, false, unaryMethods[method]
	})}},
}

// Replica behaviours.
const (
	healthy     int32 = iota
	failing           // response header, then UNAVAILABLE in the trailers
	slow              // answers after a minute, unless the call ends first
	lateFailing       // reads every request message, then fails with UNAVAILABLE
)

// replica is one address of a multi-address upstream. Every method echoes
// the request, or fails, or is slow, as its mode says; it sends the
// header x-replica with its name first.
type replica struct {
	name   string
	addr   string
	mode   atomic.Int32
	health *health.Server

	mu     sync.Mutex
	starts []time.Time
	calls  map[string]int // per method
}

func startReplica(t *testing.T, name string) *replica {
	t.Helper()
	r := &replica{name: name, health: health.NewServer(), calls: map[string]int{}}
	srv := grpc.NewServer(grpc.UnknownServiceHandler(r.handle))
	healthpb.RegisterHealthServer(srv, r.health)
	r.addr = gatewaytest.Serve(t, srv)
	return r
}

func (r *replica) handle(_ any, ss grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(ss)
	r.mu.Lock()
	r.starts = append(r.starts, time.Now())
	r.calls[method]++
	r.mu.Unlock()
	if err := ss.SendHeader(metadata.Pairs("x-replica", r.name)); err != nil {
		return err
	}
	switch r.mode.Load() {
	case failing:
		return status.Error(codes.Unavailable, r.name+" is failing")
	case slow:
		select {
		case <-time.After(time.Minute):
		case <-ss.Context().Done():
			return status.FromContextError(ss.Context().Err()).Err()
		}
	}
	for {
		m := new(wrapperspb.StringValue)
		if err := ss.RecvMsg(m); err != nil {
			if errors.Is(err, io.EOF) {
				if r.mode.Load() == lateFailing {
					return status.Error(codes.Unavailable, r.name+" failed late")
				}
				return nil
			}
			return err
		}
		if r.mode.Load() == lateFailing {
			continue
		}
		if err := ss.SendMsg(m); err != nil {
			return err
		}
	}
}

// reset forgets the calls seen so far.
func (r *replica) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.starts = nil
	r.calls = map[string]int{}
}

func (r *replica) count(method string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if method == "" {
		return len(r.starts)
	}
	return r.calls[method]
}

func (r *replica) lastStart() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.starts) == 0 {
		return time.Time{}
	}
	return r.starts[len(r.starts)-1]
}

// startPool runs a gateway whose one upstream resolves to the replicas'
// addresses, configured by mod, and returns a client of the gateway. The
// gateway knows no call kinds: every call is forwarded as a stream.
func startPool(t *testing.T, mod func(*upstream.Spec), replicas ...*replica) *grpc.ClientConn {
	t.Helper()
	return startPoolWith(t, nil, mod, replicas...)
}

func startPoolWith(t *testing.T, proxyOpts []server.ProxyOption, mod func(*upstream.Spec), replicas ...*replica) *grpc.ClientConn {
	t.Helper()
	res := manual.NewBuilderWithScheme("replicas")
	var eps []resolver.Endpoint
	for _, r := range replicas {
		eps = append(eps, resolver.Endpoint{Addresses: []resolver.Address{{Addr: r.addr}}})
	}
	res.InitialState(resolver.State{Endpoints: eps})
	up := upstream.Spec{
		Name:        "pool",
		Target:      "replicas:///pool",
		Methods:     []string{"test"},
		DialOptions: []grpc.DialOption{grpc.WithResolvers(res)},
	}
	mod(&up)
	gw := gatewaytest.NewGatewayWithProxy(t, []upstream.Spec{up}, proxyOpts)
	gw.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := gw.Upstreams.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	cc := gatewaytest.Dial(t, gw.Addr)
	warmUp(t, cc, replicas)
	return cc
}

// warmUp returns once every replica has answered a call through the
// gateway, so that round robin spreads the test's calls over all of them:
// an upstream is ready as soon as one of its addresses is, and calls made
// before the others connect all go to that one. The replicas answer the
// warm-up calls healthily whatever their mode, and forget them after.
func warmUp(t *testing.T, cc *grpc.ClientConn, replicas []*replica) {
	t.Helper()
	modes := make([]int32, len(replicas))
	for i, r := range replicas {
		modes[i] = r.mode.Swap(healthy)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		all := true
		for _, r := range replicas {
			all = all && r.count(warmUpMethod) > 0
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("not every replica answered within 20s of the upstream being ready")
		}
		_, _ = unary(cc, warmUpMethod, 5*time.Second)
		time.Sleep(time.Millisecond)
	}
	for i, r := range replicas {
		r.reset()
		r.mode.Store(modes[i])
	}
}

const warmUpMethod = "/test.Echo/WarmUp"

// unary calls method with timeout and returns the x-replica header of the
// answer and the error.
func unary(cc *grpc.ClientConn, method string, timeout time.Duration) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var hdr metadata.MD
	out := new(wrapperspb.StringValue)
	err := cc.Invoke(ctx, method, wrapperspb.String("ping"), out, grpc.Header(&hdr))
	if err == nil && out.GetValue() != "ping" {
		err = errors.New("wrong answer " + out.GetValue())
	}
	return strings.Join(hdr.Get("x-replica"), ","), err
}

// anyStream opens a call as a stream both ways, whatever the method's real
// shape: the gateway and the test upstreams do not know it either.
var anyStream = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

const (
	idempotent = "/test.Echo/Get"
	other      = "/test.Echo/Create"
)

func fastRetry(methods ...string) *upstream.RetryPolicy {
	return &upstream.RetryPolicy{Methods: methods, MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, BudgetTokens: 100}
}

// TestRetry: one replica of two fails every call with UNAVAILABLE in the
// trailers after a response header. Calls to a retryable method all
// succeed, and their answer carries the healthy replica's header (not the
// failed attempt's); calls to a method not marked retryable are not
// retried, so about half of them fail.
func TestRetry(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	for _, path := range forwardPaths {
		t.Run(path.name, func(t *testing.T) { testRetry(t, path.opts) })
	}
}

func testRetry(t *testing.T, proxyOpts []server.ProxyOption) {
	bad, good := startReplica(t, "bad"), startReplica(t, "good")
	bad.mode.Store(failing)
	cc := startPoolWith(t, proxyOpts, func(u *upstream.Spec) { u.Retry = fastRetry("test.Echo.Get") }, bad, good)

	for i := range 20 {
		from, err := unary(cc, idempotent, 5*time.Second)
		if err != nil {
			t.Fatalf("retryable call %d: %v", i+1, err)
		}
		if from != "good" {
			t.Fatalf("retryable call %d: header from %q, want only the successful attempt's", i+1, from)
		}
	}
	if bad.count(idempotent) == 0 {
		t.Fatal("the failing replica got no calls: retries were not exercised")
	}
	failed := 0
	for range 20 {
		if _, err := unary(cc, other, 5*time.Second); status.Code(err) == codes.Unavailable {
			failed++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if failed == 0 || bad.count(other) != failed || bad.count(other)+good.count(other) != 20 {
		t.Errorf("non-retryable method: %d failed, bad saw %d, good saw %d; want every failure seen once and 20 calls in all",
			failed, bad.count(other), good.count(other))
	}
}

// TestStreamsNotRetriedAfterFirstMessage: a replica that fails only after
// reading the whole request. Single-message calls are retried and succeed;
// a stream that sent two messages is committed and its failure reaches the
// client.
func TestStreamsNotRetriedAfterFirstMessage(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	bad, good := startReplica(t, "bad"), startReplica(t, "good")
	bad.mode.Store(lateFailing)
	cc := startPool(t, func(u *upstream.Spec) { u.Retry = fastRetry("test") }, bad, good)
	for i := range 10 {
		if _, err := unary(cc, idempotent, 5*time.Second); err != nil {
			t.Fatalf("unary call %d: %v", i+1, err)
		}
	}
	const method = "/test.Echo/Upload"
	failed := 0
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, err := cc.NewStream(ctx, anyStream, method)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		for _, v := range []string{"one", "two"} {
			if err := st.SendMsg(wrapperspb.String(v)); err != nil {
				t.Fatal(err)
			}
		}
		_ = st.CloseSend()
		for err == nil {
			err = st.RecvMsg(new(wrapperspb.StringValue))
		}
		cancel()
		switch status.Code(err) {
		case codes.Unavailable:
			failed++
		case codes.OK:
		default:
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
		}
	}
	if failed == 0 || bad.count(method) != failed {
		t.Errorf("streams: %d failed, bad saw %d; want each failure seen once, not retried", failed, bad.count(method))
	}
}

// TestResilienceConfigErrors: invalid policies are construction errors.
func TestResilienceConfigErrors(t *testing.T) {
	t.Parallel()
	// Each case names the part of the error that says what is wrong, so
	// that a case refused for another reason fails.
	cases := map[string]struct {
		up   upstream.Spec
		want string
	}{
		"retry without methods":   {upstream.Spec{Retry: &upstream.RetryPolicy{}}, "no method patterns"},
		"retry with bad pattern":  {upstream.Spec{Retry: &upstream.RetryPolicy{Methods: []string{"/a/b"}}}, `must not contain "/"`},
		"one attempt":             {upstream.Spec{Retry: &upstream.RetryPolicy{Methods: []string{"a"}, MaxAttempts: 1}}, "max_attempts: must be between 2 and 10"},
		"retry OK":                {upstream.Spec{Retry: &upstream.RetryPolicy{Methods: []string{"a"}, Codes: []codes.Code{codes.OK}}}, "code OK cannot be retried"},
		"max below initial":       {upstream.Spec{Retry: &upstream.RetryPolicy{Methods: []string{"a"}, InitialBackoff: time.Second, MaxBackoff: time.Millisecond}}, "max_backoff: must be at least initial_backoff"},
		"negative failures":       {upstream.Spec{OutlierDetection: &outlier.Config{ConsecutiveFailures: -1}}, "consecutive_failures: must be at least 1"},
		"max ejection below base": {upstream.Spec{OutlierDetection: &outlier.Config{BaseEjectionTime: time.Minute, MaxEjectionTime: time.Second}}, "max_ejection_time: must be at least base_ejection_time"},
		"cancelled as failure":    {upstream.Spec{OutlierDetection: &outlier.Config{FailureCodes: []codes.Code{codes.Canceled}}}, "code Canceled cannot count"},
		"ejection percent 101":    {upstream.Spec{OutlierDetection: &outlier.Config{MaxEjectionPercent: 101}}, "max_ejection_percent: must be between 1 and 100"},
		"budget ratio above 1":    {upstream.Spec{Retry: &upstream.RetryPolicy{Methods: []string{"a"}, BudgetRatio: 2}}, "budget_ratio: must be in (0, 1]"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			up := tc.up
			up.Target, up.Methods = "127.0.0.1:1", []string{"a"}
			ups, err := upstream.NewPool([]upstream.Spec{up})
			if err == nil {
				_ = ups.Close()
				t.Fatal("NewPool accepted it")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}
}

// TestRetryWithinDeadline: with only a failing replica and backoffs far
// longer than the caller's deadline, the call ends by its deadline and no
// attempt starts after it; with a slow replica and a per-try timeout, the
// call moves on to the healthy replica in time.
func TestRetryWithinDeadline(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	for _, path := range forwardPaths {
		t.Run(path.name, func(t *testing.T) { testRetryWithinDeadline(t, path.opts) })
	}
}

func testRetryWithinDeadline(t *testing.T, proxyOpts []server.ProxyOption) {
	t.Run("backoff past the deadline", func(t *testing.T) {
		bad := startReplica(t, "bad")
		bad.mode.Store(failing)
		cc := startPoolWith(t, proxyOpts, func(u *upstream.Spec) {
			u.Retry = &upstream.RetryPolicy{Methods: []string{"test"}, MaxAttempts: 5, InitialBackoff: 30 * time.Second, MaxBackoff: 30 * time.Second}
		}, bad)
		for range 5 {
			start := time.Now()
			_, err := unary(cc, idempotent, 100*time.Millisecond)
			elapsed := time.Since(start)
			if c := status.Code(err); c != codes.Unavailable && c != codes.DeadlineExceeded {
				t.Fatalf("got %v, want UNAVAILABLE or DEADLINE_EXCEEDED", err)
			}
			// The retry backoff is up to 30s: a call that waited for it
			// would mostly take far longer than 10s; the bounds leave a
			// loaded machine room (900ms did not, with a 1s backoff).
			if elapsed > 10*time.Second {
				t.Fatalf("the call took %s, past its 100ms deadline", elapsed)
			}
			if last := bad.lastStart(); last.After(start.Add(10 * time.Second)) {
				t.Fatalf("an attempt started %s after the call, past its deadline", last.Sub(start))
			}
		}
	})
	t.Run("per-try timeout", func(t *testing.T) {
		lazy, good := startReplica(t, "lazy"), startReplica(t, "good")
		lazy.mode.Store(slow)
		cc := startPoolWith(t, proxyOpts, func(u *upstream.Spec) {
			u.Retry = fastRetry("test")
			u.Retry.PerTryTimeout = 2 * time.Second
		}, lazy, good)
		// Round robin reaches lazy once its connection is ready, which on
		// a loaded machine may take a few calls: go on until lazy has been
		// tried twice. Every call must still be answered, by good, within
		// the caller's deadline, which the slow replica would outlive (a
		// minute against 30s) were it not for the per-try timeout (2s; no
		// shorter, or good might not answer in time on a loaded machine).
		for i := 0; lazy.count("") < 2; i++ {
			if i == 40 {
				t.Fatal("the slow replica got no calls in 40: the per-try timeout was not exercised")
			}
			from, err := unary(cc, idempotent, 30*time.Second)
			if err != nil || from != "good" {
				t.Fatalf("call %d: from %q, %v; want an answer from good", i+1, from, err)
			}
		}
	})
}

// TestOutlierDetection: an address that fails N calls in a row is
// ejected, re-admitted after the ejection time (and ejected again, for
// longer, while it still fails), and serves again once healthy; with every
// address ejected, calls fail at once with UNAVAILABLE.
func TestOutlierDetection(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	// Long enough that 30 calls fit well inside one ejection even on a
	// loaded 2-core machine under -race.
	const base = time.Second
	bad, good := startReplica(t, "bad"), startReplica(t, "good")
	cc := startPool(t, func(u *upstream.Spec) {
		u.OutlierDetection = &outlier.Config{ConsecutiveFailures: 3, BaseEjectionTime: base, MaxEjectionTime: 10 * base, MaxEjectionPercent: 100}
	}, bad, good)
	// Both connections ready first: round robin only spreads calls over
	// ready addresses, and the counts below assume both are in rotation.
	waitUntil(t, "both replicas in rotation", func() bool {
		_, _ = unary(cc, other, 5*time.Second)
		return bad.count("") > 0 && good.count("") > 0
	})
	bad.reset()
	bad.mode.Store(failing)

	// drive makes n calls and counts the failures; lastFailure is the
	// index of the last failed call (-1 when none failed).
	var lastFailure int
	drive := func(n int) (failed int) {
		lastFailure = -1
		for i := range n {
			if _, err := unary(cc, other, 5*time.Second); err != nil {
				if status.Code(err) != codes.Unavailable {
					t.Fatal(err)
				}
				failed++
				lastFailure = i
			}
		}
		return failed
	}
	// An ejection applies to picks after the failure is recorded; on a
	// loaded machine a few more calls may have been picked by then (once,
	// in CI, six failed before the ejection). What must hold: at least 3
	// failures, all early, and none in the last half of the calls (about
	// 15 picks of bad in a row refused) while the ejection lasts.
	start := time.Now()
	failed := drive(30)
	first := bad.count("")
	if failed < 3 || first != failed || lastFailure >= 15 {
		t.Fatalf("before ejection: %d calls failed (the last at call %d), bad saw %d; want 3 or a few more early, then none", failed, lastFailure+1, first)
	}
	if time.Since(start) > base {
		t.Skip("the machine is too slow for a 1s ejection time")
	}
	time.Sleep(base) // ejection over: bad is tried again, fails 3 more, is ejected for 2x base
	if failed := drive(30); failed < 3 || lastFailure >= 15 || bad.count("") != first+failed {
		t.Fatalf("after re-admission: %d calls failed (the last at call %d), bad saw %d in all; want 3 or a few more early, then none", failed, lastFailure+1, bad.count(""))
	}
	bad.mode.Store(healthy)
	time.Sleep(2 * base)
	if failed := drive(20); failed != 0 || bad.count("") < 10 {
		t.Fatalf("bad healthy again: %d calls failed, bad saw %d in all; want it back in rotation", failed, bad.count(""))
	}

	// All out: fail fast. Drive until both are ejected (3 failures each,
	// however the picker spreads the calls).
	bad.mode.Store(failing)
	good.mode.Store(failing)
	for i := 0; ; i++ {
		_, err := unary(cc, other, 5*time.Second)
		if strings.Contains(status.Convert(err).Message(), "ejected") {
			break
		}
		if i == 20 {
			t.Fatalf("both replicas failing, still not all ejected after 20 calls: %v", err)
		}
	}
	seen := bad.count("") + good.count("")
	for range 5 {
		start := time.Now()
		_, err := unary(cc, other, 60*time.Second)
		if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), "ejected") {
			t.Fatalf("all ejected: got %v, want UNAVAILABLE naming the ejection", err)
		}
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("all ejected: the call took %s, want an immediate failure, not its 60s deadline", d)
		}
	}
	if n := bad.count("") + good.count(""); n != seen {
		t.Errorf("all ejected: the replicas saw %d more calls", n-seen)
	}
}

// TestOutlierEjectionCap: with two of three addresses failing and the
// default max ejection percent (grpc-go's 10%), only one address is
// ejected at a time: the other failing one stays in rotation, and its
// calls keep failing, rather than the upstream losing two thirds of its
// capacity to ejections.
func TestOutlierEjectionCap(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	a, b, good := startReplica(t, "a"), startReplica(t, "b"), startReplica(t, "good")
	var counted ejectionCounter
	cc := startPool(t, func(u *upstream.Spec) {
		// Ejections outlast the test by far: none ends while it runs.
		u.OutlierDetection = &outlier.Config{ConsecutiveFailures: 2, BaseEjectionTime: time.Hour, MaxEjectionTime: time.Hour}
		u.DialOptions = append(u.DialOptions, grpc.WithStatsHandler(telemetry.AttemptHandler(u.Name, &counted)))
	}, a, b, good)
	a.mode.Store(failing)
	b.mode.Store(failing)
	// Round robin gives each failing replica about ten of these calls,
	// many more than the two failures in a row that eject it.
	for range 30 {
		_, _ = unary(cc, other, 5*time.Second)
	}
	a.reset()
	b.reset()
	failed := 0
	for range 30 {
		if _, err := unary(cc, other, 5*time.Second); err != nil {
			if status.Code(err) != codes.Unavailable {
				t.Fatal(err)
			}
			failed++
		}
	}
	na, nb := a.count(""), b.count("")
	if min(na, nb) != 0 || max(na, nb) == 0 || failed != na+nb {
		t.Fatalf("a saw %d calls, b %d, %d failed; want one failing replica ejected (no calls) and the other still called, its calls failing", na, nb, failed)
	}
	// The ejection reached the connection's stats handlers, through which
	// sluice_upstream_outlier_ejections_total counts it.
	if n := counted.n.Load(); n != 1 {
		t.Errorf("%d ejections reported to the stats handler, want 1", n)
	}
}

// ejectionCounter is a telemetry.AttemptObserver that counts the outlier
// policy's ejections.
type ejectionCounter struct{ n atomic.Int64 }

func (*ejectionCounter) Attempt(string, bool) {}

func (c *ejectionCounter) BalancerCount(metric string, incr int64) {
	if metric == outlier.EjectionsMetric {
		c.n.Add(incr)
	}
}

// TestHealthCheck: an address whose grpc.health.v1 status is NOT_SERVING
// gets no calls until it reports SERVING again.
func TestHealthCheck(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	a, b := startReplica(t, "a"), startReplica(t, "b")
	cc := startPool(t, func(u *upstream.Spec) { u.HealthCheck = true }, a, b)
	if _, err := unary(cc, other, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	a.health.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	// Round robin alternates, so one call from b proves nothing: wait for
	// a run of them.
	waitUntil(t, "a to leave the rotation", func() bool {
		for range 4 {
			if from, err := unary(cc, other, 5*time.Second); err != nil || from != "b" {
				return false
			}
		}
		return true
	})
	before := a.count("")
	for i := range 10 {
		if from, err := unary(cc, other, 5*time.Second); err != nil || from != "b" {
			t.Fatalf("call %d: from %q, %v; want b only while a is NOT_SERVING", i+1, from, err)
		}
	}
	if a.count("") != before {
		t.Fatalf("a got %d calls while NOT_SERVING", a.count("")-before)
	}
	a.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	waitUntil(t, "a to rejoin the rotation", func() bool {
		from, err := unary(cc, other, 5*time.Second)
		return err == nil && from == "a"
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package ratelimit_test

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/interceptors/ratelimit"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// frozenRedis is a loopback TCP listener that accepts connections and
// never answers: a Redis that hangs, as one stopped by a debugger, a full
// disk or a network partition does.
func frozenRedis(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		wg    sync.WaitGroup
	)
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// burstCalls makes n concurrent calls to the limited method and counts
// those admitted; any answer but OK or RESOURCE_EXHAUSTED fails the test.
func burstCalls(t *testing.T, cc *grpc.ClientConn, n int) (admitted int) {
	t.Helper()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		errs []error
	)
	for range n {
		wg.Go(func() {
			_, err := call(cc, limited)
			mu.Lock()
			defer mu.Unlock()
			switch status.Code(err) {
			case codes.OK:
				admitted++
			case codes.ResourceExhausted:
			default:
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Errorf("unexpected answer: %v", err)
	}
	return admitted
}

// TestFailOpenHoldsLocalShareFromFirstCall: a fresh instance whose Redis
// hangs, or refuses connections, gets 100 concurrent calls against a
// global limit of burst 20 (and a refill too slow to matter during the
// test). Fail-open means the instance enforces its local bucket,
// including for the calls that were waiting on the round trip that
// failed: exactly 20 are admitted, however the calls interleave.
func TestFailOpenHoldsLocalShareFromFirstCall(t *testing.T) {
	for _, c := range []struct {
		name  string
		redis func(t *testing.T) string
	}{
		{"hung", frozenRedis},
		{"refusing connections", closedPort},
	} {
		t.Run(c.name, func(t *testing.T) {
			// go-redis retries failed dials in a goroutine that sleeps a
			// second before it notices its pool was closed; everything
			// else must be gone.
			t.Cleanup(func() {
				goleak.VerifyNone(t, goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
			})
			addr := c.redis(t)
			upstream := gatewaytest.StartEcho(t).Addr
			l := globalLimiterPeriod(t, addr, 1, time.Hour, 20, time.Second, ratelimit.WithRetryInterval(time.Hour))
			cc := startGateway(t, upstream, l.StreamServerInterceptor())
			if got := burstCalls(t, cc, 100); got != 20 {
				t.Errorf("Redis %s, fail open: %d of 100 concurrent calls admitted, want the local burst of 20", c.name, got)
			}
			// Later calls are answered by the local bucket alone, which is empty.
			if got := burstCalls(t, cc, 10); got != 0 {
				t.Errorf("Redis %s, bucket empty: %d of 10 calls admitted, want 0", c.name, got)
			}
		})
	}
}

// closedPort is a loopback address nothing listens on: connections to it
// are refused.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestFailOpenWhenRedisFreezes: a real Redis admits 18 of a burst of 20,
// then freezes (SIGSTOP) while 100 calls arrive at once. The calls in
// flight during the failing round trip are held to what the local bucket
// has left: exactly 2 are admitted.
func TestFailOpenWhenRedisFreezes(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	rs := startRedis(t)
	upstream := gatewaytest.StartEcho(t).Addr
	l := globalLimiterPeriod(t, rs.addr(), 1, time.Hour, 20, time.Second, ratelimit.WithRetryInterval(time.Hour))
	cc := startGateway(t, upstream, l.StreamServerInterceptor())
	for i := range 18 {
		if _, err := call(cc, limited); err != nil {
			t.Fatalf("Redis up, call %d of the burst: %v", i+1, err)
		}
	}
	if keys(t, rs.addr(), "*") == 0 {
		t.Fatal("the global limit did not use Redis")
	}
	rs.pause()
	if got := burstCalls(t, cc, 100); got != 2 {
		t.Errorf("Redis froze with 2 tokens left, fail open: %d of 100 concurrent calls admitted, want 2", got)
	}
}

// globalLimiterPeriod is globalLimiter with a period other than a second.
func globalLimiterPeriod(t *testing.T, addr string, rate int, period time.Duration, burst int, timeout time.Duration, opts ...ratelimit.Option) *ratelimit.Limiter {
	t.Helper()
	rdb := ratelimit.NewRedisClient(addr, "", "", 0, timeout)
	t.Cleanup(func() { _ = rdb.Close() })
	l, err := ratelimit.New(append([]ratelimit.Option{
		ratelimit.WithRedis(rdb),
		ratelimit.WithRedisTimeout(timeout),
		ratelimit.WithLimit(ratelimit.Limit{Name: "shared", Methods: []string{"test.Echo"}, Rate: rate, Period: period, Burst: burst, Global: true}),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// pause freezes the server (SIGSTOP) until the test ends or resume.
func (r *redisServer) pause() {
	r.t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(r.resume)
}

// resume thaws a paused server; harmless on one that runs or is gone.
func (r *redisServer) resume() {
	if r.cmd != nil {
		_ = r.cmd.Process.Signal(syscall.SIGCONT)
	}
}

// TestStoreErrorsAreReported: WithStoreErrors hears of every failed round
// trip to Redis, and of none while the limiter leaves Redis alone after a
// failure (the retry interval).
func TestStoreErrorsAreReported(t *testing.T) {
	t.Cleanup(func() {
		goleak.VerifyNone(t, goleak.IgnoreAnyFunction("github.com/redis/go-redis/v9/internal/pool.(*ConnPool).tryDial"))
	})
	var failures atomic.Int64
	upstream := gatewaytest.StartEcho(t).Addr
	l := globalLimiterPeriod(t, closedPort(t), 1, time.Hour, 20, time.Second,
		ratelimit.WithRetryInterval(time.Hour), ratelimit.WithStoreErrors(func() { failures.Add(1) }))
	cc := startGateway(t, upstream, l.StreamServerInterceptor())
	for i := range 3 {
		if _, err := call(cc, limited); err != nil {
			t.Fatalf("call %d (fail open): %v", i+1, err)
		}
	}
	if n := failures.Load(); n != 1 {
		t.Errorf("%d store errors reported, want 1 (then Redis is left alone for the retry interval)", n)
	}
}

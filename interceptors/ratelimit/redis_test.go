package ratelimit_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/interceptors/ratelimit"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// globalLimiter returns a limiter with one global limit on test.Echo, with
// a Redis client of its own (one per gateway instance, as in production).
func globalLimiter(t *testing.T, addr string, rate, burst int, timeout time.Duration, opts ...ratelimit.Option) *ratelimit.Limiter {
	t.Helper()
	rdb := ratelimit.NewRedisClient(addr, "", "", 0, timeout)
	t.Cleanup(func() { _ = rdb.Close() })
	l, err := ratelimit.New(append([]ratelimit.Option{
		ratelimit.WithRedis(rdb),
		ratelimit.WithRedisTimeout(timeout),
		ratelimit.WithLimit(ratelimit.Limit{Name: "shared", Methods: []string{"test.Echo"}, Rate: rate, Burst: burst, Global: true}),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// evalCalls reports how many scripts Redis ran: one per global check that
// reached it.
func evalCalls(t *testing.T, addr string) int {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true})
	defer c.Close()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for line := range strings.SplitSeq(info, "\n") {
		if strings.HasPrefix(line, "cmdstat_eval") { // eval and evalsha
			_, rest, _ := strings.Cut(line, "calls=")
			v, _, _ := strings.Cut(rest, ",")
			c, _ := strconv.Atoi(v)
			n += c
		}
	}
	return n
}

// TestGlobalLimitAcrossInstances is acceptance 1: three gateway instances
// share one Redis and a global limit of rate/s (burst) for one key; calls
// are driven through all three by twelve clients, offering 4.8 times the
// limit (paced, so that the test measures the limiter, not how fast a
// loaded machine can run twelve clients).
//
// GCRA in Redis decides every admission on Redis's clock, so over a window
// of d the fleet can admit at most burst + rate*d calls; nothing else can
// add admissions (the local buckets only refuse). Admissions can fall
// short of that only when the bucket sits full, that is when no call
// arrives for burst/rate = 100ms, which the paced clients do not allow;
// a refusal cached by the local front expires no later than Redis would
// admit again. The tolerance is therefore [90%, 100%] of burst + rate*d,
// plus 2 calls for the edges of the measured window; the 10% covers
// scheduling stalls of a loaded test machine.
func TestGlobalLimitAcrossInstances(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	rs := startRedis(t)
	upstream := gatewaytest.StartEcho(t).Addr
	const (
		rate   = 100
		burst  = 10
		window = 1500 * time.Millisecond
		pace   = 25 * time.Millisecond // per client: 12 clients offer 480 calls/s
	)
	var ccs []*grpc.ClientConn
	for range 3 {
		// A generous timeout: on a loaded test machine a Redis stall must
		// not turn into fail-open admissions, which would blur the count.
		l := globalLimiter(t, rs.addr(), rate, burst, 2*time.Second)
		ccs = append(ccs, startGateway(t, upstream, l.StreamServerInterceptor()))
	}
	for _, cc := range ccs { // connect everything before the clock starts
		if _, err := call(cc, free); err != nil {
			t.Fatal(err)
		}
	}
	var admitted, refused atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	stop := start.Add(window)
	errs := make(chan error, 12)
	for _, cc := range ccs {
		for range 4 {
			wg.Go(func() {
				tick := time.NewTicker(pace)
				defer tick.Stop()
				for now := range tick.C {
					if now.After(stop) {
						return
					}
					hdr, err := call(cc, limited, "x-tenant", "one-key")
					switch status.Code(err) {
					case codes.OK:
						admitted.Add(1)
					case codes.ResourceExhausted:
						refused.Add(1)
						if strings.Join(hdr.Get("ratelimit-limit"), ",") != strconv.Itoa(burst) || len(hdr.Get("retry-after")) != 1 {
							errs <- fmt.Errorf("refusal without RateLimit fields: %v", hdr)
							return
						}
					default:
						errs <- err
						return
					}
				}
			})
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		t.Fatalf("unexpected error: %v", err)
	}
	ceiling := burst + rate*elapsed.Seconds()
	got := float64(admitted.Load())
	scripts := evalCalls(t, rs.addr())
	t.Logf("admitted %d of %d calls in %s (ceiling %.0f); Redis ran %d scripts",
		admitted.Load(), admitted.Load()+refused.Load(), elapsed.Round(time.Millisecond), ceiling, scripts)
	if got > ceiling+2 {
		t.Errorf("admitted %.0f calls, more than the ceiling of %.0f", got, ceiling+2)
	}
	// The floor holds only when the drivers offered well past the limit;
	// a loaded machine may offer fewer calls than the ceiling (the drivers
	// pace themselves at 480/s but cannot always keep it), and then
	// admitting less is the machine's speed, not the limiter's fault.
	if offered := got + float64(refused.Load()); offered >= 1.5*ceiling {
		if got < 0.9*ceiling-2 {
			t.Errorf("admitted %.0f of %.0f offered calls, want at least %.0f", got, offered, 0.9*ceiling-2)
		}
		if refused.Load() == 0 {
			t.Error("no call was refused: the drivers did not push past the limit")
		}
	} else {
		t.Logf("only %.0f calls offered (ceiling %.0f): the machine was too slow to check the floor", offered, ceiling)
	}
	// A client flooding one instance: the local front (the shadow bucket
	// and the cached Redis refusal) answers most of its refusals, so Redis
	// sees about one check per token instead of one per call.
	before := evalCalls(t, rs.addr())
	var calls, ok int
	for start := time.Now(); time.Since(start) < 300*time.Millisecond; calls++ {
		if _, err := call(ccs[0], limited); err == nil {
			ok++
		}
	}
	scripts = evalCalls(t, rs.addr()) - before
	t.Logf("flood through one instance: %d calls, %d admitted, %d Redis scripts", calls, ok, scripts)
	// About one check per admitted token (plus a re-check when a cached
	// refusal expires), however many calls a loaded machine managed.
	if most := 2*ok + 10; scripts > most {
		t.Errorf("flood: Redis ran %d scripts for %d calls (%d admitted): the local front spared too few round trips", scripts, calls, ok)
	}
}

// TestRedisOutage is acceptance 1's second half: Redis is killed mid-run
// and started again. A fail-open gateway keeps admitting calls up to its
// local bucket, a fail-closed one refuses with UNAVAILABLE; both log the
// outage once, and both enforce the global limit again once Redis is back,
// without a restart.
func TestRedisOutage(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	rs := startRedis(t)
	upstream := gatewaytest.StartEcho(t).Addr
	type instance struct {
		cc   *grpc.ClientConn
		logs *syncBuffer
	}
	mk := func(prefix string, mode ratelimit.FailureMode) instance {
		logs := &syncBuffer{}
		l := globalLimiter(t, rs.addr(), 20, 5, 100*time.Millisecond,
			ratelimit.WithFailureMode(mode),
			ratelimit.WithRetryInterval(100*time.Millisecond),
			ratelimit.WithKeyPrefix(prefix),
			ratelimit.WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
		return instance{cc: startGateway(t, upstream, l.StreamServerInterceptor()), logs: logs}
	}
	open, closed := mk("open:", ratelimit.FailOpen), mk("closed:", ratelimit.FailClosed)

	// Burst 5 then refusals, decided by Redis.
	drain := func(in instance, what string) int {
		t.Helper()
		for i := 0; ; i++ {
			hdr, err := call(in.cc, limited)
			switch status.Code(err) {
			case codes.OK:
				if i > 20 {
					t.Fatalf("%s: over 20 calls admitted, want about 5", what)
				}
				continue
			case codes.ResourceExhausted:
				wantRefused(t, err, what)
				wantHeader(t, hdr, map[string]string{"ratelimit-limit": "5", "ratelimit-remaining": "0", "retry-after": "1"})
				return i
			}
			t.Fatalf("%s: call %d: %v", what, i+1, err)
		}
	}
	// drainedWithin bounds what a drain may admit: the burst of 5, plus
	// what the bucket refills (20/s) while the drain runs, which on a
	// loaded machine under -race is not negligible.
	drainedWithin := func(in instance, what string) (n, most int) {
		start := time.Now()
		n = drain(in, what)
		return n, 6 + int(time.Since(start).Seconds()*20)
	}
	for _, in := range []instance{open, closed} {
		if n, most := drainedWithin(in, "before the outage"); n < 5 || n > most {
			t.Fatalf("before the outage: %d calls admitted, want 5 (burst) to %d (refills while draining)", n, most)
		}
	}

	rs.stop()
	time.Sleep(300 * time.Millisecond) // the local buckets refill (20/s)
	if n, most := drainedWithin(open, "fail open, Redis down"); n < 5 || n > most+1 {
		t.Errorf("fail open, Redis down: %d calls admitted, want the local bucket's 5 to %d (+ refills)", n, most+1)
	}
	for i := range 5 {
		_, err := call(closed.cc, limited)
		if status.Code(err) != codes.Unavailable {
			t.Fatalf("fail closed, Redis down, call %d: got %v, want UNAVAILABLE", i+1, err)
		}
	}

	rs.start()
	// Recovery: within a few retry intervals the global limit is back. For
	// the closed gateway that means calls pass again; for the open one,
	// that Redis holds its bucket again.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := call(closed.cc, limited)
		if err == nil {
			break
		}
		if status.Code(err) != codes.Unavailable || time.Now().After(deadline) {
			t.Fatalf("fail closed, Redis back: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for {
		_, _ = call(open.cc, limited)
		if keys(t, rs.addr(), "open:*") > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("fail open, Redis back: the gateway never used Redis again")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // buckets full again, in Redis and locally
	for _, in := range []instance{open, closed} {
		if n, most := drainedWithin(in, "after recovery"); n < 5 || n > most {
			t.Errorf("after recovery: %d calls admitted, want 5 (burst) to %d (refills while draining)", n, most)
		}
	}
	for name, in := range map[string]instance{"open": open, "closed": closed} {
		logs := in.logs.String()
		if n := strings.Count(logs, "rate limit store unreachable"); n != 1 {
			t.Errorf("%s: logged the outage %d times, want once per interval (1m):\n%s", name, n, logs)
		}
		if n := strings.Count(logs, "rate limit store reachable again"); n != 1 {
			t.Errorf("%s: logged the recovery %d times, want once:\n%s", name, n, logs)
		}
	}
}

func keys(t *testing.T, addr, pattern string) int {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr, DisableIdentity: true, MaxRetries: -1})
	defer c.Close()
	ks, err := c.Keys(context.Background(), "rate:"+pattern).Result()
	if err != nil {
		return 0
	}
	return len(ks)
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

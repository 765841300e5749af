package flowtest_test

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/interceptors/concurrency"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// TestConcurrencyLimitThroughGateway: with a limit of 10, 100 concurrent
// slow calls get exactly 10 in and 90 RESOURCE_EXHAUSTED; with a queue
// timeout all 100 get in, never more than 10 at once.
func TestConcurrencyLimitThroughGateway(t *testing.T) {
	const limit, calls = 10, 100
	tests := []struct {
		name  string
		queue time.Duration
	}{
		{"refuse at once", 0},
		{"queue", 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gatewaytest.CheckLeaks(t)
			up := startUpstream(t)
			l, err := concurrency.New(
				concurrency.WithRule(concurrency.Rule{Methods: []string{"flow.Test.Hold"}, MaxInFlight: limit}),
				concurrency.WithQueueTimeout(tt.queue),
			)
			if err != nil {
				t.Fatal(err)
			}
			addr := gatewaytest.StartGateway(t, gatewaytest.Route(up.addr, "*"), l.StreamServerInterceptor()).Addr
			cc := gatewaytest.Dial(t, addr)

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			results := make(chan error, calls)
			var wg sync.WaitGroup
			for range calls {
				wg.Add(1)
				go func() {
					defer wg.Done()
					out := new(wrapperspb.StringValue)
					results <- cc.Invoke(ctx, "/flow.Test/Hold", wrapperspb.String(""), out)
				}()
			}
			if tt.queue == 0 {
				// The refusals come back while the admitted calls hold on.
				refused := 0
				for refused < calls-limit {
					select {
					case err := <-results:
						if status.Code(err) != codes.ResourceExhausted {
							t.Fatalf("call ended with %v while the admitted ones were held, want RESOURCE_EXHAUSTED", err)
						}
						refused++
					case <-ctx.Done():
						t.Fatalf("only %d calls refused", refused)
					}
				}
				waitFor(t, func() bool { return up.active.Load() == limit })
				if got := l.InFlight(); got != limit {
					t.Errorf("InFlight() = %d, want %d", got, limit)
				}
			}
			close(up.release) // every held call (and every later one) ends now
			wg.Wait()
			close(results)
			ok := 0
			for err := range results {
				if err == nil {
					ok++
				} else if status.Code(err) != codes.ResourceExhausted || tt.queue > 0 {
					t.Errorf("call: %v", err)
				}
			}
			want := limit
			if tt.queue > 0 {
				want = calls
			}
			if ok != want {
				t.Errorf("%d calls succeeded, want %d", ok, want)
			}
			if m := up.maxAct.Load(); m > limit {
				t.Errorf("%d calls at once reached the upstream, want at most %d", m, limit)
			}
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 20s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestIdleStreamsMemory opens many idle streams through one gateway and
// reports what they cost it: 1,000 by default, 10,000 with
// SLUICE_FLOW_LONG (or SLUICE_FLOW_STREAMS=N).
func TestIdleStreamsMemory(t *testing.T) {
	n := 1000
	if long() {
		n = 10000
	}
	if v, err := strconv.Atoi(os.Getenv("SLUICE_FLOW_STREAMS")); err == nil && v > 0 {
		n = v
	}
	up := startUpstream(t)
	gw := startGatewayProc(t, up.addr, "-max-streams", strconv.Itoa(n+10))
	cc := gatewaytest.Dial(t, gw.addr)
	base, baseG := gw.ask(t, "base")
	baseStacks, _ := gw.ask(t, "stacks")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range n {
		s, err := cc.NewStream(ctx, anyStream, "/flow.Test/Hold")
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		if _, err := s.Header(); err != nil { // the call has reached the upstream
			t.Fatalf("stream %d: %v", i, err)
		}
	}
	live, liveG := gw.ask(t, "live")
	stacks, _ := gw.ask(t, "stacks")
	perStream := (live - base) / int64(n)
	t.Logf("%d idle streams: gateway heap %s -> %s (+%s, %.1fKiB per stream); goroutines %d -> %d (%.1f per stream), stacks %s -> %s (+%.1fKiB per stream)",
		n, mib(base), mib(live), mib(live-base), float64(perStream)/1024, baseG, liveG, float64(liveG-baseG)/float64(n),
		mib(baseStacks), mib(stacks), float64(stacks-baseStacks)/1024/float64(n))
	// A stream must cost kilobytes, not a buffer's worth: no allocation
	// proportional to windows or message sizes while idle.
	if perStream > 64<<10 {
		t.Errorf("an idle stream costs %d bytes of gateway heap, want under 64KiB", perStream)
	}
	cancel()
}

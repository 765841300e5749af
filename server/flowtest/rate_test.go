package flowtest_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/interceptors/flow"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// TestMessageRateSlowsSender: a per-stream message rate slows a fast
// client-streaming sender to the configured rate; the messages reach the
// upstream at that rate and the sender is held back by flow control, not
// buffered (it is never more than the windows ahead of the upstream).
func TestMessageRateSlowsSender(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	const perSecond, n = 200, 41 // 40 intervals: 200ms
	up := startUpstream(t)
	fc, err := flow.New(flow.WithRule(flow.Rule{Methods: []string{"flow.Test.Upload"}, MessagesPerSecond: perSecond}))
	if err != nil {
		t.Fatal(err)
	}
	addr := gatewaytest.StartGateway(t, gatewaytest.Route(up.addr, "*"), fc.StreamServerInterceptor()).Addr
	cc := gatewaytest.Dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := cc.NewStream(ctx, anyStream, "/flow.Test/Upload")
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	msg := wrapperspb.Bytes(make([]byte, msgSize))
	var ahead int64
	for i := int64(1); i <= n; i++ {
		if err := s.SendMsg(msg); err != nil {
			t.Fatal(err)
		}
		ahead = max(ahead, i-up.received.Load())
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	got := new(wrapperspb.Int64Value)
	if err := s.RecvMsg(got); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(begin)
	t.Logf("%d messages at %d/s took %v (%.0f/s); sender at most %d messages ahead of the upstream", n, perSecond, elapsed.Round(time.Millisecond), float64(n-1)/elapsed.Seconds(), ahead)
	if got.GetValue() != n {
		t.Fatalf("upstream read %d messages, want %d", got.GetValue(), n)
	}
	if want := time.Duration(n-1) * time.Second / perSecond; elapsed < want-5*time.Millisecond {
		t.Errorf("took %v, want at least %v at %d/s", elapsed, want, perSecond)
	}
	// The default (dynamic) windows start at 64KiB per stream: a few
	// messages in the windows, never the whole stream.
	if ahead > n/2 {
		t.Errorf("sender got %d of %d messages ahead: it was buffered, not slowed", ahead, n)
	}
}

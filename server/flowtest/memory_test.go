package flowtest_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// heapBound is the most the gateway's heap may grow above its baseline
// while one stream moves any volume (issue 6, acceptance 1).
const heapBound = 32 << 20

// writeQuota is grpc-go's per-stream send buffer: a sender may queue this
// much (plus the message that crosses it) before SendMsg blocks.
const writeQuota = 64 << 10

// windowCases are the HTTP/2 window settings the memory tests run under:
// fixed windows on both legs, and grpc-go's dynamic (BDP) windows.
var windowCases = []struct {
	name   string
	window int // 0: dynamic
}{
	{"fixed 1MiB windows", 1 << 20},
	{"dynamic windows", 0},
}

// volume is how many 64 KiB messages a memory test moves: 64 MiB by
// default, 1 GiB with SLUICE_FLOW_LONG.
func volume() int64 {
	if long() {
		return (1 << 30) / msgSize
	}
	return (64 << 20) / msgSize
}

// aheadBound is how many messages a fast sender may be ahead of a slow
// reader when windows are fixed at w: what each leg's window and send
// buffer hold, plus the message each of sender, proxy and reader has in
// hand, plus one for the counters' sampling.
func aheadBound(w int) int64 {
	return int64((2*w+2*writeQuota)/msgSize) + 2 + 4
}

// TestSlowReaderBoundedMemory: an upstream streams as fast as it can to a
// client reading one message per millisecond; the gateway's heap stays
// within heapBound of its baseline and the upstream is held back by flow
// control, never more than the windows ahead of the client.
func TestSlowReaderBoundedMemory(t *testing.T) {
	n := volume()
	for _, wc := range windowCases {
		t.Run(wc.name, func(t *testing.T) {
			up := startUpstream(t)
			gw := startGatewayProc(t, up.addr, "-window", strconv.Itoa(wc.window))
			var opts []grpc.DialOption
			if wc.window > 0 {
				opts = append(opts, grpc.WithInitialWindowSize(int32(wc.window)), grpc.WithInitialConnWindowSize(int32(wc.window)))
			}
			cc := gatewaytest.Dial(t, gw.addr, opts...)
			// Warm up the connections, then take the baseline.
			readAll(t, cc, up, 4, 0)
			base, _ := gw.ask(t, "base")

			up.sent.Store(0)
			begin := time.Now()
			ahead := readAll(t, cc, up, n, time.Millisecond)
			elapsed := time.Since(begin)
			peak, _ := gw.ask(t, "peak")
			t.Logf("%d x 64KiB in %v: gateway heap base %s, peak %s (+%s); upstream at most %d messages (%s) ahead of the client",
				n, elapsed.Round(time.Millisecond), mib(base), mib(peak), mib(peak-base), ahead, mib(ahead*msgSize))
			if peak-base > heapBound {
				t.Errorf("gateway heap grew by %s, want at most %s", mib(peak-base), mib(heapBound))
			}
			if wc.window > 0 && ahead > aheadBound(wc.window) {
				t.Errorf("upstream got %d messages ahead of the client, want at most %d (windows + buffers)", ahead, aheadBound(wc.window))
			}
			// Whatever the windows, a blocked upstream is one that is not a
			// whole gateway-heap bound ahead of the reader.
			if ahead*msgSize > 2*heapBound {
				t.Errorf("upstream got %s ahead of the client: it was buffered, not slowed", mib(ahead*msgSize))
			}
		})
	}
}

// readAll downloads n messages through cc, reading one per tick (0: as
// fast as possible), and returns how far the upstream got ahead.
func readAll(t *testing.T, cc *grpc.ClientConn, up *upstream, n int64, tick time.Duration) (ahead int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := cc.NewStream(ctx, anyStream, "/flow.Test/Download")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SendMsg(wrapperspb.Int64(n)); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	var ticker *time.Ticker
	if tick > 0 {
		ticker = time.NewTicker(tick)
		defer ticker.Stop()
	}
	got := int64(0)
	msg := new(wrapperspb.BytesValue)
	for {
		if ticker != nil {
			<-ticker.C
		}
		if err := s.RecvMsg(msg); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatalf("after %d messages: %v", got, err)
			}
			break
		}
		got++
		ahead = max(ahead, up.sent.Load()-got)
	}
	if got != n {
		t.Fatalf("got %d messages, want %d", got, n)
	}
	return ahead
}

// TestSlowUpstreamReaderBoundedMemory: a client streams as fast as it can
// to an upstream reading one message per millisecond; the gateway's heap
// stays within heapBound and the client is held back by flow control.
func TestSlowUpstreamReaderBoundedMemory(t *testing.T) {
	n := volume()
	for _, wc := range windowCases {
		t.Run(wc.name, func(t *testing.T) {
			up := startUpstream(t)
			gw := startGatewayProc(t, up.addr, "-window", strconv.Itoa(wc.window))
			var opts []grpc.DialOption
			if wc.window > 0 {
				opts = append(opts, grpc.WithInitialWindowSize(int32(wc.window)), grpc.WithInitialConnWindowSize(int32(wc.window)))
			}
			cc := gatewaytest.Dial(t, gw.addr, opts...)
			base, _ := gw.ask(t, "base")

			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			s, err := cc.NewStream(ctx, anyStream, "/flow.Test/Upload")
			if err != nil {
				t.Fatal(err)
			}
			msg := wrapperspb.Bytes(make([]byte, msgSize))
			begin := time.Now()
			var ahead int64
			for i := int64(1); i <= n; i++ {
				if err := s.SendMsg(msg); err != nil {
					t.Fatalf("message %d: %v", i, err)
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
			if got.GetValue() != n {
				t.Fatalf("upstream read %d messages, want %d", got.GetValue(), n)
			}
			peak, _ := gw.ask(t, "peak")
			t.Logf("%d x 64KiB in %v: gateway heap base %s, peak %s (+%s); client at most %d messages (%s) ahead of the upstream",
				n, elapsed.Round(time.Millisecond), mib(base), mib(peak), mib(peak-base), ahead, mib(ahead*msgSize))
			if peak-base > heapBound {
				t.Errorf("gateway heap grew by %s, want at most %s", mib(peak-base), mib(heapBound))
			}
			if wc.window > 0 && ahead > aheadBound(wc.window) {
				t.Errorf("client got %d messages ahead of the upstream, want at most %d (windows + buffers)", ahead, aheadBound(wc.window))
			}
			if ahead*msgSize > 2*heapBound {
				t.Errorf("client got %s ahead of the upstream: it was buffered, not slowed", mib(ahead*msgSize))
			}
		})
	}
}

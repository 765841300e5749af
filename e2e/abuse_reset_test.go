package e2e_test

import (
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// rapidReset opens n streams on h with the header fields kv, each reset
// (CANCEL) right after its HEADERS, as in CVE-2023-44487, and returns how
// many it sent before the server closed the connection.
func rapidReset(h *h2Conn, n int, endStream bool, kv ...string) int {
	for i := range n {
		if h.isClosed() {
			return i
		}
		id, err := h.open(endStream, kv...)
		if err != nil {
			return i
		}
		if err := h.write(func() error { return h.fr.WriteRSTStream(id, http2.ErrCodeCancel) }); err != nil {
			return i
		}
	}
	return n
}

// settle waits until no call is left in the gateway's chain, so that
// counts at the upstream are final.
func (g *abuseGateway) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(abuseWait)
	for g.chain.InFlight() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls still in flight %v after the attack", g.chain.InFlight(), abuseWait)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAbuseRapidResetGRPC sends HEADERS then RST_STREAM thousands of
// times on a connection whose first call was gRPC and checks that the
// work reaching the upstream stays bounded: a reset stream never got to
// send its request, so hardly any call may start upstream.
func TestAbuseRapidResetGRPC(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startAbuseGateway(t, abuseOptions{})
	n := abuseCount(2000, 50000)

	for _, method := range []string{"GetShelf", "WatchShelf"} {
		t.Run(method, func(t *testing.T) {
			h := dialH2(t, g.addr)
			g.prepare(t, h, "grpc")
			before := g.started.Load()
			sent := rapidReset(h, n, false, grpcHeaders(g.addr, svcPrefix+method)...)
			g.settle(t)
			started := g.started.Load() - before
			t.Logf("%d HEADERS+RST_STREAM sent (connection closed by the server: %v); %d calls started upstream", sent, h.isClosed(), started)
			if started > 100 {
				t.Errorf("%d reset streams started %d upstream calls, want at most 100", sent, started)
			}
			g.healthy(t)
		})
	}
}

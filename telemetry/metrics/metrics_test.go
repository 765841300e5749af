package metrics_test

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/telemetry"
	"github.com/sluice-dev/sluice/telemetry/metrics"
)

// serve runs the call record and the metrics interceptor in front of an
// echoing handler on loopback; a message "fail:N" ends the call with
// code N.
func serve(t *testing.T, m *metrics.Metrics) *grpc.ClientConn {
	t.Helper()
	handler := func(_ any, ss grpc.ServerStream) error {
		for {
			msg := new(wrapperspb.StringValue)
			if err := ss.RecvMsg(msg); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			if code, ok := strings.CutPrefix(msg.GetValue(), "fail:"); ok {
				return status.Error(codes.Code(code[0]-'0'), "failed")
			}
			if err := ss.SendMsg(msg); err != nil {
				return err
			}
		}
	}
	addr := gatewaytest.StartUpstream(t, handler,
		grpc.ChainStreamInterceptor(telemetry.StreamServerInterceptor(), m.StreamServerInterceptor()))
	return gatewaytest.Dial(t, addr)
}

func call(ctx context.Context, cc *grpc.ClientConn, method string, msgs ...string) error {
	s, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}, method)
	if err != nil {
		return err
	}
	for _, m := range msgs {
		if err := s.SendMsg(wrapperspb.String(m)); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	for {
		if err := s.RecvMsg(new(wrapperspb.StringValue)); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// known labels the test's one contract method by name; every other
// method folds into metrics.UnknownMethod.
func known(method string) string {
	if method == "/test.v1.Svc/Echo" {
		return method
	}
	return metrics.UnknownMethod
}

func TestCallMetrics(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.WithMethodLabel(known), metrics.WithBuildInfo("v1.2.3", "abc"))
	if err != nil {
		t.Fatal(err)
	}
	cc := serve(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := call(ctx, cc, "/test.v1.Svc/Echo", "one", "two"); err != nil {
		t.Fatal(err)
	}
	if err := call(ctx, cc, "/test.v1.Svc/Echo", "fail:5"); status.Code(err) != codes.NotFound {
		t.Fatal(err)
	}
	// Made-up methods create no series of their own.
	for i := range 5 {
		if err := call(ctx, cc, "/made.up.Svc/M"+string(rune('a'+i)), "x"); err != nil {
			t.Fatal(err)
		}
	}
	want := `
# HELP sluice_calls_total Calls that ended, by method, client protocol and gRPC status code.
# TYPE sluice_calls_total counter
sluice_calls_total{code="NotFound",method="/test.v1.Svc/Echo",protocol="grpc"} 1
sluice_calls_total{code="OK",method="/test.v1.Svc/Echo",protocol="grpc"} 1
sluice_calls_total{code="OK",method="unknown",protocol="grpc"} 5
# HELP sluice_received_messages_total Request messages received from clients, by method and client protocol.
# TYPE sluice_received_messages_total counter
sluice_received_messages_total{method="/test.v1.Svc/Echo",protocol="grpc"} 3
sluice_received_messages_total{method="unknown",protocol="grpc"} 5
# HELP sluice_sent_messages_total Response messages sent to clients, by method and client protocol.
# TYPE sluice_sent_messages_total counter
sluice_sent_messages_total{method="/test.v1.Svc/Echo",protocol="grpc"} 2
sluice_sent_messages_total{method="unknown",protocol="grpc"} 5
# HELP sluice_received_bytes_total Bytes of request messages received from clients (wire format), by method and client protocol.
# TYPE sluice_received_bytes_total counter
sluice_received_bytes_total{method="/test.v1.Svc/Echo",protocol="grpc"} 18
sluice_received_bytes_total{method="unknown",protocol="grpc"} 15
# HELP sluice_calls_in_flight Calls in the chain now, by method and client protocol.
# TYPE sluice_calls_in_flight gauge
sluice_calls_in_flight{method="/test.v1.Svc/Echo",protocol="grpc"} 0
sluice_calls_in_flight{method="unknown",protocol="grpc"} 0
# HELP sluice_build_info Always 1; the labels name the running build.
# TYPE sluice_build_info gauge
sluice_build_info{goversion="` + goVersion(t, reg) + `",revision="abc",version="v1.2.3"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"sluice_calls_total", "sluice_received_messages_total", "sluice_sent_messages_total",
		"sluice_received_bytes_total", "sluice_calls_in_flight", "sluice_build_info"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "sluice_call_duration_seconds"); err != nil || n != 3 {
		t.Errorf("duration series %d (%v), want 3", n, err)
	}
	// The Go runtime and process collectors are there by default.
	if n, err := testutil.GatherAndCount(reg, "go_goroutines", "process_cpu_seconds_total"); err != nil || n < 1 {
		t.Errorf("runtime collectors: %d series (%v)", n, err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// goVersion reads the goversion label sluice_build_info reports.
func goVersion(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "sluice_build_info" {
			for _, l := range mf.GetMetric()[0].GetLabel() {
				if l.GetName() == "goversion" {
					return l.GetValue()
				}
			}
		}
	}
	t.Fatal("no sluice_build_info")
	return ""
}

// The observers that are not per call: reloads, the rate limit store,
// upstream attempts and connectivity; each passes the linter on its own.
func TestOtherObservers(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.WithoutRuntimeCollectors())
	if err != nil {
		t.Fatal(err)
	}
	m.Reloaded("contracts", nil)
	m.Reloaded("contracts", errors.New("broken"))
	m.Reloaded("contracts", errors.New("broken again"))
	m.RateLimitStoreError()
	a := m.Attempts("library")
	a.Attempt("library", false)
	a.Attempt("library", true)
	if err := m.WatchUpstreams(func() []metrics.UpstreamState {
		return []metrics.UpstreamState{{Name: "library", State: "TRANSIENT_FAILURE"}}
	}); err != nil {
		t.Fatal(err)
	}
	if err := m.WatchUpstreams(func() []metrics.UpstreamState { return nil }); err == nil {
		t.Error("a second WatchUpstreams was accepted")
	}
	want := `
# HELP sluice_reloads_total Reloads, by what was reloaded (contracts, config) and result (success, failure).
# TYPE sluice_reloads_total counter
sluice_reloads_total{result="failure",what="contracts"} 2
sluice_reloads_total{result="success",what="contracts"} 1
# HELP sluice_rate_limit_store_errors_total Round trips to the global rate limit store (Redis) that failed; the failure mode then decides.
# TYPE sluice_rate_limit_store_errors_total counter
sluice_rate_limit_store_errors_total 1
# HELP sluice_upstream_attempts_total Attempts of calls to upstreams, the first and every retry, by upstream.
# TYPE sluice_upstream_attempts_total counter
sluice_upstream_attempts_total{upstream="library"} 2
# HELP sluice_upstream_retries_total Attempts of calls to upstreams after a call's first (retry policy and transparent retries), by upstream.
# TYPE sluice_upstream_retries_total counter
sluice_upstream_retries_total{upstream="library"} 1
# HELP sluice_upstream_connectivity_state The connectivity of each upstream's connection: 1 for its current state, 0 for the others.
# TYPE sluice_upstream_connectivity_state gauge
sluice_upstream_connectivity_state{state="CONNECTING",upstream="library"} 0
sluice_upstream_connectivity_state{state="IDLE",upstream="library"} 0
sluice_upstream_connectivity_state{state="READY",upstream="library"} 0
sluice_upstream_connectivity_state{state="SHUTDOWN",upstream="library"} 0
sluice_upstream_connectivity_state{state="TRANSIENT_FAILURE",upstream="library"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want),
		"sluice_reloads_total", "sluice_rate_limit_store_errors_total", "sluice_upstream_attempts_total",
		"sluice_upstream_retries_total", "sluice_upstream_connectivity_state"); err != nil {
		t.Error(err)
	}
	if ts, err := testutil.GatherAndCount(reg, "sluice_last_reload_success_timestamp_seconds"); err != nil || ts != 1 {
		t.Errorf("last reload timestamp: %d series (%v)", ts, err)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	if _, err := metrics.New(nil); err == nil {
		t.Error("a nil registry was accepted")
	}
	reg := prometheus.NewRegistry()
	if _, err := metrics.New(reg); err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.New(reg); err == nil {
		t.Error("registering twice into one registry was accepted")
	}
}

package main

import (
	"context"
	"encoding/hex"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// After a few demo calls, the admin port's /metrics has the gateway's
// families, the Go runtime's and the process's, and passes Prometheus'
// lint.
func TestServeMetrics(t *testing.T) {
	t.Parallel()
	p := startSluice(t, "serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	addr := p.waitLog(t, "gateway listening", "addr")
	admin := p.waitLog(t, "admin listening", "addr")
	cc := gatewaytest.Dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := libraryv1.NewLibraryServiceClient(cc).ListBooks(ctx, &libraryv1.ListBooksRequest{Parent: demo.SeedShelfClassics}); err != nil {
		t.Fatal(err)
	}
	res, err := http.Get("http://" + addr + "/v1/shelves/nope")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.Header.Get("X-Request-Id") == "" {
		t.Error("REST response has no X-Request-Id")
	}

	res, err = http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", res.StatusCode)
	}
	text := string(body)
	for _, want := range []string{
		`sluice_calls_total{code="OK",method="/sluice.demo.library.v1.LibraryService/ListBooks",protocol="grpc"} 1`,
		`sluice_calls_total{code="NotFound",method="/sluice.demo.library.v1.LibraryService/GetShelf",protocol="rest"} 1`,
		"sluice_call_duration_seconds_bucket{", "sluice_received_bytes_total{", "sluice_sent_messages_total{",
		"sluice_calls_in_flight{", "sluice_upstream_attempts_total{upstream=\"demo\"} 2",
		`sluice_upstream_connectivity_state{state="READY",upstream="demo"} 1`,
		`sluice_reloads_total{result="success",what="contracts"} 1`, "sluice_last_reload_success_timestamp_seconds{",
		"sluice_build_info{", "sluice_rate_limit_store_errors_total 0", "go_goroutines ", "process_cpu_seconds_total ",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	problems, err := promlint.New(strings.NewReader(text)).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// traceReceiver is an in-process OTLP receiver (gRPC).
type traceReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (r *traceReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

// With tracing configured, a REST call leaves a server span and a client
// span under it at the receiver, exported when SIGTERM stops the process
// (the shutdown flushes), and the upstream receives the client span's
// context.
func TestServeTracing(t *testing.T) {
	t.Parallel()
	recv := &traceReceiver{}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, recv)
	collector := gatewaytest.Serve(t, srv)

	var mu sync.Mutex
	var parents []string
	lib := demo.NewLibrary()
	upstream := gatewaytest.Serve(t, demo.NewServer(lib, grpc.ChainUnaryInterceptor(
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			mu.Lock()
			parents = append(parents, metadata.ValueFromIncomingContext(ctx, "traceparent")...)
			mu.Unlock()
			return h(ctx, req)
		})))
	t.Cleanup(lib.Close)
	cfgPath := writeConfig(t, `descriptor_sets: [../../gen/descriptors/demo.binpb]
upstreams:
  - name: library
    target: `+upstream+`
    methods: ["sluice.demo.library.v1.*"]
tracing:
  enabled: true
  endpoint: `+collector+`
  insecure: true
  sample_ratio: 1
`)
	p := startSluice(t, "serve", "--config", cfgPath, "--listen", "127.0.0.1:0", "--admin", "off")
	addr := p.waitLog(t, "gateway listening", "addr")
	res, err := http.Get("http://" + addr + "/v1/shelves/" + strings.TrimPrefix(demo.SeedShelfClassics, "shelves/"))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("REST GetShelf: %d", res.StatusCode)
	}
	if code := p.stop(t); code != 0 {
		t.Fatalf("exit code %d", code)
	}
	recv.mu.Lock()
	spans := append([]*tracepb.Span(nil), recv.spans...)
	recv.mu.Unlock()
	var server, client *tracepb.Span
	for _, s := range spans {
		switch s.GetKind() {
		case tracepb.Span_SPAN_KIND_SERVER:
			server = s
		case tracepb.Span_SPAN_KIND_CLIENT:
			client = s
		}
	}
	if server == nil || client == nil {
		t.Fatalf("spans at the receiver: %v; want a server and a client span", spans)
	}
	if string(client.GetParentSpanId()) != string(server.GetSpanId()) || string(client.GetTraceId()) != string(server.GetTraceId()) {
		t.Error("the client span is not a child of the server span")
	}
	want := "00-" + hex.EncodeToString(client.GetTraceId()) + "-" + hex.EncodeToString(client.GetSpanId()) + "-01"
	mu.Lock()
	defer mu.Unlock()
	if len(parents) != 1 || parents[0] != want {
		t.Errorf("upstream traceparent %v, want [%s]", parents, want)
	}
}

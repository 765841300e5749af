package e2e_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/config"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/httpstatus"
	"github.com/sluice-dev/sluice/interceptors/authn"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/policy"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/telemetry"
	"github.com/sluice-dev/sluice/telemetry/metrics"
	"github.com/sluice-dev/sluice/telemetry/tracing"
	"github.com/sluice-dev/sluice/transcoding"
	"github.com/sluice-dev/sluice/upstream"
)

// observedGateway is the demo behind the production chain with every
// observer on: metrics into its own registry, the access log into a
// buffer, and tracing when a tracer provider is given.
type observedGateway struct {
	base, addr string
	metrics    *prometheus.Registry
	log        *syncBuffer
	upstream   *mdRecorder
}

// mdRecorder records the metadata every upstream call arrived with, and
// the span context it continues.
type mdRecorder struct {
	mu    sync.Mutex
	calls []metadata.MD
}

func (r *mdRecorder) record(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	r.mu.Lock()
	r.calls = append(r.calls, md.Copy())
	r.mu.Unlock()
}

func (r *mdRecorder) all() []metadata.MD {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]metadata.MD(nil), r.calls...)
}

func (r *mdRecorder) unary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	r.record(ctx)
	return h(ctx, req)
}

func (r *mdRecorder) stream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	r.record(ss.Context())
	return h(srv, ss)
}

// syncBuffer is a bytes.Buffer for a logger written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// lines returns the JSON access log lines ("msg":"call") so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "call" {
			out = append(out, m)
		}
	}
	return out
}

func startObservedGateway(t *testing.T, tp trace.TracerProvider, limits []config.RateLimit) *observedGateway {
	t.Helper()
	rec := &mdRecorder{}
	addr := startDemo(t, grpc.ChainStreamInterceptor(rec.stream), grpc.ChainUnaryInterceptor(rec.unary))
	reg, err := registry.New(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	promReg := prometheus.NewRegistry()
	m, err := metrics.New(promReg, metrics.WithoutRuntimeCollectors(), metrics.WithBuildInfo("test", "abc"),
		metrics.WithMethodLabel(func(method string) string {
			if _, ok := reg.Snapshot().Method(method); ok {
				return method
			}
			return metrics.UnknownMethod
		}))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg := config.Default()
	cfg.Policy = demoPolicy()
	cfg.RateLimits.Limits = limits
	opts := []policy.Option{
		policy.WithAuthnOptions(authn.WithKeySource(authn.KeySourceFunc(func(context.Context) ([]byte, error) { return authn.DemoJWKS() }))),
		policy.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))),
		policy.WithMetrics(m),
		policy.WithHTTPStatus(httpstatus.FromCode),
	}
	handlers := []grpc.DialOption{grpc.WithStatsHandler(telemetry.AttemptHandler("library", m.Attempts("library")))}
	if tp != nil {
		opts = append(opts, policy.WithTracerProvider(tp))
		handlers = append(handlers, grpc.WithStatsHandler(tracing.ClientHandler(tp)))
	}
	chain, err := policy.Build(&cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(chain.Close)
	spec := upstream.Spec{
		Name: "library", Target: addr, Methods: []string{librarySvc}, DialOptions: handlers,
		// GetShelf is retried on UNAVAILABLE: each attempt is seen.
		Retry: &upstream.RetryPolicy{
			Methods: []string{librarySvc + ".GetShelf"}, MaxAttempts: 3,
			InitialBackoff: time.Millisecond, MaxBackoff: 2 * time.Millisecond,
		},
	}
	kinds := server.WithMethodKinds(func(method string) (bool, bool, bool) {
		md, ok := reg.Snapshot().Method(method)
		if !ok {
			return false, false, false
		}
		return md.ClientStreaming(), md.ServerStreaming(), true
	})
	gw := gatewaytest.NewGatewayWithProxy(t, []upstream.Spec{spec}, []server.ProxyOption{kinds}, chain.Interceptors()...)
	if err := m.WatchUpstreams(func() []metrics.UpstreamState {
		var out []metrics.UpstreamState
		for _, s := range gw.Upstreams.States() {
			out = append(out, metrics.UpstreamState{Name: s.Name, State: s.State.String()})
		}
		return out
	}); err != nil {
		t.Fatal(err)
	}
	routes, err := transcoding.BuildRoutes(reg.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	rest, err := transcoding.NewREST(func() *transcoding.Routes { return routes }, gw.Dispatcher,
		transcoding.WithExtraIncomingHeaders(chain.RESTHeaders()...))
	if err != nil {
		t.Fatal(err)
	}
	gw.Start(t, server.WithHTTPHandler(rest))
	return &observedGateway{base: "http://" + gw.Addr, addr: gw.Addr, metrics: promReg, log: logs, upstream: rec}
}

func (g *observedGateway) rest(t *testing.T, method, path, body string, header http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, g.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp
}

// After a few calls of every kind, /metrics has the families with the
// right labels and values, and passes Prometheus' lint.
func TestObservabilityMetrics(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startObservedGateway(t, nil, []config.RateLimit{{
		Name: "listbooks", Methods: []string{librarySvc + ".ListBooks"}, Key: "global", Rate: 1, Period: config.Duration(time.Hour), Burst: 1,
	}})
	cc := gatewaytest.Dial(t, "passthrough:///"+g.addr)
	client := libraryv1.NewLibraryServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	if _, err := client.ListShelves(ctx, &libraryv1.ListShelvesRequest{}); err != nil {
		t.Fatal(err)
	}
	// ListBooks: the first is admitted, the second limited.
	if _, err := client.ListBooks(ctx, &libraryv1.ListBooksRequest{Parent: "shelves/classics"}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.ListBooks(ctx, &libraryv1.ListBooksRequest{Parent: "shelves/classics"}); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("second ListBooks: %v, want RESOURCE_EXHAUSTED", err)
	}
	// GetShelf fails UNAVAILABLE on every attempt: 3 attempts, 2 retries.
	fail := metadata.AppendToOutgoingContext(ctx, "x-demo-fail", "14")
	if _, err := client.GetShelf(fail, &libraryv1.GetShelfRequest{Name: "shelves/classics"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("failing GetShelf: %v, want UNAVAILABLE", err)
	}
	if r := g.rest(t, "GET", "/v1/shelves/nope", "", nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("REST GetShelf: %d, want 404", r.StatusCode)
	}
	if r := g.rest(t, "POST", "/v1/shelves", `{"displayName":"Poetry"}`, nil); r.StatusCode != http.StatusUnauthorized {
		t.Fatalf("REST CreateShelf without a token: %d, want 401", r.StatusCode)
	}
	// A method no contract has: labelled unknown, never by its name (and
	// refused, since no rule opens it).
	if _, _, err := gatewaytest.Call(ctx, cc, "/"+librarySvc+"/NoSuchMethod", "x"); status.Code(err) != codes.Unauthenticated {
		t.Fatalf("unknown method: %v, want UNAUTHENTICATED", err)
	}

	const m = "/" + librarySvc + "/"
	want := fmt.Sprintf(`
# HELP sluice_calls_total Calls that ended, by method, client protocol and gRPC status code.
# TYPE sluice_calls_total counter
sluice_calls_total{code="NotFound",method="%[1]sGetShelf",protocol="rest"} 1
sluice_calls_total{code="OK",method="%[1]sListBooks",protocol="grpc"} 1
sluice_calls_total{code="OK",method="%[1]sListShelves",protocol="grpc"} 1
sluice_calls_total{code="ResourceExhausted",method="%[1]sListBooks",protocol="grpc"} 1
sluice_calls_total{code="Unauthenticated",method="%[1]sCreateShelf",protocol="rest"} 1
sluice_calls_total{code="Unavailable",method="%[1]sGetShelf",protocol="grpc"} 1
sluice_calls_total{code="Unauthenticated",method="unknown",protocol="grpc"} 1
# HELP sluice_policy_refusals_total Calls a policy refused or ended, by policy (authn, authz, rate_limit, concurrency, deadline, flow) and reason (the status code, lower snake case).
# TYPE sluice_policy_refusals_total counter
sluice_policy_refusals_total{policy="authn",reason="unauthenticated"} 2
sluice_policy_refusals_total{policy="rate_limit",reason="resource_exhausted"} 1
# HELP sluice_rate_limit_decisions_total Calls the rate limit policy decided on, by decision: allowed (also calls no limit applies to) or limited.
# TYPE sluice_rate_limit_decisions_total counter
sluice_rate_limit_decisions_total{decision="allowed"} 4
sluice_rate_limit_decisions_total{decision="limited"} 1
# HELP sluice_upstream_attempts_total Attempts of calls to upstreams, the first and every retry, by upstream.
# TYPE sluice_upstream_attempts_total counter
sluice_upstream_attempts_total{upstream="library"} 6
# HELP sluice_upstream_retries_total Attempts of calls to upstreams after a call's first (retry policy and transparent retries), by upstream.
# TYPE sluice_upstream_retries_total counter
sluice_upstream_retries_total{upstream="library"} 2
# HELP sluice_upstream_connectivity_state The connectivity of each upstream's connection: 1 for its current state, 0 for the others.
# TYPE sluice_upstream_connectivity_state gauge
sluice_upstream_connectivity_state{state="CONNECTING",upstream="library"} 0
sluice_upstream_connectivity_state{state="IDLE",upstream="library"} 0
sluice_upstream_connectivity_state{state="READY",upstream="library"} 1
sluice_upstream_connectivity_state{state="SHUTDOWN",upstream="library"} 0
sluice_upstream_connectivity_state{state="TRANSIENT_FAILURE",upstream="library"} 0
`, m)
	if err := testutil.GatherAndCompare(g.metrics, strings.NewReader(want),
		"sluice_calls_total", "sluice_policy_refusals_total", "sluice_rate_limit_decisions_total",
		"sluice_upstream_attempts_total", "sluice_upstream_retries_total", "sluice_upstream_connectivity_state"); err != nil {
		t.Error(err)
	}
	// Messages and bytes each way, counted at the chain's boundary.
	if n := testutil.ToFloat64(mustCounter(t, g.metrics, "sluice_received_messages_total", m+"ListShelves", "grpc")); n != 1 {
		t.Errorf("ListShelves received messages = %v, want 1", n)
	}
	if n := testutil.ToFloat64(mustCounter(t, g.metrics, "sluice_sent_bytes_total", m+"ListShelves", "grpc")); n <= 0 {
		t.Errorf("ListShelves sent bytes = %v, want > 0", n)
	}
	if n := testutil.ToFloat64(mustCounter(t, g.metrics, "sluice_calls_in_flight", m+"ListShelves", "grpc")); n != 0 {
		t.Errorf("ListShelves in flight after the call = %v, want 0", n)
	}
	if n, err := testutil.GatherAndCount(g.metrics, "sluice_call_duration_seconds"); err != nil || n != 7 {
		t.Errorf("duration histograms: %d (%v), want 7", n, err)
	}
	problems, err := testutil.GatherAndLint(g.metrics)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// mustCounter returns the one series of family name with labels method
// and protocol, as a collector testutil.ToFloat64 reads.
func mustCounter(t *testing.T, reg *prometheus.Registry, name, method, proto string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["method"] == method && labels["protocol"] == proto {
				v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
				return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "x", Help: "x"}, func() float64 { return v })
			}
		}
	}
	t.Fatalf("no series %s{method=%q,protocol=%q}", name, method, proto)
	return nil
}

// The access log names every call's request id (the client's or a
// generated one, echoed to the client and sent upstream), its subject,
// HTTP status, upstream, address and attempts, and the refusing policy.
func TestObservabilityAccessLog(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startObservedGateway(t, nil, nil)
	cc := gatewaytest.Dial(t, "passthrough:///"+g.addr)
	client := libraryv1.NewLibraryServiceClient(cc)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// gRPC with the client's request id and a token.
	tok := mintToken(t, "alice", []string{"library.write"}, nil)
	var header metadata.MD
	callCtx := metadata.AppendToOutgoingContext(ctx, "x-request-id", "req-grpc-1", "authorization", "Bearer "+tok)
	if _, err := client.CreateShelf(callCtx, &libraryv1.CreateShelfRequest{Shelf: &libraryv1.Shelf{DisplayName: "Poetry"}}, grpc.Header(&header)); err != nil {
		t.Fatal(err)
	}
	if got := header.Get("x-request-id"); len(got) != 1 || got[0] != "req-grpc-1" {
		t.Errorf("gRPC response x-request-id = %q, want the client's", got)
	}
	// REST without a request id: one is generated and echoed.
	resp := g.rest(t, "GET", "/v1/shelves/nope", "", nil)
	restID := resp.Header.Get("X-Request-Id")
	if len(restID) < 16 {
		t.Errorf("REST X-Request-Id = %q, want a generated id", restID)
	}
	// A retried call: three attempts.
	fail := metadata.AppendToOutgoingContext(ctx, "x-demo-fail", "14", "x-request-id", "req-retried")
	if _, err := client.GetShelf(fail, &libraryv1.GetShelfRequest{Name: "shelves/classics"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("failing GetShelf: %v", err)
	}
	// A refusal.
	g.rest(t, "POST", "/v1/shelves", `{"displayName":"Poetry"}`, http.Header{"X-Request-Id": {"req-refused"}})

	byID := map[string]map[string]any{}
	for _, l := range g.log.lines(t) {
		id, _ := l["request_id"].(string)
		byID[id] = l
	}
	check := func(id string, want map[string]any) {
		t.Helper()
		line, ok := byID[id]
		if !ok {
			t.Errorf("no access log line with request_id %q in %v", id, byID)
			return
		}
		for k, v := range want {
			if line[k] != v {
				t.Errorf("request %s: %s = %v (%T), want %v", id, k, line[k], line[k], v)
			}
		}
		if _, ok := line["trace_id"]; ok {
			t.Errorf("request %s: trace_id %v with tracing off", id, line["trace_id"])
		}
	}
	check("req-grpc-1", map[string]any{"subject": "alice", "upstream": "library", "attempts": float64(1), "protocol": "grpc", "code": "OK"})
	check(restID, map[string]any{"http_status": float64(404), "upstream": "library", "attempts": float64(1), "protocol": "rest"})
	check("req-retried", map[string]any{"attempts": float64(3), "code": "Unavailable"})
	check("req-refused", map[string]any{"http_status": float64(401), "refused_by": "authn", "refusal": "unauthenticated"})
	if addr, _ := byID["req-grpc-1"]["upstream_addr"].(string); !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Errorf("upstream_addr = %q, want the upstream's loopback address", addr)
	}
	if _, ok := byID["req-refused"]["upstream"]; ok {
		t.Error("a refused call names an upstream")
	}
	// The upstream got the request ids, the generated one too.
	seen := map[string]int{}
	for _, md := range g.upstream.all() {
		for _, id := range md.Get("x-request-id") {
			seen[id]++
		}
	}
	if seen["req-grpc-1"] != 1 || seen[restID] != 1 || seen["req-retried"] != 3 {
		t.Errorf("request ids the upstream saw: %v", seen)
	}
}

// otlpReceiver is an in-process OTLP trace receiver (the collector's
// TraceService over gRPC).
type otlpReceiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (r *otlpReceiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, rs := range req.GetResourceSpans() {
		for _, ss := range rs.GetScopeSpans() {
			r.spans = append(r.spans, ss.GetSpans()...)
		}
	}
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (r *otlpReceiver) all() []*tracepb.Span {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*tracepb.Span(nil), r.spans...)
}

func spanAttrs(s *tracepb.Span) map[string]any {
	out := map[string]any{}
	for _, kv := range s.GetAttributes() {
		v := kv.GetValue()
		switch {
		case v.GetStringValue() != "":
			out[kv.GetKey()] = v.GetStringValue()
		default:
			out[kv.GetKey()] = v.GetIntValue()
		}
	}
	return out
}

// A REST call and a retried gRPC call are traced: a server span per call,
// child of the client's traceparent, a client span per upstream attempt,
// child of the server span, and the upstream continues the attempt's
// span. Spans go through the OTLP exporter to an in-process receiver.
func TestObservabilityTracing(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	recv := &otlpReceiver{}
	srv := grpc.NewServer()
	coltracepb.RegisterTraceServiceServer(srv, recv)
	collector := gatewaytest.Serve(t, srv)
	tp, err := tracing.NewProvider(context.Background(), tracing.WithOTLP(tracing.OTLPGRPC, collector, true, nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	g := startObservedGateway(t, tp, nil)

	const clientTrace = "4bf92f3577b34da6a3ce929d0e0e4736"
	const clientSpan = "00f067aa0ba902b7"
	resp := g.rest(t, "GET", "/v1/shelves/classics", "", http.Header{
		"Traceparent": {"00-" + clientTrace + "-" + clientSpan + "-01"},
		"Baggage":     {"tenant=acme"},
	})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("REST GetShelf: %d", resp.StatusCode)
	}
	cc := gatewaytest.Dial(t, "passthrough:///"+g.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fail := metadata.AppendToOutgoingContext(ctx, "x-demo-fail", "14")
	if _, err := libraryv1.NewLibraryServiceClient(cc).GetShelf(fail, &libraryv1.GetShelfRequest{Name: "shelves/classics"}); status.Code(err) != codes.Unavailable {
		t.Fatalf("failing GetShelf: %v", err)
	}
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	spans := recv.all()
	hexID := func(b []byte) string { return hex.EncodeToString(b) }

	// The REST call: server span under the client's span.
	var server *tracepb.Span
	for _, s := range spans {
		if s.GetKind() == tracepb.Span_SPAN_KIND_SERVER && hexID(s.GetTraceId()) == clientTrace {
			server = s
		}
	}
	if server == nil {
		t.Fatalf("no server span in the client's trace among %d spans", len(spans))
	}
	if got := hexID(server.GetParentSpanId()); got != clientSpan {
		t.Errorf("server span parent = %s, want the client's %s", got, clientSpan)
	}
	if server.GetName() != librarySvc+"/GetShelf" {
		t.Errorf("server span name = %q", server.GetName())
	}
	wantAttrs := map[string]any{
		"rpc.system": "grpc", "rpc.service": librarySvc, "rpc.method": "GetShelf", "rpc.grpc.status_code": int64(0),
		"http.request.method": "GET", "http.response.status_code": int64(200),
	}
	got := spanAttrs(server)
	for k, v := range wantAttrs {
		if got[k] != v {
			t.Errorf("server span %s = %v, want %v", k, got[k], v)
		}
	}
	var clients []*tracepb.Span
	for _, s := range spans {
		if s.GetKind() == tracepb.Span_SPAN_KIND_CLIENT && hexID(s.GetTraceId()) == clientTrace {
			clients = append(clients, s)
		}
	}
	if len(clients) != 1 || hexID(clients[0].GetParentSpanId()) != hexID(server.GetSpanId()) {
		t.Fatalf("REST call's client spans: %v, want one child of the server span", clients)
	}
	// The upstream continued the client span, and got the baggage.
	prop := tracing.Propagator()
	var upstreamParents []string
	var sawBaggage bool
	for _, md := range g.upstream.all() {
		ctx := prop.Extract(context.Background(), propagation.HeaderCarrier(httpHeader(md)))
		sc := trace.SpanContextFromContext(ctx)
		if sc.TraceID().String() == clientTrace {
			upstreamParents = append(upstreamParents, sc.SpanID().String())
			sawBaggage = sawBaggage || strings.Contains(strings.Join(md.Get("baggage"), ","), "tenant=acme")
		}
	}
	if len(upstreamParents) != 1 || upstreamParents[0] != hexID(clients[0].GetSpanId()) {
		t.Errorf("upstream's parent spans %v, want the client span %s", upstreamParents, hexID(clients[0].GetSpanId()))
	}
	if !sawBaggage {
		t.Error("the upstream did not get the client's baggage")
	}

	// The retried gRPC call: a new trace, one server span, three
	// client spans (one per attempt), each a child of it.
	var retried *tracepb.Span
	for _, s := range spans {
		if s.GetKind() == tracepb.Span_SPAN_KIND_SERVER && hexID(s.GetTraceId()) != clientTrace {
			retried = s
		}
	}
	if retried == nil {
		t.Fatal("no server span for the gRPC call")
	}
	a := spanAttrs(retried)
	if a["rpc.grpc.status_code"] != int64(codes.Unavailable) || a["sluice.protocol"] != "grpc" {
		t.Errorf("gRPC server span attributes: %v", a)
	}
	if _, ok := a["http.request.method"]; ok {
		t.Error("a gRPC call's span has http.request.method")
	}
	if retried.GetStatus().GetCode() != tracepb.Status_STATUS_CODE_ERROR {
		t.Errorf("UNAVAILABLE server span status = %v, want error", retried.GetStatus())
	}
	attempts := 0
	for _, s := range spans {
		if s.GetKind() == tracepb.Span_SPAN_KIND_CLIENT && hexID(s.GetParentSpanId()) == hexID(retried.GetSpanId()) {
			attempts++
		}
	}
	if attempts != 3 {
		t.Errorf("client spans under the retried call = %d, want 3 (one per attempt)", attempts)
	}
	// The access log names the trace.
	found := false
	for _, l := range g.log.lines(t) {
		if l["trace_id"] == clientTrace {
			found = true
		}
	}
	if !found {
		t.Error("no access log line names the REST call's trace id")
	}
}

// httpHeader turns gRPC metadata into HTTP headers for a propagator.
func httpHeader(md metadata.MD) http.Header {
	h := http.Header{}
	for k, vs := range md {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	return h
}

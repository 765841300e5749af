package tracing_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/telemetry"
	"github.com/sluice-dev/sluice/telemetry/tracing"
)

// A native gRPC call with W3C trace context in its metadata gets a server
// span under the client's span, with its tracestate, RPC attributes and
// the request id; a failure of the server's side marks it an error.
func TestServerSpanFromGRPCMetadata(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	exp := tracetest.NewInMemoryExporter()
	tp, err := tracing.NewProvider(context.Background(), tracing.WithSpanExporter(exp))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	var mu sync.Mutex
	var inner []trace.SpanContext // what the rest of the chain sees
	handler := func(_ any, ss grpc.ServerStream) error {
		mu.Lock()
		inner = append(inner, trace.SpanContextFromContext(ss.Context()))
		mu.Unlock()
		if err := ss.RecvMsg(new(wrapperspb.StringValue)); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		return status.Error(codes.Unavailable, "upstream down")
	}
	addr := gatewaytest.StartUpstream(t, handler, grpc.ChainStreamInterceptor(
		telemetry.StreamServerInterceptor(), tracing.StreamServerInterceptor(tp)))
	cc := gatewaytest.Dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx,
		"traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"tracestate", "vendor=opaque", "x-request-id", "req-1")
	_, _, err = gatewaytest.Call(ctx, cc, "/pkg.v1.Svc/Do", "x")
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("call: %v", err)
	}
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name != "pkg.v1.Svc/Do" || s.SpanKind != trace.SpanKindServer {
		t.Errorf("span %q kind %v", s.Name, s.SpanKind)
	}
	if s.Parent.TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" || s.Parent.SpanID().String() != "00f067aa0ba902b7" || !s.Parent.IsRemote() {
		t.Errorf("parent %v, want the client's remote span", s.Parent)
	}
	if got := s.SpanContext.TraceState().Get("vendor"); got != "opaque" {
		t.Errorf("tracestate vendor=%q, want opaque", got)
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, a := range s.Attributes {
		attrs[a.Key] = a.Value
	}
	for k, want := range map[attribute.Key]string{
		"rpc.system": "grpc", "rpc.service": "pkg.v1.Svc", "rpc.method": "Do", "sluice.protocol": "grpc", "sluice.request_id": "req-1",
	} {
		if got := attrs[k].AsString(); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if got := attrs["rpc.grpc.status_code"].AsInt64(); got != int64(codes.Unavailable) {
		t.Errorf("rpc.grpc.status_code = %d", got)
	}
	if _, ok := attrs["http.request.method"]; ok {
		t.Error("a gRPC call has http.request.method")
	}
	if s.Status.Code.String() != "Error" {
		t.Errorf("status %v, want Error for UNAVAILABLE", s.Status)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(inner) != 1 || inner[0].SpanID() != s.SpanContext.SpanID() {
		t.Errorf("the chain after the interceptor sees span %v, want the server span", inner)
	}
}

// Spans reach an OTLP/HTTP receiver; shutting the provider down flushes
// them.
func TestProviderExportsOverOTLPHTTP(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var names []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if r.URL.Path != "/v1/traces" || proto.Unmarshal(body, &req) != nil {
			http.Error(w, "bad export", http.StatusBadRequest)
			return
		}
		mu.Lock()
		for _, rs := range req.GetResourceSpans() {
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					names = append(names, s.GetName())
				}
			}
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		out, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		_, _ = w.Write(out)
	}))
	t.Cleanup(recv.Close)
	ctx := context.Background()
	tp, err := tracing.NewProvider(ctx,
		tracing.WithOTLP(tracing.OTLPHTTP, strings.TrimPrefix(recv.URL, "http://"), true, map[string]string{"x-tenant": "t"}),
		tracing.WithServiceName("sluice-test"))
	if err != nil {
		t.Fatal(err)
	}
	_, span := tp.Tracer("test").Start(ctx, "one")
	span.End()
	if err := tp.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(names) != 1 || names[0] != "one" {
		t.Errorf("exported %v, want [one]", names)
	}
}

// The sampler: a ratio of 0 samples no trace that starts at the gateway,
// but follows a client's sampled parent; ratios outside [0, 1] are
// refused.
func TestSampler(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	if _, err := tracing.NewProvider(ctx, tracing.WithSampleRatio(1.5), tracing.WithSpanExporter(tracetest.NewInMemoryExporter())); err == nil {
		t.Error("ratio 1.5 accepted")
	}
	exp := tracetest.NewInMemoryExporter()
	tp, err := tracing.NewProvider(ctx, tracing.WithSampleRatio(0), tracing.WithSpanExporter(exp))
	if err != nil {
		t.Fatal(err)
	}
	_, root := tp.Tracer("test").Start(ctx, "root")
	root.End()
	parent := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1}, SpanID: trace.SpanID{1}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	_, child := tp.Tracer("test").Start(trace.ContextWithRemoteSpanContext(ctx, parent), "child")
	child.End()
	if err := tp.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tp.Shutdown(ctx) }()
	var names []string
	for _, s := range exp.GetSpans() {
		names = append(names, s.Name)
	}
	if len(names) != 1 || names[0] != "child" {
		t.Errorf("sampled %v, want [child]", names)
	}
}

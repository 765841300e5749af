package metrics_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/telemetry"
	"github.com/sluice-dev/sluice/telemetry/metrics"
)

// unaryStream is an in-process grpc.ServerStream of one unary call: one
// request in, one response out, so that the benchmark measures the
// interceptors and nothing of a transport.
type unaryStream struct {
	ctx context.Context
}

func (s *unaryStream) SetHeader(metadata.MD) error  { return nil }
func (s *unaryStream) SendHeader(metadata.MD) error { return nil }
func (s *unaryStream) SetTrailer(metadata.MD)       {}
func (s *unaryStream) Context() context.Context     { return s.ctx }
func (s *unaryStream) SendMsg(any) error            { return nil }
func (s *unaryStream) RecvMsg(any) error            { return nil }

// BenchmarkInterceptor is the per-call cost of the observers on the unary
// path, tracing off: "record" is the call record alone (request id,
// counts; always on), "metrics" adds the metrics interceptor. The
// client's request id is sent, as a load balancer in front would; without
// one the record generates it (see "record-generated-id").
//
//	go test ./telemetry/metrics -run '^$' -bench Interceptor -benchmem -count 5
func BenchmarkInterceptor(b *testing.B) {
	m, err := metrics.New(prometheus.NewRegistry(), metrics.WithoutRuntimeCollectors(),
		metrics.WithMethodLabel(func(method string) string { return method }))
	if err != nil {
		b.Fatal(err)
	}
	record := telemetry.StreamServerInterceptor()
	withID := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-request-id", "0123456789abcdef", "content-type", "application/grpc"))
	withoutID := metadata.NewIncomingContext(context.Background(), metadata.Pairs("content-type", "application/grpc"))
	info := &grpc.StreamServerInfo{FullMethod: "/test.v1.Svc/Echo"}
	handler := func(_ any, ss grpc.ServerStream) error {
		in := new(wrapperspb.StringValue)
		if err := ss.RecvMsg(in); err != nil {
			return err
		}
		return ss.SendMsg(in)
	}
	chains := []struct {
		name  string
		ctx   context.Context
		chain []grpc.StreamServerInterceptor
	}{
		{"none", withID, nil},
		{"record", withID, []grpc.StreamServerInterceptor{record}},
		{"record-generated-id", withoutID, []grpc.StreamServerInterceptor{record}},
		{"metrics", withID, []grpc.StreamServerInterceptor{record, m.StreamServerInterceptor()}},
	}
	for _, c := range chains {
		b.Run(c.name, func(b *testing.B) {
			h := handler
			for i := len(c.chain) - 1; i >= 0; i-- {
				next, in := h, c.chain[i]
				h = func(srv any, ss grpc.ServerStream) error { return in(srv, ss, info, next) }
			}
			ss := &unaryStream{ctx: c.ctx}
			b.ReportAllocs()
			for b.Loop() {
				if err := h(nil, ss); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

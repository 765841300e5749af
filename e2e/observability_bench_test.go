package e2e_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluice-dev/sluice/config"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/policy"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/telemetry/metrics"
	"github.com/sluice-dev/sluice/upstream"
)

// BenchmarkObservedUnary is a unary gRPC call through the production
// chain of the default configuration (an open gateway), over loopback,
// with metrics off and on (tracing off). Client, gateway and upstream run
// in one process, so allocs/op count all three; the difference between
// the rows is the metrics' share.
//
//	go test ./e2e -run '^$' -bench ObservedUnary -benchmem -count 5
func BenchmarkObservedUnary(b *testing.B) {
	reg, err := registry.New(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto))
	if err != nil {
		b.Fatal(err)
	}
	addr := startDemo(b)
	kinds := server.WithMethodKinds(func(method string) (bool, bool, bool) {
		md, ok := reg.Snapshot().Method(method)
		if !ok {
			return false, false, false
		}
		return md.ClientStreaming(), md.ServerStreaming(), true
	})
	for _, on := range []bool{false, true} {
		name := "metrics-off"
		cfg := config.Default()
		var opts []policy.Option
		if on {
			name = "metrics-on"
			m, err := metrics.New(prometheus.NewRegistry(), metrics.WithoutRuntimeCollectors(),
				metrics.WithMethodLabel(func(method string) string {
					if _, ok := reg.Snapshot().Method(method); ok {
						return method
					}
					return metrics.UnknownMethod
				}))
			if err != nil {
				b.Fatal(err)
			}
			opts = append(opts, policy.WithMetrics(m))
		}
		chain, err := policy.Build(&cfg, opts...)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(chain.Close)
		gw := gatewaytest.NewGatewayWithProxy(b, []upstream.Spec{{Name: "library", Target: addr, Methods: []string{librarySvc}}},
			[]server.ProxyOption{kinds}, chain.Interceptors()...)
		gw.Start(b)
		client := libraryv1.NewLibraryServiceClient(gatewaytest.Dial(b, gw.Addr))
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			req := &libraryv1.GetShelfRequest{Name: "shelves/classics"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := client.GetShelf(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

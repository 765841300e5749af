package tracing_test

import (
	"context"
	"fmt"

	"google.golang.org/grpc/stats"

	"github.com/sluice-dev/sluice/telemetry/tracing"
	"github.com/sluice-dev/sluice/upstream"
)

// Tracing on: a provider exporting over OTLP, the server interceptor in
// the chain, and the client handler on every upstream connection. It
// connects to the collector only when it first exports.
func ExampleNewProvider() {
	ctx := context.Background()
	tp, err := tracing.NewProvider(ctx,
		tracing.WithOTLP(tracing.OTLPGRPC, "127.0.0.1:4317", true, nil),
		tracing.WithSampleRatio(0.1))
	if err != nil {
		panic(err)
	}
	defer func() { _ = tp.Shutdown(ctx) }() // flushes what is queued
	in := tracing.StreamServerInterceptor(tp)
	pool, err := upstream.NewPool([]upstream.Spec{{Target: "127.0.0.1:50051", Methods: []string{"library.v1.*"}}},
		upstream.WithStatsHandlers(func(string) []stats.Handler { return []stats.Handler{tracing.ClientHandler(tp)} }))
	if err != nil {
		panic(err)
	}
	defer func() { _ = pool.Close() }()
	fmt.Println(in != nil)
	// Output: true
}

package metrics_test

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/sluice-dev/sluice/telemetry"
	"github.com/sluice-dev/sluice/telemetry/metrics"
)

// The gateway's metrics go into a registry of the caller's; the chain
// counts calls with the interceptor, right after the call record, and
// the admin port serves Handler at /metrics.
func ExampleNew() {
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, metrics.WithMethodLabel(func(method string) string {
		if method == "/library.v1.Library/GetBook" { // a contract's method
			return method
		}
		return metrics.UnknownMethod
	}))
	if err != nil {
		panic(err)
	}
	chain := []grpc.StreamServerInterceptor{telemetry.StreamServerInterceptor(), m.StreamServerInterceptor()}
	_ = m.Handler() // GET /metrics
	fmt.Println(len(chain))
	// Output: 2
}

package telemetry

import (
	"context"

	estats "google.golang.org/grpc/experimental/stats"
	"google.golang.org/grpc/stats"
)

// AttemptObserver hears of every attempt of an upstream call, for
// metrics: retry is true for every attempt after a call's first.
type AttemptObserver interface {
	Attempt(upstream string, retry bool)
}

// BalancerMetricObserver, when an AttemptObserver implements it, hears
// the counts the upstream connection's load-balancing policy reports
// through grpc-go's metrics API (the outlier-detection policy's
// ejections), by the metric's name.
type BalancerMetricObserver interface {
	BalancerCount(metric string, incr int64)
}

// AttemptHandler is a gRPC client stats handler for one upstream's
// connection: it records every attempt (the retry policy's and grpc-go's
// transparent retries alike) and the address it went to in the Call of
// the call it belongs to, which the access log shows. obs, when not nil,
// is told of each attempt too. Install it with grpc.WithStatsHandler.
func AttemptHandler(upstream string, obs AttemptObserver) stats.Handler {
	return &attemptHandler{upstream: upstream, obs: obs}
}

type attemptHandler struct {
	estats.UnimplementedMetricsRecorder
	upstream string
	obs      AttemptObserver
}

// RecordInt64Count receives the counts of the connection's load-balancing
// policy: grpc-go hands a balancer the stats handlers that record metrics.
func (h *attemptHandler) RecordInt64Count(handle *estats.Int64CountHandle, incr int64, _ ...string) {
	if o, ok := h.obs.(BalancerMetricObserver); ok {
		o.BalancerCount(handle.Descriptor().Name, incr)
	}
}

func (h *attemptHandler) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return ctx
}

func (h *attemptHandler) HandleRPC(ctx context.Context, s stats.RPCStats) {
	switch s := s.(type) {
	case *stats.Begin:
		n := 1
		if c := FromContext(ctx); c != nil {
			n = c.attempt(h.upstream)
		}
		if h.obs != nil {
			h.obs.Attempt(h.upstream, n > 1 || s.IsTransparentRetryAttempt)
		}
	case *stats.OutHeader:
		if c := FromContext(ctx); c != nil && s.RemoteAddr != nil {
			c.setUpstreamAddr(s.RemoteAddr.String())
		}
	}
}

func (h *attemptHandler) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}

func (h *attemptHandler) HandleConn(context.Context, stats.ConnStats) {}

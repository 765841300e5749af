package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/fx"
	"google.golang.org/grpc/stats"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/httpstatus"
	"github.com/sluice-dev/sluice/methodpattern"
	"github.com/sluice-dev/sluice/policy"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/telemetry"
	"github.com/sluice-dev/sluice/telemetry/metrics"
	"github.com/sluice-dev/sluice/telemetry/tracing"
)

var telemetryModule = fx.Module("telemetry",
	fx.Provide(newObservability),
	fx.Invoke(watchUpstreams),
)

// observability is what the configuration turned on: metrics (nil when
// off, or when there is no admin server to serve them) and tracing (nil
// when off: the chain and the upstream connections then have no tracing
// at all).
type observability struct {
	metrics *metrics.Metrics
	tracer  trace.TracerProvider
}

func newObservability(lc fx.Lifecycle, cfg *config.Config, reg *registry.Registry, logger *slog.Logger) (*observability, error) {
	obs := &observability{}
	if cfg.Metrics.Enabled && cfg.AdminAddr() != "" {
		b := readBuildInfo()
		m, err := metrics.New(prometheus.NewRegistry(), metrics.WithMethodLabel(methodLabel(cfg, reg)),
			metrics.WithBuildInfo(b.Version, b.revision()))
		if err != nil {
			return nil, err
		}
		obs.metrics = m
	}
	if t := cfg.Tracing; t.Enabled {
		tp, err := tracing.NewProvider(context.Background(),
			tracing.WithOTLP(tracing.Exporter(t.Exporter), t.Endpoint, t.Insecure, nil),
			tracing.WithSampleRatio(t.SampleRatio),
			tracing.WithServiceName(t.ServiceName))
		if err != nil {
			return nil, fmt.Errorf("tracing: %w", err)
		}
		obs.tracer = tp
		logger.Info("tracing on", "exporter", string(t.Exporter), "endpoint", t.Endpoint, "sample_ratio", t.SampleRatio)
		// Appended before the gateway's hook, so it runs after the
		// gateway drained: the last calls' spans are flushed too.
		lc.Append(fx.Hook{OnStop: func(ctx context.Context) error {
			if err := tp.Shutdown(ctx); err != nil {
				logger.Warn("tracing: flushing spans at shutdown", "error", err)
			}
			return nil
		}})
	}
	return obs, nil
}

// upstreamHandlers are the observers of one upstream's connection: every
// attempt and its address for the access log (and the metrics), and a
// client span per attempt when tracing is on.
func (o *observability) upstreamHandlers(name string) []stats.Handler {
	var counter telemetry.AttemptObserver
	if o.metrics != nil {
		counter = o.metrics.Attempts(name)
	}
	hs := []stats.Handler{telemetry.AttemptHandler(name, counter)}
	if o.tracer != nil {
		hs = append(hs, tracing.ClientHandler(o.tracer))
	}
	return hs
}

// policyOptions give the chain its observers.
func (o *observability) policyOptions() []policy.Option {
	opts := []policy.Option{policy.WithHTTPStatus(httpstatus.FromCode)}
	if o.metrics != nil {
		opts = append(opts, policy.WithMetrics(o.metrics))
	}
	if o.tracer != nil {
		opts = append(opts, policy.WithTracerProvider(o.tracer))
	}
	return opts
}

// reloadedConfig records a configuration reload in the metrics.
func (o *observability) reloadedConfig(err error) {
	if o.metrics != nil {
		o.metrics.Reloaded("config", err)
	}
}

// reloaded records a contracts reload in the metrics.
func (o *observability) reloaded(err error) {
	if o.metrics != nil {
		o.metrics.Reloaded("contracts", err)
	}
}

// methodLabel is the metrics' method label of a call: the method itself
// when the current contracts describe it, else the configured upstream
// pattern that routes it, else metrics.UnknownMethod. Label values stay
// bounded whatever methods clients make up.
func methodLabel(cfg *config.Config, reg *registry.Registry) func(string) string {
	var patterns methodpattern.Table[string]
	for _, u := range cfg.Upstreams {
		for _, p := range u.Methods {
			_ = patterns.Add(p, p) // validated: patterns parse and are unique
		}
	}
	return func(method string) string {
		if s := reg.Snapshot(); s != nil {
			if _, ok := s.Method(method); ok {
				return method
			}
		}
		if p, ok := patterns.Lookup(method); ok {
			return p
		}
		return metrics.UnknownMethod
	}
}

// watchUpstreams reports the upstreams' connectivity in the metrics.
func watchUpstreams(obs *observability, r *reloader) error {
	if obs.metrics == nil {
		return nil
	}
	return obs.metrics.WatchUpstreams(func() []metrics.UpstreamState {
		states := r.current().pool.States()
		out := make([]metrics.UpstreamState, len(states))
		for i, s := range states {
			out[i] = metrics.UpstreamState{Name: s.Name, State: s.State.String()}
		}
		return out
	})
}

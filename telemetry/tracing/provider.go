package tracing

import (
	"context"
	"errors"
	"fmt"

	"go.opentelemetry.io/contrib/instrumentation/google.golang.org/grpc/otelgrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/stats"
)

// Exporter is how spans leave the process.
type Exporter string

// The OTLP transports.
const (
	OTLPGRPC Exporter = "otlp_grpc"
	OTLPHTTP Exporter = "otlp_http"
)

// ProviderOption configures NewProvider.
type ProviderOption interface{ applyProvider(*providerConfig) }

type providerOptionFunc func(*providerConfig)

func (f providerOptionFunc) applyProvider(c *providerConfig) { f(c) }

type providerConfig struct {
	exporter    Exporter
	endpoint    string
	insecure    bool
	headers     map[string]string
	ratio       float64
	serviceName string
	spans       sdktrace.SpanExporter
}

// WithOTLP exports to endpoint ("host:port") over kind, in cleartext when
// insecure, with headers (authentication to a vendor's collector) on every
// export. This is the default, with OTLPGRPC to the exporter's default
// endpoint.
func WithOTLP(kind Exporter, endpoint string, insecure bool, headers map[string]string) ProviderOption {
	return providerOptionFunc(func(c *providerConfig) {
		c.exporter, c.endpoint, c.insecure, c.headers = kind, endpoint, insecure, headers
	})
}

// WithSampleRatio samples this share of the traces that start at the
// gateway (default 1); a call whose client sent a sampled or unsampled
// parent follows its parent's decision.
func WithSampleRatio(r float64) ProviderOption {
	return providerOptionFunc(func(c *providerConfig) { c.ratio = r })
}

// WithServiceName sets service.name of the gateway's spans (default
// "sluice").
func WithServiceName(name string) ProviderOption {
	return providerOptionFunc(func(c *providerConfig) { c.serviceName = name })
}

// WithSpanExporter exports through e instead of OTLP (tests, custom
// exporters).
func WithSpanExporter(e sdktrace.SpanExporter) ProviderOption {
	return providerOptionFunc(func(c *providerConfig) { c.spans = e })
}

// NewProvider returns a tracer provider that samples and exports as the
// options say, batching spans. Shut it down when the gateway stops: that
// exports what is queued. It does not connect until the first export, so
// an unreachable collector never stops the gateway from starting (spans
// that cannot be exported are dropped).
func NewProvider(ctx context.Context, opts ...ProviderOption) (*sdktrace.TracerProvider, error) {
	c := providerConfig{exporter: OTLPGRPC, ratio: 1, serviceName: "sluice"}
	for _, o := range opts {
		o.applyProvider(&c)
	}
	if c.ratio < 0 || c.ratio > 1 {
		return nil, fmt.Errorf("tracing: sample ratio %v is not in [0, 1]", c.ratio)
	}
	exp := c.spans
	if exp == nil {
		var err error
		if exp, err = otlpExporter(ctx, c); err != nil {
			return nil, err
		}
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(semconv.ServiceName(c.serviceName)))
	if err != nil {
		return nil, fmt.Errorf("tracing: resource: %w", err)
	}
	return sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(c.ratio))),
	), nil
}

func otlpExporter(ctx context.Context, c providerConfig) (sdktrace.SpanExporter, error) {
	switch c.exporter {
	case OTLPGRPC:
		var opts []otlptracegrpc.Option
		if c.endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpoint(c.endpoint))
		}
		if c.insecure {
			opts = append(opts, otlptracegrpc.WithInsecure())
		}
		if len(c.headers) > 0 {
			opts = append(opts, otlptracegrpc.WithHeaders(c.headers))
		}
		exp, err := otlptracegrpc.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP gRPC exporter: %w", err)
		}
		return exp, nil
	case OTLPHTTP:
		var opts []otlptracehttp.Option
		if c.endpoint != "" {
			opts = append(opts, otlptracehttp.WithEndpoint(c.endpoint))
		}
		if c.insecure {
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		if len(c.headers) > 0 {
			opts = append(opts, otlptracehttp.WithHeaders(c.headers))
		}
		exp, err := otlptracehttp.New(ctx, opts...)
		if err != nil {
			return nil, fmt.Errorf("tracing: OTLP HTTP exporter: %w", err)
		}
		return exp, nil
	}
	return nil, errors.New("tracing: unknown exporter " + string(c.exporter))
}

// ClientHandler is the stats handler of an upstream connection: a client
// span per attempt, a child of the call's server span, whose context it
// writes into the attempt's metadata (replacing what the client sent), so
// the upstream continues the trace.
func ClientHandler(tp trace.TracerProvider) stats.Handler {
	return otelgrpc.NewClientHandler(
		otelgrpc.WithTracerProvider(tp),
		otelgrpc.WithPropagators(Propagator()),
		otelgrpc.WithMeterProvider(metricnoop.NewMeterProvider()),
	)
}

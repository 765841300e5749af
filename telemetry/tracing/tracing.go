// Package tracing traces calls through the gateway with OpenTelemetry:
// one server span per call, whatever protocol it came by, started in the
// interceptor chain with the parent the client sent (W3C traceparent,
// tracestate and baggage, in gRPC metadata or HTTP headers alike), and a
// client span per upstream attempt (otelgrpc's stats handler on the
// upstream connections), which propagates the context to the upstream.
//
// Tracing is off unless the configuration turns it on; off, the chain
// has no tracing interceptor and the upstream connections no stats
// handler, so it costs nothing. The provider (NewProvider) exports over
// OTLP, gRPC or HTTP, in batches; its caller shuts it down when the
// gateway stops, which flushes what is queued.
package tracing

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	otelcodes "go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/protocol"
	"github.com/sluice-dev/sluice/telemetry"
)

// instrumentation names the tracer of the gateway's spans.
const instrumentation = "github.com/sluice-dev/sluice/telemetry/tracing"

// Propagator is the W3C trace context and baggage propagator the gateway
// reads from clients and writes to upstreams.
func Propagator() propagation.TextMapPropagator {
	return propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})
}

// Option configures the server interceptor.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	httpStatus func(codes.Code) int
	propagator propagation.TextMapPropagator
}

// WithHTTPStatus sets the HTTP status a REST call's status code answers
// with (httpstatus.FromCode), for http.response.status_code; without
// it REST spans carry no HTTP status.
func WithHTTPStatus(f func(codes.Code) int) Option {
	return optionFunc(func(c *config) { c.httpStatus = f })
}

// WithPropagator replaces Propagator().
func WithPropagator(p propagation.TextMapPropagator) Option {
	return optionFunc(func(c *config) { c.propagator = p })
}

// StreamServerInterceptor starts a server span for every call from tp,
// as a child of the context the client propagated, and ends it with the
// call's status. Attributes follow OpenTelemetry's RPC conventions
// (rpc.system, rpc.service, rpc.method, rpc.grpc.status_code) and, for
// REST calls, its HTTP ones (http.request.method,
// http.response.status_code). The span is in the context the rest of the
// chain and the proxy see, so the upstream attempts' client spans are its
// children. It belongs right after telemetry.StreamServerInterceptor,
// before the policies, so that refusals are traced too.
func StreamServerInterceptor(tp trace.TracerProvider, opts ...Option) grpc.StreamServerInterceptor {
	c := config{propagator: Propagator()}
	for _, o := range opts {
		o.apply(&c)
	}
	tracer := tp.Tracer(instrumentation, trace.WithSchemaURL(semconv.SchemaURL))
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		ctx = c.propagator.Extract(ctx, incomingCarrier{ctx})
		name := strings.TrimPrefix(info.FullMethod, "/")
		service, method, _ := strings.Cut(name, "/")
		p := protocol.FromContext(ctx)
		attrs := []attribute.KeyValue{
			semconv.RPCSystemGRPC,
			semconv.RPCServiceKey.String(service),
			semconv.RPCMethodKey.String(method),
			attribute.String("sluice.protocol", string(p)),
		}
		httpMethod := protocol.HTTPMethod(ctx)
		if httpMethod != "" {
			attrs = append(attrs, semconv.HTTPRequestMethodKey.String(httpMethod))
		}
		if call := telemetry.FromContext(ctx); call != nil {
			attrs = append(attrs, attribute.String("sluice.request_id", call.RequestID()))
		}
		ctx, span := tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
		defer span.End()
		err := handler(srv, &stream{ServerStream: ss, ctx: ctx})
		code := status.Code(err)
		span.SetAttributes(attribute.Int64(string(semconv.RPCGRPCStatusCodeKey), int64(code)))
		if httpMethod != "" && c.httpStatus != nil {
			span.SetAttributes(semconv.HTTPResponseStatusCodeKey.Int(c.httpStatus(code)))
		}
		if serverError(code) {
			span.SetStatus(otelcodes.Error, status.Convert(err).Message())
		}
		return err
	}
}

// serverError reports whether code is a failure of the server's side,
// which OpenTelemetry's gRPC conventions mark a server span's status as
// an error for; the others are the client's.
func serverError(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.DeadlineExceeded, codes.Unimplemented, codes.Internal, codes.Unavailable, codes.DataLoss:
		return true
	}
	return false
}

// incomingCarrier reads the propagation fields from the call's incoming
// metadata, key by key, without copying the whole of it.
type incomingCarrier struct{ ctx context.Context }

func (c incomingCarrier) Get(key string) string {
	if v := metadata.ValueFromIncomingContext(c.ctx, key); len(v) > 0 {
		return v[0]
	}
	return ""
}

func (c incomingCarrier) Set(string, string) {}

func (c incomingCarrier) Keys() []string {
	md, _ := metadata.FromIncomingContext(c.ctx)
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	return keys
}

// stream carries the span's context down the chain.
type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

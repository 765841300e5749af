package config

import "fmt"

// Metrics configures the Prometheus metrics on the admin server.
type Metrics struct {
	Enabled bool `yaml:"enabled" doc:"Serve Prometheus metrics at {/metrics} on the admin server: calls by method, client protocol and gRPC code (count, latency, bytes and messages each way, in flight), policy refusals, rate limit decisions and Redis errors, upstream attempts, retries and connectivity, contract reloads, build info, Go runtime and process. Methods are labelled only by the contracts' method names and the configured upstream patterns; others are {unknown}. Needs {admin}."`
}

// Tracing configures OpenTelemetry tracing.
type Tracing struct {
	Enabled     bool            `yaml:"enabled" doc:"Trace calls with OpenTelemetry: a server span per call whatever its protocol, child of the W3C {traceparent} the client sent, and a client span per upstream attempt, whose context is sent to the upstream. Off by default; off costs nothing, and the client's {traceparent} is forwarded as it is."`
	Exporter    TracingExporter `yaml:"exporter" doc:"How spans are exported: {otlp_grpc} (OTLP over gRPC, usually port 4317) or {otlp_http} (OTLP over HTTP, usually port 4318, path {/v1/traces})."`
	Endpoint    string          `yaml:"endpoint" doc:"The OTLP receiver (an OpenTelemetry Collector, Jaeger, Tempo, ...) as {host:port}. Spans are batched; an unreachable receiver never delays calls, its spans are dropped."`
	Insecure    bool            `yaml:"insecure" doc:"Export in cleartext rather than over TLS (a collector on the same host or pod)."`
	SampleRatio float64         `yaml:"sample_ratio" doc:"Share of the traces that start at the gateway that are sampled, from 0 to 1. A call whose client sent a {traceparent} follows its sampled flag."`
	ServiceName string          `yaml:"service_name" doc:"{service.name} of the gateway's spans."`
}

// TracingExporter names the transport spans are exported over.
type TracingExporter string

// The values of TracingExporter.
const (
	OTLPGRPC TracingExporter = "otlp_grpc"
	OTLPHTTP TracingExporter = "otlp_http"
)

func (TracingExporter) choices() []string { return []string{string(OTLPGRPC), string(OTLPHTTP)} }

func defaultMetrics() Metrics { return Metrics{Enabled: true} }

func defaultTracing() Tracing {
	return Tracing{Exporter: OTLPGRPC, Endpoint: "127.0.0.1:4317", SampleRatio: 1, ServiceName: "sluice"}
}

func (t *Tracing) validate(errs *Errors, path string) {
	checkEnum(errs, path+".exporter", t.Exporter)
	if t.SampleRatio < 0 || t.SampleRatio > 1 {
		errs.add(path+".sample_ratio", fmt.Sprintf("must be between 0 and 1, got %v", t.SampleRatio))
	}
	if !t.Enabled {
		return
	}
	if err := validHostPort(t.Endpoint, false); err != nil {
		errs.add(path+".endpoint", err.Error())
	}
	if t.ServiceName == "" {
		errs.add(path+".service_name", "must not be empty")
	}
}

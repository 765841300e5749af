// Package metrics exports the gateway's Prometheus metrics: per call
// (count, latency, bytes and messages each way, calls in flight, by
// method, client protocol and gRPC code), the policies' refusals, rate
// limit decisions and Redis errors, the upstream leg (attempts, retries,
// connectivity), contract reloads, build info and the Go runtime and
// process collectors.
//
// Metrics registers into a registry its caller creates and owns, never
// the default registerer, so that tests and several gateways in one
// process do not share series. The per-call interceptor reads the call's
// telemetry.Call (bytes, messages, refusals) rather than wrapping the
// stream itself, and looks up the series of a method and protocol once
// per call, through a cache, instead of once per metric.
//
// Label values are bounded: methods come only through the label function
// the caller gives (WithMethodLabel: the contracts' methods and the
// configured patterns), everything else folds into UnknownMethod;
// protocols, codes, policies and reasons are small fixed sets; upstreams
// are the configured ones.
package metrics

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/protocol"
	"github.com/sluice-dev/sluice/telemetry"
	"github.com/sluice-dev/sluice/upstream/outlier"
)

// UnknownMethod is the method label of calls to methods the label
// function does not know, so that clients cannot create series by
// calling made-up methods.
const UnknownMethod = "unknown"

// Registry is what Metrics registers into and serves: a
// *prometheus.Registry satisfies it.
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// Option configures Metrics.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	methodLabel func(method string) string
	runtime     bool
	version     string
	revision    string
}

// WithMethodLabel sets how a call's full method name ("/pkg.Service/M")
// becomes its method label. It must return a value from a bounded set:
// the method itself when the contracts have it, the configured pattern
// that routes it, UnknownMethod otherwise. The default labels every call
// UnknownMethod. It is called once per call and must be safe for
// concurrent use.
func WithMethodLabel(f func(method string) string) Option {
	return optionFunc(func(c *config) { c.methodLabel = f })
}

// WithoutRuntimeCollectors leaves out the Go runtime and process
// collectors (on by default), for tests that check the gateway's own
// families alone.
func WithoutRuntimeCollectors() Option {
	return optionFunc(func(c *config) { c.runtime = false })
}

// WithBuildInfo sets the version and revision sluice_build_info reports;
// by default they come from the binary's build information.
func WithBuildInfo(version, revision string) Option {
	return optionFunc(func(c *config) { c.version, c.revision = version, revision })
}

// durationBuckets span a gateway's own sub-millisecond overhead to long
// streams.
var durationBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

// Metrics holds the gateway's collectors. It is safe for concurrent use.
type Metrics struct {
	cfg      config
	registry Registry

	calls     *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	recvBytes *prometheus.CounterVec
	recvMsgs  *prometheus.CounterVec
	sentBytes *prometheus.CounterVec
	sentMsgs  *prometheus.CounterVec
	inFlight  *prometheus.GaugeVec
	refusals  *prometheus.CounterVec
	rlDecided *prometheus.CounterVec
	rlErrors  prometheus.Counter
	attempts  *prometheus.CounterVec
	retries   *prometheus.CounterVec
	ejections *prometheus.CounterVec
	reloads   *prometheus.CounterVec
	reloadAt  *prometheus.GaugeVec

	series sync.Map // seriesKey -> *series
}

// New creates the collectors and registers them into reg, which must not
// hold them already.
func New(reg Registry, opts ...Option) (*Metrics, error) {
	if reg == nil {
		return nil, errors.New("metrics: nil registry")
	}
	cfg := config{methodLabel: func(string) string { return UnknownMethod }, runtime: true}
	for _, o := range opts {
		o.apply(&cfg)
	}
	if cfg.version == "" {
		cfg.version, cfg.revision = buildVersion()
	}
	callLabels := []string{"method", "protocol", "code"}
	streamLabels := []string{"method", "protocol"}
	m := &Metrics{
		cfg:      cfg,
		registry: reg,
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_calls_total",
			Help: "Calls that ended, by method, client protocol and gRPC status code.",
		}, callLabels),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sluice_call_duration_seconds",
			Help:    "How long calls took in the gateway, from entering the chain to their status, by method, client protocol and gRPC status code.",
			Buckets: durationBuckets,
		}, callLabels),
		recvBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_received_bytes_total",
			Help: "Bytes of request messages received from clients (wire format), by method and client protocol.",
		}, streamLabels),
		recvMsgs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_received_messages_total",
			Help: "Request messages received from clients, by method and client protocol.",
		}, streamLabels),
		sentBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_sent_bytes_total",
			Help: "Bytes of response messages sent to clients (wire format), by method and client protocol.",
		}, streamLabels),
		sentMsgs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_sent_messages_total",
			Help: "Response messages sent to clients, by method and client protocol.",
		}, streamLabels),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_calls_in_flight",
			Help: "Calls in the chain now, by method and client protocol.",
		}, streamLabels),
		refusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_policy_refusals_total",
			Help: "Calls a policy refused or ended, by policy (authn, authz, rate_limit, concurrency, deadline, flow) and reason (the status code, lower snake case).",
		}, []string{"policy", "reason"}),
		rlDecided: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_rate_limit_decisions_total",
			Help: "Calls the rate limit policy decided on, by decision: allowed (also calls no limit applies to) or limited.",
		}, []string{"decision"}),
		rlErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "sluice_rate_limit_store_errors_total",
			Help: "Round trips to the global rate limit store (Redis) that failed; the failure mode then decides.",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_upstream_attempts_total",
			Help: "Attempts of calls to upstreams, the first and every retry, by upstream.",
		}, []string{"upstream"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_upstream_retries_total",
			Help: "Attempts of calls to upstreams after a call's first (retry policy and transparent retries), by upstream.",
		}, []string{"upstream"}),
		ejections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_upstream_outlier_ejections_total",
			Help: "Addresses of an upstream that outlier detection ejected after consecutive failures, by upstream.",
		}, []string{"upstream"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sluice_reloads_total",
			Help: "Reloads, by what was reloaded (contracts, config) and result (success, failure).",
		}, []string{"what", "result"}),
		reloadAt: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sluice_last_reload_success_timestamp_seconds",
			Help: "When the last successful reload happened (or the first load, at start), in seconds since the epoch, by what was reloaded.",
		}, []string{"what"}),
	}
	cs := []prometheus.Collector{
		m.calls, m.duration, m.recvBytes, m.recvMsgs, m.sentBytes, m.sentMsgs, m.inFlight,
		m.refusals, m.rlDecided, m.rlErrors, m.attempts, m.retries, m.ejections, m.reloads, m.reloadAt,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "sluice_build_info",
			Help:        "Always 1; the labels name the running build.",
			ConstLabels: prometheus.Labels{"version": cfg.version, "revision": cfg.revision, "goversion": goVersion()},
		}, func() float64 { return 1 }),
	}
	if cfg.runtime {
		cs = append(cs, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics: register: %w", err)
		}
	}
	m.rlDecided.WithLabelValues("allowed")
	m.rlDecided.WithLabelValues("limited")
	return m, nil
}

// WatchUpstreams reports the upstreams' connectivity from f at every
// scrape, as sluice_upstream_connectivity_state. It is separate from New
// because the upstream connections are built with the metrics' observers
// (Attempts) and so exist only after them. Call it once.
func (m *Metrics) WatchUpstreams(f func() []UpstreamState) error {
	if err := m.registry.Register(&upstreamStates{f: f}); err != nil {
		return fmt.Errorf("metrics: register upstream states: %w", err)
	}
	return nil
}

// Handler serves the registry in Prometheus' text (or negotiated)
// format, for the admin port's /metrics.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// seriesKey identifies the series of one method and protocol.
type seriesKey struct {
	method   string
	protocol protocol.Protocol
}

// series are the collectors of one method and protocol, looked up once
// per call; byCode fills as codes occur.
type series struct {
	method, protocol                         string
	inFlight                                 prometheus.Gauge
	recvBytes, recvMsgs, sentBytes, sentMsgs prometheus.Counter
	byCode                                   [codes.Unauthenticated + 1]atomic.Pointer[codeSeries]
}

type codeSeries struct {
	calls    prometheus.Counter
	duration prometheus.Observer
}

func (m *Metrics) seriesOf(method string, p protocol.Protocol) *series {
	k := seriesKey{method, p}
	if s, ok := m.series.Load(k); ok {
		return s.(*series)
	}
	ps := string(p)
	s := &series{
		method:    method,
		protocol:  ps,
		inFlight:  m.inFlight.WithLabelValues(method, ps),
		recvBytes: m.recvBytes.WithLabelValues(method, ps),
		recvMsgs:  m.recvMsgs.WithLabelValues(method, ps),
		sentBytes: m.sentBytes.WithLabelValues(method, ps),
		sentMsgs:  m.sentMsgs.WithLabelValues(method, ps),
	}
	actual, _ := m.series.LoadOrStore(k, s)
	return actual.(*series)
}

func (m *Metrics) codeSeriesOf(s *series, c codes.Code) *codeSeries {
	if int(c) >= len(s.byCode) {
		return &codeSeries{
			calls:    m.calls.WithLabelValues(s.method, s.protocol, c.String()),
			duration: m.duration.WithLabelValues(s.method, s.protocol, c.String()),
		}
	}
	if cs := s.byCode[c].Load(); cs != nil {
		return cs
	}
	cs := &codeSeries{
		calls:    m.calls.WithLabelValues(s.method, s.protocol, c.String()),
		duration: m.duration.WithLabelValues(s.method, s.protocol, c.String()),
	}
	s.byCode[c].CompareAndSwap(nil, cs)
	return s.byCode[c].Load()
}

// StreamServerInterceptor counts every call. It belongs right after
// telemetry.StreamServerInterceptor, before the policies, so that
// refusals are counted and timed like every other call; it reads the
// bytes, messages and refusal from the call's telemetry.Call (a call
// without one is counted without them).
func (m *Metrics) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		s := m.seriesOf(m.cfg.methodLabel(info.FullMethod), protocol.FromContext(ctx))
		s.inFlight.Inc()
		start := time.Now()
		err := handler(srv, ss)
		elapsed := time.Since(start)
		s.inFlight.Dec()
		cs := m.codeSeriesOf(s, status.Code(err))
		cs.calls.Inc()
		cs.duration.Observe(elapsed.Seconds())
		c := telemetry.FromContext(ctx)
		if c == nil {
			return err
		}
		msgs, bytes := c.Received()
		s.recvMsgs.Add(float64(msgs))
		s.recvBytes.Add(float64(bytes))
		msgs, bytes = c.Sent()
		s.sentMsgs.Add(float64(msgs))
		s.sentBytes.Add(float64(bytes))
		if policy, reason := c.Refusal(); policy != "" {
			m.refusals.WithLabelValues(policy, reason).Inc()
		}
		if ran, refused := c.RateLimited(); ran {
			decision := "allowed"
			if refused {
				decision = "limited"
			}
			m.rlDecided.WithLabelValues(decision).Inc()
		}
		return err
	}
}

// RateLimitStoreError counts a failed round trip to the rate limit
// store; give it to ratelimit.WithStoreErrors.
func (m *Metrics) RateLimitStoreError() { m.rlErrors.Inc() }

// Attempts returns the observer of upstream's attempts, for
// telemetry.AttemptHandler.
func (m *Metrics) Attempts(upstream string) telemetry.AttemptObserver {
	return &attemptCounter{
		attempts:  m.attempts.WithLabelValues(upstream),
		retries:   m.retries.WithLabelValues(upstream),
		ejections: m.ejections.WithLabelValues(upstream),
	}
}

type attemptCounter struct{ attempts, retries, ejections prometheus.Counter }

// BalancerCount counts the outlier-detection policy's ejections.
func (a *attemptCounter) BalancerCount(metric string, incr int64) {
	if metric == outlier.EjectionsMetric {
		a.ejections.Add(float64(incr))
	}
}

func (a *attemptCounter) Attempt(_ string, retry bool) {
	a.attempts.Inc()
	if retry {
		a.retries.Inc()
	}
}

// Reloaded records the outcome of a reload of what ("contracts", "config"): err nil
// for a success, which also sets the time of the last success.
func (m *Metrics) Reloaded(what string, err error) {
	if err != nil {
		m.reloads.WithLabelValues(what, "failure").Inc()
		return
	}
	m.reloads.WithLabelValues(what, "success").Inc()
	m.reloadAt.WithLabelValues(what).SetToCurrentTime()
}

// buildVersion reads the main module's version and VCS revision from the
// binary's build information.
func buildVersion() (version, revision string) {
	version, revision = "unknown", "unknown"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return
	}
	if bi.Main.Version != "" {
		version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && s.Value != "" {
			revision = s.Value
		}
	}
	return
}

func goVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		return bi.GoVersion
	}
	return "unknown"
}

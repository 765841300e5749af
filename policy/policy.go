// Package policy builds the gateway's one interceptor chain from a
// validated configuration, in the one order every call passes it:
//
//	recover -> observe (call record and request id, trace, metrics,
//	access log) -> authenticate -> authorize -> rate limit
//	-> concurrency limit -> deadline -> flow control
//	-> identity propagation -> proxy
//
// The observers stand outside every policy, so that refusals are traced,
// counted and logged like any call; each policy is wrapped
// (telemetry.Policies) so that its refusals are attributed to it.
//
// `sluice serve` runs the chain Build returns, `sluice validate` builds it
// to report every policy error serve would, and the end-to-end tests build
// theirs with it too, so that the order and the translation of settings
// into interceptors exist in exactly one place and what the tests check
// is the production chain.
//
// The interceptors take options of their own and know nothing of the
// configuration: this package translates each section into them, one
// file per area (authn.go for policy.authn, policy.authz and
// policy.identity, deadline.go, ratelimit.go, limits.go for limits). The
// configuration's defaults and Validate stand before it; what the
// interceptors' constructors check as well is a second line, never a
// different rule.
//
// Identity propagation comes last so that every policy before it sees the
// caller's own metadata (an API key a limit is keyed on, say); it strips
// credentials and sets the verified identity for the upstream.
package policy

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/interceptors/authn"
	"github.com/sluice-dev/sluice/interceptors/concurrency"
	"github.com/sluice-dev/sluice/interceptors/identity"
	"github.com/sluice-dev/sluice/interceptors/logging"
	"github.com/sluice-dev/sluice/interceptors/recovery"
	"github.com/sluice-dev/sluice/telemetry"
	"github.com/sluice-dev/sluice/telemetry/metrics"
	"github.com/sluice-dev/sluice/telemetry/tracing"
)

// Option configures Build.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	logger     *slog.Logger
	authn      []authn.Option
	metrics    *metrics.Metrics
	tracer     trace.TracerProvider
	httpStatus func(codes.Code) int
}

// WithMetrics counts every call, and the policies' refusals, into m.
func WithMetrics(m *metrics.Metrics) Option {
	return optionFunc(func(o *options) { o.metrics = m })
}

// WithTracerProvider traces every call with a server span from tp.
// Without it (tracing off) the chain has no tracing interceptor.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(o *options) { o.tracer = tp })
}

// WithHTTPStatus gives the observers the HTTP status a REST call's status
// code answers with (httpstatus.FromCode), for the access log's
// http_status and the span's http.response.status_code.
func WithHTTPStatus(f func(codes.Code) int) Option {
	return optionFunc(func(o *options) { o.httpStatus = f })
}

// WithLogger sets the logger of the access log, of panics and of the
// policies' own events (default: discard).
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithAuthnOptions adds options to the authenticator after the ones the
// configuration gives, such as an in-process key source (the embedded
// demo's, a test's).
func WithAuthnOptions(opts ...authn.Option) Option {
	return optionFunc(func(o *options) { o.authn = append(o.authn, opts...) })
}

// Chain is the built interceptor chain and what goes with it. Close it
// when the gateway stops.
type Chain struct {
	interceptors []grpc.StreamServerInterceptor
	restHeaders  []string
	concurrency  *concurrency.Limiter
	closers      []func()
	open         bool
}

// Interceptors returns the chain, outermost first (a copy).
func (c *Chain) Interceptors() []grpc.StreamServerInterceptor {
	return slices.Clone(c.interceptors)
}

// RESTHeaders are the request headers REST clients must be able to send
// for the policies to see them as they see gRPC metadata: the deadline
// header, the API key header and every header a limit is keyed on, plus
// those rest.incoming_headers names.
func (c *Chain) RESTHeaders() []string { return slices.Clone(c.restHeaders) }

// Open reports whether no authentication provider and no authorization
// rule is configured: every method is then open to anyone.
func (c *Chain) Open() bool { return c.open }

// InFlight is the number of calls the concurrency limits count as in
// flight; 0 when none is configured.
func (c *Chain) InFlight() int {
	if c.concurrency == nil {
		return 0
	}
	return c.concurrency.InFlight()
}

// Close releases what the policies hold (JWKS refreshers, Redis clients).
// It is safe to call more than once.
func (c *Chain) Close() {
	for _, f := range c.closers {
		f()
	}
	c.closers = nil
}

// Build builds the chain cfg describes. cfg must have passed Validate;
// Build reports what only building finds (a JWKS file that does not
// parse, say), each error naming its setting, and holds nothing when it
// fails.
func Build(cfg *config.Config, opts ...Option) (_ *Chain, err error) {
	o := options{logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt.apply(&o)
	}
	c := &Chain{restHeaders: restHeaders(cfg)}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	c.interceptors = []grpc.StreamServerInterceptor{
		recovery.StreamServerInterceptor(recovery.WithLogger(o.logger)),
		telemetry.StreamServerInterceptor(),
	}
	if o.tracer != nil {
		// W3C baggage travels with the trace context (which REST passes
		// by default), to the server span and on to the upstream.
		c.restHeaders = append(c.restHeaders, "Baggage")
		var topts []tracing.Option
		if o.httpStatus != nil {
			topts = append(topts, tracing.WithHTTPStatus(o.httpStatus))
		}
		c.interceptors = append(c.interceptors, tracing.StreamServerInterceptor(o.tracer, topts...))
	}
	var storeErrors func()
	if o.metrics != nil {
		c.interceptors = append(c.interceptors, o.metrics.StreamServerInterceptor())
		storeErrors = o.metrics.RateLimitStoreError
	}
	var lopts []logging.Option
	if o.httpStatus != nil {
		lopts = append(lopts, logging.WithHTTPStatus(o.httpStatus))
	}
	c.interceptors = append(c.interceptors, logging.StreamServerInterceptor(o.logger, lopts...))

	var policies []telemetry.Policy
	pol := cfg.Policy
	if Configured(&pol) {
		az, err := Authorizer(pol.Authz)
		if err != nil {
			return nil, err
		}
		aopts := append(authnOptions(&pol.Authn), authn.WithMethodPolicy(az), authn.WithLogger(o.logger))
		an, err := authn.New(append(aopts, o.authn...)...)
		if err != nil {
			return nil, fmt.Errorf("policy.authn: %w", err)
		}
		c.closers = append(c.closers, an.Close)
		policies = append(policies,
			telemetry.Policy{Name: telemetry.PolicyAuthn, Interceptor: an.StreamServerInterceptor()},
			telemetry.Policy{Name: telemetry.PolicyAuthz, Interceptor: az.StreamServerInterceptor()})
	} else {
		c.open = true
	}

	trusted, err := trustedProxies(&cfg.RateLimits)
	if err != nil {
		return nil, err
	}
	if len(cfg.RateLimits.Limits) > 0 {
		rl, closeRedis, err := rateLimiter(&cfg.RateLimits, trusted, o.logger, storeErrors)
		if err != nil {
			return nil, err
		}
		c.closers = append(c.closers, closeRedis)
		policies = append(policies, telemetry.Policy{Name: telemetry.PolicyRateLimit, Interceptor: rl.StreamServerInterceptor()})
	}

	if c.concurrency, err = concurrencyLimiter(cfg.Limits, trusted); err != nil {
		return nil, err
	} else if c.concurrency != nil {
		policies = append(policies, telemetry.Policy{Name: telemetry.PolicyConcurrency, Interceptor: c.concurrency.StreamServerInterceptor()})
	}

	dl, err := deadlines(&pol.Deadline)
	if err != nil {
		return nil, err
	}
	policies = append(policies, telemetry.Policy{Name: telemetry.PolicyDeadline, Interceptor: dl.StreamServerInterceptor()})

	fc, err := flowController(cfg.Limits, trusted)
	if err != nil {
		return nil, err
	}
	policies = append(policies, telemetry.Policy{Name: telemetry.PolicyFlow, Interceptor: fc.StreamServerInterceptor()})
	guarded, err := telemetry.Policies(subject, policies...)
	if err != nil {
		return nil, err
	}
	c.interceptors = append(c.interceptors, guarded...)

	prop, err := propagator(&pol.Identity)
	if err != nil {
		return nil, err
	}
	c.interceptors = append(c.interceptors, prop.StreamServerInterceptor())
	return c, nil
}

// subject names the caller authentication verified, for the access log.
func subject(ctx context.Context) string {
	if id, ok := identity.FromContext(ctx); ok {
		return id.Subject
	}
	return ""
}

// Configured reports whether authentication or authorization is set up
// at all. With neither, the gateway is an open proxy (and says so in its
// log); as soon as one provider or rule exists, methods no rule names
// fall to policy.authz.default, deny unless changed.
func Configured(p *config.Policy) bool {
	return p.Authn.JWT.Configured() || len(p.Authn.APIKeys.Keys) > 0 || p.Authn.MTLS.Enabled || len(p.Authz.Rules) > 0
}

// restHeaders lists the headers Chain.RESTHeaders returns.
func restHeaders(cfg *config.Config) []string {
	names := []string{"X-Request-Timeout"}
	if len(cfg.Policy.Authn.APIKeys.Keys) > 0 && cfg.Policy.Authn.APIKeys.Header != "" {
		names = append(names, cfg.Policy.Authn.APIKeys.Header)
	}
	keys := []string{cfg.Limits.Key}
	for _, l := range cfg.RateLimits.Limits {
		keys = append(keys, l.Key)
	}
	for _, k := range keys {
		if name, ok := strings.CutPrefix(k, config.RateLimitKeyMetadata); ok && name != "" {
			names = append(names, name)
		}
	}
	return append(names, cfg.REST.IncomingHeaders...)
}

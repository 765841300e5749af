package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"
	"google.golang.org/grpc"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/interceptors/authn"
	"github.com/sluice-dev/sluice/interceptors/authz"
	"github.com/sluice-dev/sluice/interceptors/concurrency"
	"github.com/sluice-dev/sluice/interceptors/deadline"
	"github.com/sluice-dev/sluice/interceptors/flow"
	"github.com/sluice-dev/sluice/interceptors/identity"
	"github.com/sluice-dev/sluice/interceptors/logging"
	"github.com/sluice-dev/sluice/interceptors/ratelimit"
	"github.com/sluice-dev/sluice/interceptors/recovery"
)

var policyModule = fx.Module("policy",
	fx.Provide(newPolicies),
)

// authnOptions lets the embedded demo supply its signing keys in-process.
type authnOptions struct {
	fx.In
	Options []authn.Option `group:"authn_options"`
}

// policies are the configured interceptors, in the one order every call
// passes them: this function is the only place that order is written.
//
//	recover -> observe (access log) -> authenticate -> authorize
//	-> rate limit -> concurrency limit -> deadline -> flow control
//	-> identity propagation -> proxy
//
// Identity propagation comes last so every policy before it sees the
// caller's own metadata (an API key a limit is keyed on, say); it strips
// credentials and sets the verified identity for the upstream.
type policies struct {
	chain []grpc.StreamServerInterceptor
}

func newPolicies(lc fx.Lifecycle, cfg *config.Config, logger *slog.Logger, extra authnOptions) (*policies, error) {
	p := &policies{chain: []grpc.StreamServerInterceptor{
		recovery.StreamServerInterceptor(recovery.WithLogger(logger)),
		logging.StreamServerInterceptor(logger),
	}}
	var closers []func()
	lc.Append(fx.Hook{OnStop: func(context.Context) error {
		for _, c := range closers {
			c()
		}
		return nil
	}})

	pol := cfg.Policy
	if policyConfigured(&pol) {
		az, err := authz.New(pol.Authz)
		if err != nil {
			return nil, fmt.Errorf("policy.authz: %w", err)
		}
		opts := append([]authn.Option{authn.WithMethodPolicy(az), authn.WithLogger(logger)}, extra.Options...)
		an, err := authn.New(pol.Authn, opts...)
		if err != nil {
			return nil, fmt.Errorf("policy.authn: %w", err)
		}
		closers = append(closers, an.Close)
		p.chain = append(p.chain, an.StreamServerInterceptor(), az.StreamServerInterceptor())
	} else {
		logger.Warn("no authentication provider and no authorization rule configured: every method is open to anyone (configure policy.authz to close them)")
	}

	if len(cfg.RateLimits.Limits) > 0 {
		// go-redis reports every failed dial on its own process-wide
		// logger; the limiter already logs outages once per interval.
		redis.SetLogger(redisLogger{logger})
		rl, err := ratelimit.FromConfig(cfg.RateLimits, ratelimit.WithLogger(logger))
		if err != nil {
			return nil, err
		}
		closers = append(closers, func() { _ = rl.Close() })
		p.chain = append(p.chain, rl.StreamServerInterceptor())
	}

	trusted, err := trustedProxies(cfg)
	if err != nil {
		return nil, err
	}
	if c, err := concurrencyLimiter(cfg.Limits, trusted); err != nil {
		return nil, err
	} else if c != nil {
		p.chain = append(p.chain, c.StreamServerInterceptor())
	}

	dl, err := deadline.New(pol.Deadline)
	if err != nil {
		return nil, fmt.Errorf("policy.deadline: %w", err)
	}
	p.chain = append(p.chain, dl.StreamServerInterceptor())

	fc, err := flowController(cfg.Limits, trusted)
	if err != nil {
		return nil, err
	}
	p.chain = append(p.chain, fc.StreamServerInterceptor())

	prop, err := identity.NewPropagator(pol.Identity)
	if err != nil {
		return nil, fmt.Errorf("policy.identity: %w", err)
	}
	p.chain = append(p.chain, prop.StreamServerInterceptor())
	return p, nil
}

// redisLogger sends go-redis's own messages to the debug level.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "redis")
}

// policyConfigured reports whether authentication or authorization is set
// up at all. With neither, the gateway is an open proxy (and says so in
// its log); as soon as one provider or rule exists, methods no rule names
// fall to policy.authz.default, deny unless changed.
func policyConfigured(p *config.Policy) bool {
	return p.Authn.JWT.Configured() || len(p.Authn.APIKeys.Keys) > 0 || p.Authn.MTLS.Enabled || len(p.Authz.Rules) > 0
}

func trustedProxies(cfg *config.Config) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range cfg.RateLimits.TrustedProxies {
		p, err := config.ParseTrustedProxy(s)
		if err != nil {
			return nil, fmt.Errorf("rate_limits.trusted_proxies: %w", err)
		}
		out = append(out, p)
	}
	return out, nil
}

// limitKey turns limits.key into the key function the limiters share.
func limitKey(spec string, trusted []netip.Prefix) (func(context.Context, string) (string, bool), error) {
	if spec == "" {
		return nil, nil
	}
	if spec == "method" {
		return concurrency.MethodKey(), nil
	}
	k, err := ratelimit.ParseKey(spec, trusted)
	if err != nil {
		return nil, fmt.Errorf("limits.key: %w", err)
	}
	return k, nil
}

func concurrencyLimiter(l config.Limits, trusted []netip.Prefix) (*concurrency.Limiter, error) {
	limited := l.MaxInFlight > 0 || l.MaxInFlightPerKey > 0
	var opts []concurrency.Option
	for _, m := range l.Methods {
		if m.MaxInFlight > 0 || m.MaxInFlightPerKey > 0 {
			limited = true
			opts = append(opts, concurrency.WithRule(concurrency.Rule{Methods: m.Methods, MaxInFlight: m.MaxInFlight, MaxInFlightPerKey: m.MaxInFlightPerKey}))
		}
	}
	if !limited {
		return nil, nil
	}
	key, err := limitKey(l.Key, trusted)
	if err != nil {
		return nil, err
	}
	if key != nil {
		opts = append(opts, concurrency.WithKey(key))
	}
	opts = append(opts,
		concurrency.WithMaxInFlight(l.MaxInFlight),
		concurrency.WithMaxInFlightPerKey(l.MaxInFlightPerKey),
		concurrency.WithQueueTimeout(time.Duration(l.QueueTimeout)))
	c, err := concurrency.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	return c, nil
}

func flowController(l config.Limits, trusted []netip.Prefix) (*flow.Controller, error) {
	opts := []flow.Option{flow.WithSendStallTimeout(time.Duration(l.SendStallTimeout))}
	key, err := limitKey(l.Key, trusted)
	if err != nil {
		return nil, err
	}
	if key != nil {
		opts = append(opts, flow.WithKey(key))
	}
	for _, m := range l.Methods {
		if m.MaxRecvMsgSize > 0 || m.MaxSendMsgSize > 0 || m.MessagesPerSecond > 0 || m.MessagesPerSecondPerKey > 0 {
			opts = append(opts, flow.WithRule(flow.Rule{
				Methods:                 m.Methods,
				MaxRecvMsgSize:          int(m.MaxRecvMsgSize),
				MaxSendMsgSize:          int(m.MaxSendMsgSize),
				MessagesPerSecond:       float64(m.MessagesPerSecond),
				MessagesPerSecondPerKey: float64(m.MessagesPerSecondPerKey),
				Burst:                   m.Burst,
			}))
		}
	}
	c, err := flow.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("limits: %w", err)
	}
	return c, nil
}

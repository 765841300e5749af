package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"
	"go.uber.org/fx"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/interceptors/authn"
	"github.com/sluice-dev/sluice/policy"
)

var policyModule = fx.Module("policy",
	fx.Provide(newPolicies),
)

// authnOptions lets the embedded demo supply its signing keys in-process.
type authnOptions struct {
	fx.In
	Options []authn.Option `group:"authn_options"`
}

// newPolicies builds the first configuration's chain; the reloader closes
// it (or the one a reload put in its place) when the app stops.
func newPolicies(cfg *config.Config, logger *slog.Logger, extra authnOptions, obs *observability) (*policy.Chain, error) {
	chain, err := buildChain(cfg, logger, extra, obs)
	if err != nil {
		return nil, err
	}
	if chain.Open() {
		logger.Warn("no authentication provider and no authorization rule configured: every method is open to anyone (configure policy.authz to close them)")
	}
	return chain, nil
}

// buildChain builds the chain of cfg with policy.Build, the one place its
// order is written.
func buildChain(cfg *config.Config, logger *slog.Logger, extra authnOptions, obs *observability) (*policy.Chain, error) {
	if len(cfg.RateLimits.Limits) > 0 {
		// go-redis reports every failed dial on its own process-wide
		// logger; the limiter already logs outages once per interval.
		redis.SetLogger(redisLogger{logger})
	}
	opts := append([]policy.Option{policy.WithLogger(logger), policy.WithAuthnOptions(extra.Options...)}, obs.policyOptions()...)
	return policy.Build(cfg, opts...)
}

// redisLogger sends go-redis's own messages to the debug level.
type redisLogger struct{ l *slog.Logger }

func (r redisLogger) Printf(ctx context.Context, format string, v ...any) {
	r.l.DebugContext(ctx, fmt.Sprintf(format, v...), "component", "redis")
}

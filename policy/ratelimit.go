package policy

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/interceptors/ratelimit"
)

// rateLimiter turns rate_limits into the rate limiter, with a Redis client
// of its own when a limit is global; the returned func closes that client
// and is never nil.
func rateLimiter(cfg *config.RateLimits, trusted []netip.Prefix, logger *slog.Logger, storeErrors func()) (*ratelimit.Limiter, func(), error) {
	r := cfg.Redis
	opts := []ratelimit.Option{
		ratelimit.WithStoreErrors(storeErrors),
		ratelimit.WithLogger(logger),
		ratelimit.WithHeaders(cfg.Headers),
		ratelimit.WithRedisTimeout(time.Duration(r.Timeout)),
		ratelimit.WithRetryInterval(time.Duration(r.RetryInterval)),
		ratelimit.WithLogInterval(time.Duration(r.LogInterval)),
		ratelimit.WithKeyPrefix(r.KeyPrefix),
	}
	if r.OnError == config.FailClosed {
		opts = append(opts, ratelimit.WithFailureMode(ratelimit.FailClosed))
	}
	var errs []error
	global := false
	for _, l := range cfg.Limits {
		key, err := ratelimit.ParseKey(l.Key, trusted)
		if err != nil {
			errs = append(errs, fmt.Errorf("ratelimit: limit %q: %w", l.Name, err))
			continue
		}
		global = global || l.Global
		opts = append(opts, ratelimit.WithLimit(ratelimit.Limit{
			Name: l.Name, Methods: l.Methods, Key: key,
			Rate: l.Rate, Period: l.EffectivePeriod(), Burst: l.EffectiveBurst(), Global: l.Global,
		}))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, nil, err
	}
	closeRedis := func() {}
	if global && r.Address != "" {
		client, err := redisClient(&r)
		if err != nil {
			return nil, nil, err
		}
		closeRedis = func() { _ = client.Close() }
		opts = append(opts, ratelimit.WithRedis(client))
	}
	l, err := ratelimit.New(opts...)
	if err != nil {
		closeRedis()
		return nil, nil, err
	}
	return l, closeRedis, nil
}

// redisClient connects to rate_limits.redis, reading the password file.
func redisClient(r *config.RateLimitRedis) (*redis.Client, error) {
	password := ""
	if r.PasswordFile != "" {
		b, err := os.ReadFile(r.PasswordFile)
		if err != nil {
			return nil, fmt.Errorf("ratelimit: redis password: %w", err)
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	return ratelimit.NewRedisClient(r.Address, r.Username, password, r.DB, time.Duration(r.Timeout)), nil
}

// trustedProxies reads rate_limits.trusted_proxies, which client_ip keys
// of rate limits and of limits.key share.
func trustedProxies(cfg *config.RateLimits) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var errs []error
	for _, s := range cfg.TrustedProxies {
		p, err := ratelimit.ParseTrustedProxy(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("rate_limits.trusted_proxies: %w", err))
			continue
		}
		out = append(out, p)
	}
	return out, errors.Join(errs...)
}

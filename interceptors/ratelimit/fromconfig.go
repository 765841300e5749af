package ratelimit

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sluice-dev/sluice/config"
)

// FromConfig builds a Limiter from the rate_limits section of the
// configuration, with a Redis client of its own when a limit is global
// (Close releases it). opts come after the configured settings, so they
// can add limits or set a logger.
func FromConfig(cfg config.RateLimits, opts ...Option) (*Limiter, error) {
	var trusted []netip.Prefix
	var errs []error
	for _, s := range cfg.TrustedProxies {
		p, err := config.ParseTrustedProxy(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("ratelimit: trusted proxy: %w", err))
			continue
		}
		trusted = append(trusted, p)
	}
	r := cfg.Redis
	all := []Option{
		WithHeaders(cfg.Headers),
		WithRedisTimeout(time.Duration(r.Timeout)),
		WithRetryInterval(time.Duration(r.RetryInterval)),
		WithLogInterval(time.Duration(r.LogInterval)),
		WithKeyPrefix(r.KeyPrefix),
	}
	if r.OnError == config.FailClosed {
		all = append(all, WithFailureMode(FailClosed))
	}
	global := false
	for _, l := range cfg.Limits {
		key, err := ParseKey(l.Key, trusted)
		if err != nil {
			errs = append(errs, fmt.Errorf("ratelimit: limit %q: %w", l.Name, err))
			continue
		}
		global = global || l.Global
		all = append(all, WithLimit(Limit{
			Name: l.Name, Methods: l.Methods, Key: key,
			Rate: l.Rate, Period: l.EffectivePeriod(), Burst: l.EffectiveBurst(), Global: l.Global,
		}))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	var client *redis.Client
	if global && r.Address != "" {
		password := ""
		if r.PasswordFile != "" {
			b, err := os.ReadFile(r.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("ratelimit: redis password: %w", err)
			}
			password = strings.TrimRight(string(b), "\r\n")
		}
		client = NewRedisClient(r.Address, r.Username, password, r.DB, time.Duration(r.Timeout))
		all = append(all, WithRedis(client))
	}
	l, err := New(append(all, opts...)...)
	if err != nil {
		if client != nil {
			_ = client.Close()
		}
		return nil, err
	}
	if client != nil {
		l.closer = client.Close
	}
	return l, nil
}

// NewRedisClient returns a go-redis client tuned for rate limiting: every
// network step bounded by timeout and no retries inside the client (not of
// commands, not of dials), so an unreachable Redis is noticed within one
// timeout and handled by the limiter's failure mode instead of stalling
// calls.
func NewRedisClient(addr, username, password string, db int, timeout time.Duration) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:                  addr,
		Username:              username,
		Password:              password,
		DB:                    db,
		DialTimeout:           timeout,
		ReadTimeout:           timeout,
		WriteTimeout:          timeout,
		ContextTimeoutEnabled: true,
		MaxRetries:            -1,
		DialerRetries:         1,
		DisableIdentity:       true,
	})
}

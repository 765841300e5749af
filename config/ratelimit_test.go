package config_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/config"
)

func TestRateLimitsValidate(t *testing.T) {
	t.Parallel()
	limit := func(mod func(*config.RateLimit)) func(*config.Config) {
		return func(c *config.Config) {
			l := config.RateLimit{Name: "l", Methods: []string{"library.v1"}, Key: "client_ip", Rate: 10}
			mod(&l)
			c.RateLimits.Limits = append(c.RateLimits.Limits, l)
		}
	}
	tests := []struct {
		name  string
		mod   func(*config.Config)
		paths []string
	}{
		{"local limit", limit(func(*config.RateLimit) {}), nil},
		{"metadata key", limit(func(l *config.RateLimit) { l.Key = "metadata:x-tenant" }), nil},
		{"global with redis", func(c *config.Config) {
			limit(func(l *config.RateLimit) { l.Global = true })(c)
			c.RateLimits.Redis.Address = "127.0.0.1:6379"
		}, nil},
		{"global without redis", limit(func(l *config.RateLimit) { l.Global = true }), []string{"rate_limits.redis.address"}},
		{"bad name", limit(func(l *config.RateLimit) { l.Name = "a:b" }), []string{"rate_limits.limits[0].name"}},
		{"no name", limit(func(l *config.RateLimit) { l.Name = "" }), []string{"rate_limits.limits[0].name"}},
		{"bad pattern", limit(func(l *config.RateLimit) { l.Methods = []string{"/a/b"} }), []string{"rate_limits.limits[0].methods[0]"}},
		{"bad key", limit(func(l *config.RateLimit) { l.Key = "ip" }), []string{"rate_limits.limits[0].key"}},
		{"bad metadata key", limit(func(l *config.RateLimit) { l.Key = "metadata:grpc-timeout" }), []string{"rate_limits.limits[0].key"}},
		{"zero rate, negative burst, short period", limit(func(l *config.RateLimit) { l.Rate, l.Burst, l.Period = 0, -1, config.Duration(1) }),
			[]string{"rate_limits.limits[0].rate", "rate_limits.limits[0].period", "rate_limits.limits[0].burst"}},
		{"duplicate names", func(c *config.Config) {
			limit(func(*config.RateLimit) {})(c)
			limit(func(*config.RateLimit) {})(c)
		}, []string{"rate_limits.limits[1].name"}},
		{"trusted proxies", func(c *config.Config) {
			c.RateLimits.TrustedProxies = []string{"10.0.0.0/8", "192.0.2.1", "::1", "10.0.0.0/33", "proxy.local"}
		}, []string{"rate_limits.trusted_proxies[3]", "rate_limits.trusted_proxies[4]"}},
		{"redis settings", func(c *config.Config) {
			r := &c.RateLimits.Redis
			r.Address, r.OnError, r.DB, r.Timeout = "localhost", "maybe", -1, 0
		}, []string{"rate_limits.redis.address", "rate_limits.redis.db", "rate_limits.redis.timeout", "rate_limits.redis.on_error"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := config.Default()
			tc.mod(&c)
			var got []string
			var errs *config.Errors
			if err := c.Validate(); errors.As(err, &errs) {
				for _, e := range *errs {
					got = append(got, e.Path)
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.paths) {
				t.Errorf("problems at %q, want %q", got, tc.paths)
			}
		})
	}
}

func TestRateLimitYAML(t *testing.T) {
	t.Parallel()
	c, err := config.Parse([]byte(`
rate_limits:
  trusted_proxies: [10.0.0.0/8]
  redis: {address: "127.0.0.1:6379", on_error: closed}
  limits:
    - {name: per-user, methods: [library.v1], key: identity, rate: 100, period: 1m, global: true}
`), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	l := c.RateLimits.Limits[0]
	if l.EffectiveBurst() != 100 || l.EffectivePeriod().String() != "1m0s" || !l.Global || c.RateLimits.Redis.OnError != config.FailClosed {
		t.Errorf("decoded %+v", c.RateLimits)
	}
	if !c.RateLimits.Headers || c.RateLimits.Redis.KeyPrefix == "" {
		t.Errorf("defaults lost: %+v", c.RateLimits)
	}
}

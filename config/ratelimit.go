package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/sluice-dev/sluice/interceptors/identity"
	"github.com/sluice-dev/sluice/interceptors/ratelimit"
)

// RateLimits configures interceptors/ratelimit (through package policy): token buckets per method
// pattern and per caller, local to each instance or shared through Redis.
type RateLimits struct {
	Limits         []RateLimit    `yaml:"limits" doc:"The limits. Every limit whose {methods} match a call applies to it, and the call goes through only when all of them admit it. A refused call ends with {RESOURCE_EXHAUSTED} (HTTP 429) and a {google.rpc.RetryInfo} detail (HTTP {Retry-After})."`
	TrustedProxies []string       `yaml:"trusted_proxies" doc:"Addresses of the proxies in front of sluice, as CIDRs ({10.0.0.0/8}) or single addresses. Only when the connection comes from one of them does {key: client_ip} believe {X-Forwarded-For}, read from the right up to the first address that is not a trusted proxy. Empty ignores the header."`
	Redis          RateLimitRedis `yaml:"redis" doc:"The Redis server that holds the buckets of global limits. Required when a limit is global."`
	Headers        bool           `yaml:"headers" doc:"Send the IETF draft {RateLimit-Limit}, {RateLimit-Remaining} and {RateLimit-Reset} fields of the most constrained limit on every call a limit applies to (gRPC: response header metadata; REST: HTTP headers). Refusals always carry {Retry-After}."`
}

// RateLimit is one token bucket per key for a set of methods.
type RateLimit struct {
	Name    string   `yaml:"name" doc:"Name of the limit, in errors and logs and in the Redis key of a global limit: letters, digits, {-}, {_} and {.}. Required and unique."`
	Methods []string `yaml:"methods" doc:"Method patterns the limit applies to, written as for {upstreams[].methods}. Required."`
	Key     string   `yaml:"key" doc:"Who shares a bucket: {global} (every caller together), {identity} (each authenticated identity; anonymous calls are not limited by it), {api_key} (each API key name), {client_ip} (each client address, see {trusted_proxies}) or {metadata:NAME} (each value of that request header; calls without it are not limited by it). Required."`
	Rate    int      `yaml:"rate" doc:"Tokens added per {period}: the sustained number of calls admitted per period. At least 1."`
	Period  Duration `yaml:"period" doc:"The period of {rate}; 0 means 1s. At least 1ms."`
	Burst   int      `yaml:"burst" doc:"Size of the bucket: how many calls may come at once after a quiet time; 0 means {rate}."`
	Global  bool     `yaml:"global" doc:"Share the bucket among all sluice instances through {rate_limits.redis} (GCRA, as in go-redis/redis_rate); false keeps one bucket per instance."`
}

// RateLimitRedis configures the Redis server of global rate limits.
type RateLimitRedis struct {
	Address       string               `yaml:"address" doc:"Address of the Redis server, as {host:port}."`
	Username      string               `yaml:"username" doc:"User name for Redis ACL authentication; empty uses the default user."`
	PasswordFile  string               `yaml:"password_file" kind:"path" doc:"File holding the Redis password (a trailing newline is ignored). Empty sends no password."`
	DB            int                  `yaml:"db" doc:"Redis database number."`
	Timeout       Duration             `yaml:"timeout" doc:"Longest time one Redis round trip may take, dial included; a slower Redis counts as unreachable. Calls wait this long at most for a global limit."`
	OnError       RateLimitFailureMode `yaml:"on_error" doc:"What global limits do while Redis is unreachable: {open} admits calls up to the limit's rate on each instance (the local bucket in front of Redis keeps counting); {closed} refuses them with {UNAVAILABLE} (HTTP 503)."`
	RetryInterval Duration             `yaml:"retry_interval" doc:"After Redis failed, how long global limits apply {on_error} without trying Redis; then one call tries it again. Recovery needs no restart."`
	LogInterval   Duration             `yaml:"log_interval" doc:"While Redis is unreachable, its failure is logged at most once per this interval."`
	KeyPrefix     string               `yaml:"key_prefix" doc:"Prefix of the Redis keys of global limits, so that several gateways can share one Redis."`
}

// RateLimitFailureMode is what global limits do when Redis is unreachable.
type RateLimitFailureMode string

// The values of RateLimitFailureMode.
const (
	FailOpen   RateLimitFailureMode = "open"
	FailClosed RateLimitFailureMode = "closed"
)

func (RateLimitFailureMode) choices() []string { return []string{string(FailOpen), string(FailClosed)} }

// The key spellings of RateLimit.Key; RateLimitKeyMetadata is a prefix,
// followed by the metadata key.
const (
	RateLimitKeyGlobal   = ratelimit.KeyGlobal
	RateLimitKeyIdentity = ratelimit.KeyIdentity
	RateLimitKeyAPIKey   = ratelimit.KeyAPIKey
	RateLimitKeyClientIP = ratelimit.KeyClientIP
	RateLimitKeyMetadata = ratelimit.KeyMetadata
)

func defaultRateLimits() RateLimits {
	return RateLimits{
		Headers: true,
		Redis: RateLimitRedis{
			Timeout:       Duration(100 * time.Millisecond),
			OnError:       FailOpen,
			RetryInterval: Duration(time.Second),
			LogInterval:   Duration(time.Minute),
			KeyPrefix:     "sluice:ratelimit:",
		},
	}
}

// EffectivePeriod is Period, or 1s when Period is 0.
func (l *RateLimit) EffectivePeriod() time.Duration {
	if l.Period == 0 {
		return time.Second
	}
	return time.Duration(l.Period)
}

// EffectiveBurst is Burst, or Rate when Burst is 0.
func (l *RateLimit) EffectiveBurst() int {
	if l.Burst == 0 {
		return l.Rate
	}
	return l.Burst
}

func (r *RateLimits) validate(errs *Errors, path string) {
	names := map[string]int{}
	global := false
	for i := range r.Limits {
		l := &r.Limits[i]
		lpath := path + ".limits[" + strconv.Itoa(i) + "]"
		switch {
		case l.Name == "":
			errs.add(lpath+".name", "must not be empty")
		case !validLimitName(l.Name):
			errs.add(lpath+".name", fmt.Sprintf("%q: only letters, digits, '-', '_' and '.' are allowed", l.Name))
		default:
			if j, dup := names[l.Name]; dup {
				errs.add(lpath+".name", fmt.Sprintf("%q is already the name of %s.limits[%d]", l.Name, path, j))
			}
			names[l.Name] = i
		}
		checkPatterns(errs, lpath+".methods", l.Methods, nil)
		if err := validRateLimitKey(l.Key); err != nil {
			errs.add(lpath+".key", err.Error())
		}
		addProblems(errs, lpath, ratelimit.Limit{Rate: l.Rate, Period: time.Duration(l.Period), Burst: l.Burst}.Validate())
		global = global || l.Global
	}
	for i, s := range r.TrustedProxies {
		if _, err := ratelimit.ParseTrustedProxy(s); err != nil {
			errs.add(path+".trusted_proxies["+strconv.Itoa(i)+"]", err.Error())
		}
	}
	r.Redis.validate(errs, path+".redis", global)
}

func (r *RateLimitRedis) validate(errs *Errors, path string, required bool) {
	switch {
	case r.Address == "" && required:
		errs.add(path+".address", "must be set: a limit is global")
	case r.Address != "":
		if _, port, err := net.SplitHostPort(r.Address); err != nil || port == "" {
			errs.add(path+".address", fmt.Sprintf("%q: want host:port", r.Address))
		}
	}
	checkFile(errs, path+".password_file", r.PasswordFile)
	if r.DB < 0 {
		errs.add(path+".db", "must not be negative")
	}
	checkDuration(errs, path+".timeout", r.Timeout, time.Millisecond)
	checkEnum(errs, path+".on_error", r.OnError)
	checkDuration(errs, path+".retry_interval", r.RetryInterval, time.Millisecond)
	checkDuration(errs, path+".log_interval", r.LogInterval, time.Second)
}

func validRateLimitKey(k string) error {
	switch k {
	case "":
		return fmt.Errorf("must be one of global, identity, api_key, client_ip or metadata:NAME")
	case RateLimitKeyGlobal, RateLimitKeyIdentity, RateLimitKeyAPIKey, RateLimitKeyClientIP:
		return nil
	}
	if name, ok := strings.CutPrefix(k, RateLimitKeyMetadata); ok {
		return identity.ValidMetadataKey(name)
	}
	return fmt.Errorf("%q: want global, identity, api_key, client_ip or metadata:NAME", k)
}

func validLimitName(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

package ratelimit

import (
	"time"

	"github.com/redis/go-redis/v9"
)

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

package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"google.golang.org/grpc/status"
)

// errStoreDown means Redis could not answer: the failure mode decides.
var errStoreDown = errors.New("ratelimit: redis unreachable")

// store is the Redis side of global limits. After a failure it leaves
// Redis alone for retryInterval, answering errStoreDown at once so that
// calls do not each wait out a timeout; then a single call probes it, and
// the first success ends the outage. Failures are logged at most once per
// logInterval, the recovery once.
type store struct {
	limiter       *redis_rate.Limiter
	prefix        string
	timeout       time.Duration
	retryInterval time.Duration
	logInterval   time.Duration
	logger        *slog.Logger
	failure       FailureMode
	errors        func() // WithStoreErrors; may be nil

	downUntil atomic.Int64 // unix nanoseconds; 0 while Redis answers
	probing   atomic.Bool
	lastLog   atomic.Int64 // unix nanoseconds of the last failure logged
	failures  atomic.Int64 // failed round trips since the last log line
}

func (s *store) allow(ctx context.Context, l *limit, key string) (*redis_rate.Result, error) {
	if until := s.downUntil.Load(); until != 0 {
		if time.Now().UnixNano() < until || !s.probing.CompareAndSwap(false, true) {
			return nil, errStoreDown
		}
		defer s.probing.Store(false)
	}
	rctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	res, err := s.limiter.Allow(rctx, s.key(l.name, key), l.redis)
	if err != nil {
		if ctx.Err() != nil {
			// The caller gave up; that says nothing about Redis.
			return nil, status.FromContextError(ctx.Err()).Err()
		}
		s.markDown(ctx, err)
		return nil, errStoreDown
	}
	if s.downUntil.Swap(0) != 0 {
		s.logger.InfoContext(ctx, "rate limit store reachable again; global limits enforced", "failed_checks", s.failures.Swap(0))
		s.lastLog.Store(0)
	}
	return res, nil
}

func (s *store) markDown(ctx context.Context, err error) {
	if s.errors != nil {
		s.errors()
	}
	now := time.Now()
	s.downUntil.Store(now.Add(s.retryInterval).UnixNano())
	n := s.failures.Add(1)
	last := s.lastLog.Load()
	if now.UnixNano()-last < int64(s.logInterval) || !s.lastLog.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	mode := "open: calls are held to each instance's local bucket"
	if s.failure == FailClosed {
		mode = "closed: calls under global limits are refused"
	}
	s.logger.WarnContext(ctx, "rate limit store unreachable; global limits fail "+mode,
		"error", err.Error(), "failed_checks", n, "retry_interval", s.retryInterval)
	s.failures.Store(0)
}

// key is the Redis key of one bucket. Long keys (a header value can be
// kilobytes) are hashed so that Redis memory per key stays small.
func (s *store) key(limit, key string) string {
	if len(key) > 64 {
		sum := sha256.Sum256([]byte(key))
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	return s.prefix + limit + ":" + key
}

package ratelimit

import (
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// bucket is one key's local token bucket. For a global limit it is the
// shadow of the Redis bucket and also remembers until when Redis refuses
// the key.
type bucket struct {
	lim         *rate.Limiter
	deniedUntil atomic.Int64 // unix nanoseconds; global limits only
	lastUse     atomic.Int64 // unix nanoseconds
}

// bucketSet holds the buckets of one limit, one per key, and forgets the
// ones that are full again so that memory follows the active keys, not
// every key ever seen.
type bucketSet struct {
	perSec  rate.Limit
	burst   int
	fill    time.Duration // an idle bucket is full after this long
	maxKeys int

	mu        sync.Mutex
	m         map[string]*bucket
	lastSweep time.Time
}

func newBucketSet(perSec rate.Limit, burst int, fill time.Duration, maxKeys int) *bucketSet {
	return &bucketSet{perSec: perSec, burst: burst, fill: fill, maxKeys: maxKeys, m: make(map[string]*bucket)}
}

// sweepEvery is the least time between two sweeps of a set.
const sweepEvery = time.Second

func (s *bucketSet) get(key string, now time.Time) *bucket {
	s.mu.Lock()
	b, ok := s.m[key]
	if !ok {
		if len(s.m) >= s.maxKeys || now.Sub(s.lastSweep) > max(s.fill, time.Minute) {
			s.sweep(now)
		}
		b = &bucket{lim: rate.NewLimiter(s.perSec, s.burst)}
		s.m[key] = b
	}
	s.mu.Unlock()
	b.lastUse.Store(now.UnixNano())
	return b
}

// sweep drops the buckets that are full and not refusing, which behave as
// new ones would; if the set is still at its bound, it drops arbitrary
// buckets to make room for one more. Called with s.mu held.
func (s *bucketSet) sweep(now time.Time) {
	if now.Sub(s.lastSweep) >= sweepEvery {
		s.lastSweep = now
		idle := now.Add(-s.fill).UnixNano()
		for k, b := range s.m {
			if b.lastUse.Load() < idle && b.deniedUntil.Load() < now.UnixNano() {
				delete(s.m, k)
			}
		}
	}
	for k := range s.m {
		if len(s.m) < s.maxKeys {
			break
		}
		delete(s.m, k)
	}
}

// size reports how many buckets the set holds.
func (s *bucketSet) size() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.m)
}

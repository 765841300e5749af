package ratelimit

import (
	"sync"
	"sync/atomic"
	"time"
)

// bucket is one key's local token bucket. For a global limit it is the
// shadow of the Redis bucket and also remembers until when Redis refuses
// the key.
//
// A call takes its token before it is decided and gives it back when the
// call is refused after all (by another limit, by Redis, or because the
// caller left). Taking first is what keeps calls decided concurrently from
// spending one token many times over: while a Redis round trip is in
// flight, the calls waiting on it hold their tokens, so if Redis fails and
// they are admitted open, they were already counted. golang.org/x/time/rate
// cannot do this: its cancellation gives a token back only at the instant
// it was reserved, and moving its clock back over-credits the bucket.
type bucket struct {
	mu     sync.Mutex
	perSec float64
	burst  float64
	tokens float64
	last   time.Time // when tokens was last brought up to date

	deniedUntil atomic.Int64 // unix nanoseconds; global limits only
	lastUse     atomic.Int64 // unix nanoseconds
}

func newBucket(perSec float64, burst int) *bucket {
	return &bucket{perSec: perSec, burst: float64(burst), tokens: float64(burst)}
}

// refill adds the tokens earned since the last update. Calls carry the
// time they started, so now can be a little older than the last update;
// the clock then stays where it is rather than earning tokens twice.
// Called with b.mu held.
func (b *bucket) refill(now time.Time) {
	if !now.After(b.last) {
		return
	}
	if b.last.IsZero() {
		b.tokens = b.burst
	} else {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.perSec)
	}
	b.last = now
}

// take takes one token if the bucket holds one, or reports how long until
// it will.
func (b *bucket) take(now time.Time) (wait time.Duration, ok bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	if b.tokens >= 1 {
		b.tokens--
		return 0, true
	}
	return time.Duration((1 - b.tokens) / b.perSec * float64(time.Second)), false
}

// giveBack returns a token taken by a call that was refused after all.
func (b *bucket) giveBack(now time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	b.tokens = min(b.burst, b.tokens+1)
}

// level reports the tokens the bucket holds.
func (b *bucket) level(now time.Time) float64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.refill(now)
	return b.tokens
}

// bucketSet holds the buckets of one limit, one per key, and forgets the
// ones that are full again so that memory follows the active keys, not
// every key ever seen.
type bucketSet struct {
	perSec  float64
	burst   int
	fill    time.Duration // an idle bucket is full after this long
	maxKeys int

	mu        sync.Mutex
	m         map[string]*bucket
	lastSweep time.Time
}

func newBucketSet(perSec float64, burst int, fill time.Duration, maxKeys int) *bucketSet {
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
		b = newBucket(s.perSec, s.burst)
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

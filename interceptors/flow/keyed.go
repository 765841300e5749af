package flow

import (
	"sync"

	"golang.org/x/time/rate"
)

// keyedLimiters holds one rate limiter per key, created when the key's
// first stream starts and dropped when its last one ends, so the map never
// outgrows the streams in flight. The lock is taken at stream start and
// end only, never per message.
type keyedLimiters struct {
	limit rate.Limit
	burst int

	mu sync.Mutex
	m  map[string]*keyedLimiter
}

type keyedLimiter struct {
	*rate.Limiter
	refs int
}

func newKeyedLimiters(limit rate.Limit, burst int) *keyedLimiters {
	return &keyedLimiters{limit: limit, burst: burst, m: make(map[string]*keyedLimiter)}
}

func (k *keyedLimiters) ref(key string) *rate.Limiter {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.m[key]
	if !ok {
		e = &keyedLimiter{Limiter: rate.NewLimiter(k.limit, k.burst)}
		k.m[key] = e
	}
	e.refs++
	return e.Limiter
}

func (k *keyedLimiters) unref(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if e, ok := k.m[key]; ok {
		e.refs--
		if e.refs <= 0 {
			delete(k.m, key)
		}
	}
}

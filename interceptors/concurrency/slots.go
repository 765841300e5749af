package concurrency

import (
	"hash/maphash"
	"sync"
)

// slots is a counting semaphore: a buffered channel whose length is the
// number of slots taken. Taking a free slot is one non-blocking send, and
// waiters queue in the channel in FIFO order, so a queue timeout needs no
// lock of its own.
type slots struct {
	ch chan struct{}
}

func newSlots(n int) *slots { return &slots{ch: make(chan struct{}, n)} }

func (s *slots) tryTake() bool {
	select {
	case s.ch <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s *slots) put() { <-s.ch }

// keyedSlots holds one slots per key, created on first use and dropped
// when no call holds or waits for it, so the map never grows past the
// calls in flight. Keys are spread over shards to keep lock contention low.
type keyedSlots struct {
	limit  int
	seed   maphash.Seed
	shards [16]keyShard
}

type keyShard struct {
	mu sync.Mutex
	m  map[string]*keyedEntry
}

type keyedEntry struct {
	slots
	refs int // calls holding or waiting for a slot of this key
}

func newKeyedSlots(limit int) *keyedSlots {
	k := &keyedSlots{limit: limit, seed: maphash.MakeSeed()}
	for i := range k.shards {
		k.shards[i].m = make(map[string]*keyedEntry)
	}
	return k
}

func (k *keyedSlots) shard(key string) *keyShard {
	return &k.shards[maphash.String(k.seed, key)%uint64(len(k.shards))]
}

// ref returns the entry of key with one more reference; unref must follow.
func (k *keyedSlots) ref(key string) *keyedEntry {
	sh := k.shard(key)
	sh.mu.Lock()
	e, ok := sh.m[key]
	if !ok {
		e = &keyedEntry{slots: slots{ch: make(chan struct{}, k.limit)}}
		sh.m[key] = e
	}
	e.refs++
	sh.mu.Unlock()
	return e
}

func (k *keyedSlots) unref(key string, e *keyedEntry) {
	sh := k.shard(key)
	sh.mu.Lock()
	e.refs--
	if e.refs == 0 {
		delete(sh.m, key)
	}
	sh.mu.Unlock()
}

// size is the number of keys with calls in flight or waiting.
func (k *keyedSlots) size() int {
	n := 0
	for i := range k.shards {
		sh := &k.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

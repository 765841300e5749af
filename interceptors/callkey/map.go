package callkey

import (
	"hash/maphash"
	"sync"
)

// Map holds one value per key while it is referenced: Acquire creates the
// key's value on first use and Release drops it when the last reference
// goes, so the map never outgrows the calls in flight (a caller sending
// ever new keys can not grow it). Keys are spread over shards so that
// calls of different keys rarely contend; the lock is taken on Acquire and
// Release only, never while the value is used. A Map is safe for
// concurrent use; values must be safe for what their users do with them.
type Map[V any] struct {
	newValue func() V
	seed     maphash.Seed
	shards   [16]shard[V]
}

type shard[V any] struct {
	mu sync.Mutex
	m  map[string]*Entry[V]
}

// Entry is one key's value and its reference count.
type Entry[V any] struct {
	// Value is the key's state, made by the Map's newValue.
	Value V
	key   string
	refs  int // guarded by the shard's mutex
}

// NewMap returns an empty Map that makes a key's value with newValue.
func NewMap[V any](newValue func() V) *Map[V] {
	m := &Map[V]{newValue: newValue, seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].m = make(map[string]*Entry[V])
	}
	return m
}

func (m *Map[V]) shard(key string) *shard[V] {
	return &m.shards[maphash.String(m.seed, key)%uint64(len(m.shards))]
}

// Acquire returns key's entry with one more reference, creating it when
// the key has none. Every Acquire must be followed by exactly one Release
// of the entry it returned.
func (m *Map[V]) Acquire(key string) *Entry[V] {
	sh := m.shard(key)
	sh.mu.Lock()
	e, ok := sh.m[key]
	if !ok {
		e = &Entry[V]{Value: m.newValue(), key: key}
		sh.m[key] = e
	}
	e.refs++
	sh.mu.Unlock()
	return e
}

// Release drops one reference to e, and e from the map with the last one;
// a later Acquire of the key starts with a new value.
func (m *Map[V]) Release(e *Entry[V]) {
	sh := m.shard(e.key)
	sh.mu.Lock()
	e.refs--
	if e.refs == 0 {
		delete(sh.m, e.key)
	}
	sh.mu.Unlock()
}

// Len is the number of keys referenced now.
func (m *Map[V]) Len() int {
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

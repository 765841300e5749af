package registry

import (
	"fmt"
	"sync"
	"sync/atomic"
)

// Registry holds the current Snapshot and replaces it atomically on
// reload. Readers call Snapshot once per call and keep what they got, so a
// call in flight finishes on the contracts it started with.
type Registry struct {
	sources []Source
	current atomic.Pointer[Snapshot]
	mu      sync.Mutex // serializes reloads
}

// New builds the first snapshot from sources; an error leaves no registry.
func New(sources ...Source) (*Registry, error) {
	r := &Registry{sources: append([]Source(nil), sources...)}
	if err := r.Reload(); err != nil {
		return nil, err
	}
	return r, nil
}

// Snapshot returns the current snapshot; never nil for a Registry made by
// New.
func (r *Registry) Snapshot() *Snapshot { return r.current.Load() }

// Reload rebuilds the snapshot from the sources. On error the current
// snapshot stays in place and the error says why the new one was refused.
func (r *Registry) Reload() error {
	return r.ReloadChecked(nil)
}

// ReloadChecked is Reload with one more gate: check sees the new snapshot
// before it is swapped in, and an error from it refuses the snapshot just
// as a broken contract would (for example, REST routes that collide).
//
// A new snapshot with the current one's Fingerprint (the same contracts
// and comments from the same sources) is dropped, unchecked, and the
// current one stays: a large contract set is not held twice by what
// refers to either, and caches keyed by the snapshot stay valid.
func (r *Registry) ReloadChecked(check func(*Snapshot) error) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, err := Build(r.sources...)
	if err != nil {
		return fmt.Errorf("load contracts: %w", err)
	}
	if cur := r.current.Load(); cur != nil && Fingerprint(cur) == Fingerprint(s) {
		return nil
	}
	if check != nil {
		if err := check(s); err != nil {
			return fmt.Errorf("load contracts: %w", err)
		}
	}
	r.current.Store(s)
	return nil
}

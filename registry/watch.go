package registry

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"sync"
	"time"
)

// WatchOption configures a Watcher.
type WatchOption interface{ apply(*watchConfig) }

type watchOptionFunc func(*watchConfig)

func (f watchOptionFunc) apply(c *watchConfig) { f(c) }

type watchConfig struct {
	interval time.Duration
	always   bool
	files    []string
	onChange func(*Snapshot)
	check    func(*Snapshot) error
	reloaded func(error)
	logger   *slog.Logger
}

// WithInterval sets how often the watcher looks for changes; the default
// is 30 seconds. A value <= 0 disables polling: only Trigger reloads.
func WithInterval(d time.Duration) WatchOption {
	return watchOptionFunc(func(c *watchConfig) { c.interval = d })
}

// WithReloadEveryInterval reloads on every tick, for sources that can not
// tell whether they changed without being asked (server reflection).
// Without it a tick reloads only when a watched file changed.
func WithReloadEveryInterval() WatchOption {
	return watchOptionFunc(func(c *watchConfig) { c.always = true })
}

// WithFiles watches descriptor set files: a tick that finds one changed
// (modification time or size) reloads.
func WithFiles(paths ...string) WatchOption {
	return watchOptionFunc(func(c *watchConfig) { c.files = append(c.files, paths...) })
}

// WithCheck vets every new snapshot before it replaces the current one
// (see Registry.ReloadChecked); a refused snapshot is logged and the
// current one stays.
func WithCheck(check func(*Snapshot) error) WatchOption {
	return watchOptionFunc(func(c *watchConfig) { c.check = check })
}

// WithOnChange calls fn with the new snapshot after a reload that changed
// the contracts (a reload that yields the same contracts does not call
// it), so a REST route table or an OpenAPI document can be rebuilt. fn is
// called from the watcher's goroutine, one call at a time, in order.
func WithOnChange(fn func(*Snapshot)) WatchOption {
	return watchOptionFunc(func(c *watchConfig) { c.onChange = fn })
}

// WithReloaded calls fn after every reload the watcher runs, with the
// reason it was refused or nil when it succeeded (changed or not), for
// metrics. fn is called from the watcher's goroutine.
func WithReloaded(fn func(error)) WatchOption {
	return watchOptionFunc(func(c *watchConfig) { c.reloaded = fn })
}

// WithWatchLogger logs reloads and refused reloads; the default discards.
func WithWatchLogger(l *slog.Logger) WatchOption {
	return watchOptionFunc(func(c *watchConfig) {
		if l != nil {
			c.logger = l
		}
	})
}

// Watcher reloads a Registry on an interval, when a watched descriptor set
// file changes, and on demand (Trigger, for SIGHUP). A refused reload is
// logged and the old snapshot keeps serving. Run drives it; Trigger is
// safe to call from any goroutine, before, during or after Run.
type Watcher struct {
	reg     *Registry
	cfg     watchConfig
	trigger chan struct{}

	mu    sync.Mutex // guards the fields below, touched only by Run
	files map[string]fileState
	last  [sha256.Size]byte
}

// fileState is what a tick compares to tell that a file changed.
type fileState struct {
	modTime time.Time
	size    int64
	missing bool
}

// NewWatcher returns a watcher of reg. The current snapshot and the
// current state of the watched files are the baseline.
func NewWatcher(reg *Registry, opts ...WatchOption) *Watcher {
	cfg := watchConfig{
		interval: 30 * time.Second,
		logger:   slog.New(slog.DiscardHandler),
	}
	for _, o := range opts {
		o.apply(&cfg)
	}
	w := &Watcher{
		reg:     reg,
		cfg:     cfg,
		trigger: make(chan struct{}, 1),
		files:   map[string]fileState{},
		last:    Fingerprint(reg.Snapshot()),
	}
	for _, p := range cfg.files {
		w.files[p] = statFile(p)
	}
	return w
}

// Trigger asks for a reload as soon as possible. It never blocks; triggers
// that arrive while one is pending are merged.
func (w *Watcher) Trigger() {
	select {
	case w.trigger <- struct{}{}:
	default:
	}
}

// Run watches until ctx ends, then returns ctx's error. Run it once.
func (w *Watcher) Run(ctx context.Context) error {
	var tick <-chan time.Time
	if w.cfg.interval > 0 {
		t := time.NewTicker(w.cfg.interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-w.trigger:
			w.pollFiles() // take the files' new state as the baseline
			w.reload("trigger")
		case <-tick:
			if changed := w.pollFiles(); changed != "" {
				w.reload("file changed: " + changed)
			} else if w.cfg.always {
				w.reload("interval")
			}
		}
	}
}

// pollFiles records the state of every watched file and returns the first
// one (in name order) that changed, or "".
func (w *Watcher) pollFiles() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	paths := make([]string, 0, len(w.files))
	for p := range w.files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	changed := ""
	for _, p := range paths {
		now := statFile(p)
		if now != w.files[p] && changed == "" {
			changed = p
		}
		w.files[p] = now
	}
	return changed
}

// reload reloads the registry; a refused reload keeps the old snapshot.
func (w *Watcher) reload(why string) {
	err := w.reg.ReloadChecked(w.cfg.check)
	if w.cfg.reloaded != nil {
		w.cfg.reloaded(err)
	}
	if err != nil {
		w.cfg.logger.Error("contracts reload refused; the previous contracts stay in use", "reason", why, "error", err)
		return
	}
	s := w.reg.Snapshot()
	fp := Fingerprint(s)
	w.mu.Lock()
	same := fp == w.last
	w.last = fp
	w.mu.Unlock()
	if same {
		w.cfg.logger.Debug("contracts reloaded, unchanged", "reason", why)
		return
	}
	w.cfg.logger.Info("contracts reloaded", "reason", why, "methods", len(s.Methods()))
	if w.cfg.onChange != nil {
		w.cfg.onChange(s)
	}
}

// statFile is what a tick compares: modification time (nanoseconds on the
// file systems contracts live on) and size, without reading the file. A
// reload that finds the same contracts is recognised by Fingerprint, so a
// touched but unchanged file costs one reload and no route rebuild.
func statFile(path string) fileState {
	fi, err := os.Stat(path)
	if err != nil {
		return fileState{missing: true}
	}
	return fileState{modTime: fi.ModTime(), size: fi.Size()}
}

// Fingerprint returns a digest of every file of s, source information
// (comments) and the source of each file included, so two snapshots with
// equal fingerprints describe the same contracts and the same
// documentation. It is computed once, when the snapshot is built. A nil
// snapshot has the zero fingerprint.
func Fingerprint(s *Snapshot) [sha256.Size]byte {
	if s == nil {
		return [sha256.Size]byte{}
	}
	return s.fingerprint
}

// fileDigest identifies one file of a snapshot: its path, its source (a
// file that moves to another source changes what `sluice routes` prints),
// its serialized descriptor without source information and its comments.
func fileDigest(path, source string, raw, comments []byte) [sha256.Size]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00%d\x00%d\x00", path, source, len(raw), len(comments))
	h.Write(raw)
	h.Write(comments)
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}

// combineDigests is the fingerprint of the files whose digests these are,
// in path order.
func combineDigests(digests map[string][sha256.Size]byte) [sha256.Size]byte {
	paths := make([]string, 0, len(digests))
	for p := range digests {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	h := sha256.New()
	for _, p := range paths {
		d := digests[p]
		h.Write(d[:])
	}
	var out [sha256.Size]byte
	copy(out[:], h.Sum(nil))
	return out
}

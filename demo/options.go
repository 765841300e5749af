package demo

import "time"

// Option configures a Library.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	now         func() time.Time
	seed        bool
	watchBuffer int
}

func defaultConfig() config {
	return config{now: time.Now, seed: true, watchBuffer: 64}
}

// WithClock makes the library read the time from now, for deterministic
// timestamps in golden tests. A nil now is ignored.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) {
		if now != nil {
			c.now = now
		}
	})
}

// WithoutSeed starts the library empty instead of with the demo shelves and
// books.
func WithoutSeed() Option {
	return optionFunc(func(c *config) { c.seed = false })
}

// WithWatchBuffer sets how many change events a WatchShelf subscriber may
// have pending before it is dropped with RESOURCE_EXHAUSTED (default 64;
// values below 1 mean 1).
func WithWatchBuffer(n int) Option {
	return optionFunc(func(c *config) { c.watchBuffer = max(n, 1) })
}

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/fx"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/policy"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/upstream"
)

// configReload is how serve reads its configuration again (the file, then
// the flags, as at start) and the log level a reload sets. Without it (the
// app in tests), the configuration does not reload.
type configReload struct {
	load  func() (*config.Config, error)
	level *slog.LevelVar
	file  string // the --config file, "" without one
}

// watchInterval is how often a file with `watch: true` is checked.
const watchInterval = time.Second

// generation is one configuration's whole call path: the policy chain,
// the upstream connections, the dispatcher and the HTTP handlers built on
// them. A reload builds a new one and swaps it in whole; calls keep the
// generation they started on, and a replaced one is closed once its calls
// finished.
type generation struct {
	cfg   *config.Config
	chain *policy.Chain
	pool  *upstream.Pool
	d     *server.Dispatcher
	http  http.Handler
	refs  atomic.Int64 // HTTP requests being served by it
	once  sync.Once
}

func (g *generation) close() {
	g.once.Do(func() {
		_ = g.pool.Close()
		g.chain.Close()
	})
}

// reloader holds the current generation and replaces it on SIGHUP. It is
// the gateway's HTTP handler (each request on the current generation's)
// and gives the gateway the current dispatcher for native gRPC calls.
type reloader struct {
	cur    atomic.Pointer[generation]
	build  func(*config.Config) (*generation, error)
	reload *configReload // nil: no reloads
	gw     *server.Gateway
	obs    *observability
	logger *slog.Logger

	mu      sync.Mutex     // serializes reloads
	retired sync.WaitGroup // replaced generations not closed yet
	stop    context.Context
}

var _ http.Handler = (*reloader)(nil)

type reloaderIn struct {
	fx.In
	Lifecycle fx.Lifecycle
	Config    *config.Config
	Pool      *upstream.Pool
	Chain     *policy.Chain
	Proxy     *server.Proxy
	Registry  *registry.Registry
	Routes    *routeTable
	Dialers   upstreamDialers
	Authn     authnOptions
	Obs       *observability
	Logger    *slog.Logger
	Reload    *configReload `optional:"true"`
}

func newReloader(in reloaderIn) (*reloader, error) {
	build := func(cfg *config.Config) (*generation, error) {
		pool, err := buildPool(cfg, in.Dialers.Dialers, in.Obs)
		if err != nil {
			return nil, err
		}
		chain, err := buildChain(cfg, in.Logger, in.Authn, in.Obs)
		if err != nil {
			_ = pool.Close()
			return nil, err
		}
		g, err := newGeneration(cfg, pool, chain, newProxy(cfg, pool, in.Registry, in.Logger), in.Registry, in.Routes, in.Logger)
		if err != nil {
			_ = pool.Close()
			chain.Close()
			return nil, err
		}
		pool.Connect()
		return g, nil
	}
	first, err := newGeneration(in.Config, in.Pool, in.Chain, in.Proxy, in.Registry, in.Routes, in.Logger)
	if err != nil {
		return nil, err
	}
	stop, cancel := context.WithCancel(context.Background())
	r := &reloader{build: build, reload: in.Reload, obs: in.Obs, logger: in.Logger, stop: stop}
	r.cur.Store(first)
	hup := make(chan os.Signal, 1)
	var wg sync.WaitGroup
	in.Lifecycle.Append(fx.Hook{
		OnStart: func(context.Context) error {
			if r.reload == nil {
				return nil
			}
			r.obs.reloadedConfig(nil)
			signal.Notify(hup, syscall.SIGHUP)
			if in.Config.Watch && r.reload.file != "" {
				wg.Add(1)
				go func() { defer wg.Done(); r.watch(stop, r.reload.file) }()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-hup:
						logger := r.logger
						logger.Info("SIGHUP: reloading the configuration")
						_ = r.Reload()
					case <-stop.Done():
						return
					}
				}
			}()
			return nil
		},
		// After the gateway drained (its hook was appended later): close
		// the generation in use and wait for replaced ones.
		OnStop: func(context.Context) error {
			signal.Stop(hup)
			cancel()
			wg.Wait()
			r.retired.Wait()
			r.cur.Load().close()
			return nil
		},
	})
	return r, nil
}

func newGeneration(cfg *config.Config, pool *upstream.Pool, chain *policy.Chain, proxy *server.Proxy, reg *registry.Registry, routes *routeTable, logger *slog.Logger) (*generation, error) {
	d, err := newDispatcher(proxy, chain)
	if err != nil {
		return nil, err
	}
	h, err := newHTTPHandler(cfg, reg, routes, d, chain, logger)
	if err != nil {
		return nil, err
	}
	return &generation{cfg: cfg, chain: chain, pool: pool, d: d, http: h}, nil
}

// current is the generation new calls take.
func (r *reloader) current() *generation { return r.cur.Load() }

// acquire takes the current generation for one HTTP request; counted
// before it is known to be current, so a retirement cannot miss it.
func (r *reloader) acquire() *generation {
	for {
		g := r.cur.Load()
		g.refs.Add(1)
		if r.cur.Load() == g {
			return g
		}
		g.refs.Add(-1)
	}
}

func (r *reloader) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	g := r.acquire()
	defer g.refs.Add(-1)
	g.http.ServeHTTP(w, req)
}

// watch reloads when the file's content changes, until ctx ends. A
// ConfigMap update (a symlink swap) shows as a change too.
func (r *reloader) watch(ctx context.Context, file string) {
	last, _ := os.ReadFile(file)
	tick := time.NewTicker(watchInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		data, err := os.ReadFile(file)
		if err != nil || bytes.Equal(data, last) {
			continue
		}
		last = data
		r.logger.Info("configuration file changed: reloading", "file", file)
		_ = r.Reload()
	}
}

// RestartNeeded is the refusal of a reload that changes settings only a
// restart applies.
type RestartNeeded []string

func (e RestartNeeded) Error() string {
	return "these settings change only with a restart: " + strings.Join(e, ", ")
}

// Reload reads the configuration again and, if it is valid and changes no
// restart-only setting, swaps in a new generation built from it. A
// refused reload is logged with its reason and counted; the configuration
// in use stays.
func (r *reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.swap()
	r.obs.reloadedConfig(err)
	if err != nil {
		r.logger.Error("configuration reload refused; the configuration in use stays", "error", err.Error())
		return err
	}
	return nil
}

func (r *reloader) swap() error {
	if r.reload == nil {
		return errors.New("this process cannot reload its configuration")
	}
	cfg, err := r.reload.load()
	if err != nil {
		return fmt.Errorf("invalid configuration: %w", err)
	}
	old := r.current()
	if names := config.RestartOnly(old.cfg, cfg); len(names) > 0 {
		return RestartNeeded(names)
	}
	g, err := r.build(cfg)
	if err != nil {
		return err
	}
	r.cur.Store(g)
	r.gw.SetDispatcher(g.d)
	if r.reload.level != nil {
		var level slog.Level
		_ = level.UnmarshalText([]byte(cfg.Log.Level))
		r.reload.level.Set(level)
	}
	r.logger.Info("configuration reloaded", "upstreams", len(cfg.Upstreams))
	r.retired.Add(1)
	go r.retire(old, time.Duration(cfg.Server.ShutdownGrace))
	return nil
}

// retire closes a replaced generation once its calls finished, or once
// the shutdown grace passed (calls still running then are cut, as a
// shutdown would).
func (r *reloader) retire(g *generation, grace time.Duration) {
	defer r.retired.Done()
	defer g.close()
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for g.refs.Load() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
	_ = g.d.Drain(ctx)
}

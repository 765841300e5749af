package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.uber.org/fx"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/methodpattern"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/registry/protosource"
	"github.com/sluice-dev/sluice/transcoding"
)

var contractsModule = fx.Module("contracts",
	fx.Provide(newContractSources, newRegistry, newRouteTable),
	fx.Invoke(watchContracts),
)

// linkedContracts lets the embedded demo add the contracts compiled into
// the binary; a real deployment names descriptor sets or upstreams with
// reflection.
type linkedContracts struct {
	fx.In
	Sources []registry.Source `group:"linked_contracts"`
}

// contractSources are every source of contracts, in order, whether any of
// them must be asked again to know whether it changed, and the .proto
// files to watch, if any.
type contractSources struct {
	sources    []registry.Source
	reflection bool
	proto      *protosource.Source
}

// fileSources are the contracts that need no network: linked code,
// descriptor set files and .proto files.
func fileSources(cfg *config.Config, linked []registry.Source) (*contractSources, error) {
	cs := &contractSources{sources: append([]registry.Source(nil), linked...)}
	for _, f := range cfg.DescriptorSets {
		cs.sources = append(cs.sources, registry.DescriptorSetFile(f))
	}
	if p := cfg.Contracts.Proto; p.Enabled() {
		src, err := protosource.New(p.Roots, protosource.WithFiles(p.Files...), protosource.WithImportPaths(p.ImportPaths...))
		if err != nil {
			return nil, err
		}
		cs.proto = src
		cs.sources = append(cs.sources, src)
	}
	return cs, nil
}

func newContractSources(lc fx.Lifecycle, cfg *config.Config, linked linkedContracts, logger *slog.Logger) (*contractSources, error) {
	cs, err := fileSources(cfg, linked.Sources)
	if err != nil {
		return nil, err
	}
	if cs.proto != nil {
		pending := len(cs.sources) > 1 || hasReflection(cfg)
		for i, src := range cs.sources {
			if src != registry.Source(cs.proto) {
				continue
			}
			src = compileLogger{Source: src, logger: logger}
			if pending {
				// Another source serves while the .proto files do not
				// compile: start on it, and take the .proto contracts once
				// they compile.
				src = &pendingSource{Source: src, logger: logger,
					waiting: "contracts from .proto files do not compile; serving the other sources until they do"}
			}
			cs.sources[i] = src
		}
	}
	var closers []func() error
	for _, u := range cfg.Upstreams {
		if !u.Reflection {
			continue
		}
		creds := insecure.NewCredentials()
		if u.TLS.Enabled {
			tc, err := upstreamTLS(u.TLS)
			if err != nil {
				return nil, fmt.Errorf("upstream %q: %w", u.EffectiveName(), err)
			}
			creds = credentials.NewTLS(tc)
		}
		src, err := registry.DialReflection(u.Target, []grpc.DialOption{grpc.WithTransportCredentials(creds)})
		if err != nil {
			return nil, fmt.Errorf("upstream %q: %w", u.EffectiveName(), err)
		}
		closers = append(closers, src.Close)
		cs.sources = append(cs.sources, &pendingSource{Source: src, logger: logger,
			waiting: "contracts by reflection not available yet; will retry"})
		cs.reflection = true
	}
	lc.Append(fx.Hook{OnStop: func(context.Context) error {
		var errs []error
		for _, c := range closers {
			errs = append(errs, c())
		}
		return errors.Join(errs...)
	}})
	return cs, nil
}

// compileLogger logs how long each compilation of .proto files took and
// what it gave, so start-up and reload costs show in the log.
type compileLogger struct {
	registry.Source
	logger *slog.Logger
}

func (c compileLogger) Files() ([]*descriptorpb.FileDescriptorProto, error) {
	start := time.Now()
	files, err := c.Source.Files()
	if err == nil {
		c.logger.Info("compiled .proto files", "source", c.Name(), "files", len(files), "duration", time.Since(start).String())
	}
	return files, err
}

// hasReflection reports whether an upstream supplies contracts by
// reflection.
func hasReflection(cfg *config.Config) bool {
	for _, u := range cfg.Upstreams {
		if u.Reflection {
			return true
		}
	}
	return false
}

// pendingSource lets sluice start while a source is not available yet (an
// upstream that supplies its contracts by reflection is not reachable,
// .proto files do not compile) and another serves: until the source first
// answers it contributes nothing (its methods are still proxied over
// gRPC). Once it has answered, a failure refuses the reload like any
// broken contract, so the contracts last seen stay in use.
type pendingSource struct {
	registry.Source
	logger   *slog.Logger
	waiting  string // logged while the source has never answered
	answered atomic.Bool
}

func (p *pendingSource) Files() ([]*descriptorpb.FileDescriptorProto, error) {
	files, err := p.Source.Files()
	if err == nil {
		p.answered.Store(true)
		return files, nil
	}
	if p.answered.Load() {
		return nil, err
	}
	p.logger.Warn(p.waiting, "source", p.Name(), "error", err)
	return nil, nil
}

func newRegistry(cs *contractSources) (*registry.Registry, error) {
	return registry.New(cs.sources...)
}

// routeTable holds the REST route table of the current contracts. It is
// swapped whole when contracts reload, so a request uses one table.
type routeTable struct {
	current atomic.Pointer[transcoding.Routes]
}

func (t *routeTable) Load() *transcoding.Routes { return t.current.Load() }

// newRouteTable builds the REST routes of the loaded contracts. A binding
// that cannot be served, or that another shadows, is logged and left out
// (rest.strict_routes makes it fail start-up instead).
func newRouteTable(cfg *config.Config, reg *registry.Registry, logger *slog.Logger) (*routeTable, error) {
	routes, err := buildRoutes(cfg, reg.Snapshot(), logger)
	if err != nil {
		return nil, err
	}
	t := &routeTable{}
	t.current.Store(routes)
	// Loading a large descriptor set leaves several times its size in
	// garbage (the decoded descriptor protos); hand it back to the system
	// now rather than keeping the process at its loading peak.
	debug.FreeOSMemory()
	return t, nil
}

// routeOptions are the BuildRoutes options of the configuration.
func routeOptions(cfg *config.Config) []transcoding.RouteOption {
	opts := shapeOptions(cfg)
	if cfg.REST.StrictRoutes {
		opts = append(opts, transcoding.WithStrictRoutes())
	}
	return opts
}

// shapeOptions are the BuildRoutes options that shape the routes (path
// prefixes), without strictness: `sluice routes` and the OpenAPI document
// show the routes served, whatever is not.
func shapeOptions(cfg *config.Config) []transcoding.RouteOption {
	if p := pathPrefixes(cfg); p != nil {
		return []transcoding.RouteOption{transcoding.WithPathPrefix(p)}
	}
	return nil
}

// pathPrefixes maps a method to the rest_path_prefix of the upstream that
// serves it (the one with its most specific pattern, as the proxy routes
// it), or nil when no upstream has one.
func pathPrefixes(cfg *config.Config) func(method string) string {
	var table methodpattern.Table[string]
	any := false
	for _, u := range cfg.Upstreams {
		any = any || u.RESTPathPrefix != ""
		for _, p := range u.Methods {
			_ = table.Add(p, u.RESTPathPrefix) // validated: patterns parse and are unique
		}
	}
	if !any {
		return nil
	}
	return func(method string) string {
		p, _ := table.Lookup(method)
		return p
	}
}

// buildRoutes builds the REST routes of s as serve and reload do, and logs
// a warning for every binding not served.
func buildRoutes(cfg *config.Config, s *registry.Snapshot, logger *slog.Logger) (*transcoding.Routes, error) {
	routes, err := transcoding.BuildRoutes(s, routeOptions(cfg)...)
	if err != nil {
		return nil, fmt.Errorf("REST routes: %w", err)
	}
	for _, r := range routes.All() {
		if r.Status != transcoding.RouteOK {
			logger.Warn("REST binding not served; its method stays reachable over gRPC",
				"binding", r.HTTPMethod+" "+r.Template, "method", r.Method, "file", r.File, "status", r.StatusText())
		}
	}
	return routes, nil
}

// watchContracts reloads contracts on SIGHUP, when a descriptor set file
// or a .proto file changes, and on every refresh interval for reflection
// sources. A new
// snapshot replaces the old one only when its REST routes build; calls in
// flight finish on what they started with. A reload that finds the same
// contracts changes nothing (the registry keeps its snapshot, and the
// routes built to check the new one are dropped), so one set of contracts
// is never held twice; one that changed them hands the old snapshot's
// memory back to the system, as start-up does.
func watchContracts(lc fx.Lifecycle, cfg *config.Config, cs *contractSources, reg *registry.Registry, routes *routeTable, obs *observability, logger *slog.Logger) {
	obs.reloaded(nil) // the first load, at start: newRegistry has succeeded
	// checked are the routes of the snapshot the check last accepted;
	// the watcher calls check and onChange from its one goroutine.
	var checked *transcoding.Routes
	opts := []registry.WatchOption{
		registry.WithReloaded(obs.reloaded),
		registry.WithInterval(time.Duration(cfg.Contracts.RefreshInterval)),
		registry.WithFiles(cfg.DescriptorSets...),
		registry.WithWatchLogger(logger),
		registry.WithCheck(func(s *registry.Snapshot) error {
			r, err := buildRoutes(cfg, s, logger)
			if err != nil {
				return err
			}
			checked = r
			return nil
		}),
		registry.WithOnChange(func(s *registry.Snapshot) {
			if checked != nil && checked.Snapshot() == s {
				routes.current.Store(checked)
			}
			checked = nil
			debug.FreeOSMemory()
		}),
	}
	if cs.reflection {
		opts = append(opts, registry.WithReloadEveryInterval())
	}
	w := registry.NewWatcher(reg, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	hup := make(chan os.Signal, 1)
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			signal.Notify(hup, syscall.SIGHUP)
			wg.Add(2)
			go func() { defer wg.Done(); _ = w.Run(ctx) }()
			if interval := time.Duration(cfg.Contracts.Proto.WatchInterval); cs.proto != nil && interval > 0 {
				// A burst of saves is one notification, and notifications
				// that arrive while a reload is pending merge into it.
				wg.Add(1)
				go func() {
					defer wg.Done()
					_ = cs.proto.Watch(ctx, interval, func(file string) {
						logger.Info(".proto files changed: reloading contracts", "file", file)
						w.Trigger()
					})
				}()
			}
			go func() {
				defer wg.Done()
				for {
					select {
					case <-hup:
						logger.Info("SIGHUP: reloading contracts")
						w.Trigger()
					case <-ctx.Done():
						return
					}
				}
			}()
			return nil
		},
		OnStop: func(context.Context) error {
			signal.Stop(hup)
			cancel()
			wg.Wait()
			return nil
		},
	})
}

package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"go.uber.org/dig"
	"go.uber.org/fx"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/policy"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/registry/protosource"
	"github.com/sluice-dev/sluice/transcoding"
)

func serveCommand(args []string, stdout, stderr io.Writer) int {
	var in inputs
	fs := newFlagSet("serve", stderr)
	in.register(fs)
	if err := in.parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "sluice serve: %v\n", err)
		return 2
	}
	cfg, err := in.load()
	if err != nil {
		fmt.Fprintf(stderr, "sluice serve: invalid configuration:\n%v\n", err)
		return 1
	}
	level := new(slog.LevelVar)
	logger := newLogger(cfg, stderr, level)
	if soft, err := setMemoryLimit(os.Getenv, cgroupMemoryFiles); err != nil {
		logger.Warn("the Go runtime has no soft memory limit", "error", err)
	} else if soft > 0 {
		logger.Info("soft memory limit set from the container's", "bytes", soft)
	}

	demo := in.demo()
	// load reads the configuration again for a reload, as here.
	load := func() (*config.Config, error) {
		cfg, err := in.load()
		if err != nil || !demo {
			return cfg, err
		}
		cfg.Upstreams = append(cfg.Upstreams, demoUpstreamConfig())
		applyDemoPolicy(cfg)
		openDemoCORS(cfg)
		if err := cfg.Validate(); err != nil {
			return nil, fmt.Errorf("demo configuration: %w", err)
		}
		return cfg, nil
	}
	extra := []fx.Option{
		fx.Supply(&configReload{load: load, level: level, file: in.configFile}),
		fx.Invoke(func(lc fx.Lifecycle, logger *slog.Logger) { startGCTuner(lc, logger, os.Getenv) }),
	}
	if demo {
		if cfg, err = load(); err != nil {
			fmt.Fprintf(stderr, "sluice serve: %v\n", err)
			return 1
		}
		extra = append(extra, demoModule)
	}

	app := fx.New(appOptions(cfg, logger, extra...))
	if err := app.Err(); err != nil {
		var perrs protosource.Errors
		if errors.As(err, &perrs) {
			fmt.Fprintf(stderr, "sluice serve: .proto files do not compile:\n%v\n", perrs)
			return 1
		}
		fmt.Fprintf(stderr, "sluice serve: %v\n", rootCause(err))
		return 1
	}
	return runApp(app, cfg, logger, demo, stdout, stderr)
}

// runApp starts app, waits for SIGINT or SIGTERM, and drains. It returns
// the process exit code: 0 after a clean drain.
func runApp(app *fx.App, cfg *config.Config, logger *slog.Logger, demo bool, stdout, stderr io.Writer) int {
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)

	startCtx, cancel := context.WithTimeout(context.Background(), app.StartTimeout())
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		fmt.Fprintf(stderr, "sluice serve: start: %v\n", rootCause(err))
		return 1
	}
	if demo {
		printDemoTour(stdout, cfg)
	}
	sig := <-signals
	logger.Info("shutting down", "signal", sig.String())
	stopCtx, cancelStop := context.WithTimeout(context.Background(), app.StopTimeout())
	defer cancelStop()
	if err := app.Stop(stopCtx); err != nil {
		fmt.Fprintf(stderr, "sluice serve: stop: %v\n", err)
		return 1
	}
	return 0
}

// rootCause is the error a constructor or hook returned, without the
// dependency injection's wrapping ("could not build arguments for function
// ... (file.go:141): failed to build ..."): users see the cause alone, as
// validate prints it, and the wrapping names Go functions they never wrote.
func rootCause(err error) error {
	return dig.RootCause(err)
}

func validateCommand(args []string, stdout, stderr io.Writer) int {
	var in inputs
	fs := newFlagSet("validate", stderr)
	in.register(fs)
	strict := fs.Bool("strict", false, "fail on a REST binding that is skipped or shadowed, as rest.strict_routes does")
	if err := in.parse(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "sluice validate: %v\n", err)
		return 2
	}
	cfg, err := in.load()
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	// The configuration is well formed; check that its contracts load and
	// that its upstreams can be built, as serve would.
	cs, err := fileSources(cfg, nil)
	if err == nil {
		for i, src := range cs.sources {
			cs.sources[i] = registry.WithoutComments(src) // validation documents nothing
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "contracts: %v\n", err)
		return 1
	}
	reg, err := newRegistry(cs)
	if err != nil {
		// Compile errors print as configuration errors do: every one, each
		// as file:line:column: message.
		var perrs protosource.Errors
		if errors.As(err, &perrs) {
			fmt.Fprintf(stderr, "%v\n", perrs)
			return 1
		}
		fmt.Fprintf(stderr, "contracts: %v\n", err)
		return 1
	}
	ropts := routeOptions(cfg)
	if *strict {
		ropts = append(ropts, transcoding.WithStrictRoutes())
	}
	routes, err := transcoding.BuildRoutes(reg.Snapshot(), ropts...)
	if err != nil {
		fmt.Fprintf(stderr, "REST routes: %v\n", err)
		return 1
	}
	// A binding not served is a warning: its method stays reachable over
	// gRPC (--strict or rest.strict_routes made it an error above).
	for _, err := range routes.Problems() {
		fmt.Fprintf(stderr, "warning: %v\n", err)
	}
	// Warnings do not fail validation: rules that match no known method,
	// rules shadowed by more specific ones, methods left to the default.
	// The chain serve would run: building it reports what only building
	// finds (a JWKS file that does not parse, bad limit keys).
	chain, err := policy.Build(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	chain.Close()
	if policy.Configured(&cfg.Policy) {
		az, err := policy.Authorizer(cfg.Policy.Authz)
		if err != nil {
			fmt.Fprintf(stderr, "%v\n", err)
			return 1
		}
		var paths []string
		for _, m := range reg.Snapshot().Methods() {
			paths = append(paths, m.Path)
		}
		for _, w := range az.Lint(paths) {
			fmt.Fprintf(stderr, "warning: policy.authz.%s\n", w)
		}
	}
	if _, err := upstreamSpecs(cfg, nil); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "configuration is valid")
	return 0
}

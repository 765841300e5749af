// Command sluiceprof runs a sluice gateway in-process, wired like
// `sluice serve --upstream ... --descriptor-set ...` (descriptor-set
// contracts, one upstream, the recover and access-log interceptors, REST
// transcoding, grpc-go's transport behind the one port), with CPU and
// allocation profiles written when it stops. sluice serve has no pprof
// endpoint; this command keeps profiling support out of the product while
// letting the benchmark harness profile the same code paths under the same
// load (`bench/run.sh --profile`).
//
// It mirrors cmd/sluice's composition by hand, so when the product's
// interceptor chain grows, the profile shows the chain as written here:
// compare with cmd/sluice/app.go's interceptorChain before reading too much
// into a missing policy.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"syscall"
	"time"

	// The sluice binary links the demo API's generated code (for the
	// embedded demo), and the registry uses linked generated types for a
	// descriptor set that matches them: link it here too, or transcoding
	// would take the slower dynamicpb path that sluice serve does not.
	_ "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/interceptors/logging"
	"github.com/sluice-dev/sluice/interceptors/recovery"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/transcoding"
)

func main() {
	var o options
	flag.StringVar(&o.listen, "listen", "127.0.0.1:8080", "`address` of the one port (gRPC, REST over HTTP/1.1 and h2c)")
	flag.StringVar(&o.upstream, "upstream", "127.0.0.1:50051", "`address` of the demo upstream")
	flag.StringVar(&o.descriptors, "descriptor-set", "gen/descriptors/demo.binpb", "descriptor set `file` of the demo API")
	flag.StringVar(&o.methods, "methods", "sluice.demo.library.v1.*", "method `pattern` routed to the upstream")
	flag.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile to `file` when stopped")
	flag.StringVar(&o.memProfile, "memprofile", "", "write an allocation profile to `file` when stopped")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "sluiceprof: %v\n", err)
		os.Exit(1)
	}
}

type options struct {
	listen, upstream, descriptors, methods string
	cpuProfile, memProfile                 string
}

func run(o options) error {
	// Access logs at warn and above only, as the harness runs sluice serve
	// (--log-level warn): the other gateways log nothing per call.
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg, err := registry.New(registry.DescriptorSetFile(o.descriptors))
	if err != nil {
		return err
	}
	routes, err := transcoding.BuildRoutes(reg.Snapshot())
	if err != nil {
		return err
	}
	ups, err := server.NewUpstreams([]server.Upstream{{Target: o.upstream, Methods: []string{o.methods}}}, 0, 0)
	if err != nil {
		return err
	}
	defer ups.Close()
	d, err := server.NewDispatcher(server.NewProxy(ups, server.WithProxyLogger(logger)),
		recovery.StreamServerInterceptor(recovery.WithLogger(logger)),
		logging.StreamServerInterceptor(logger),
	)
	if err != nil {
		return err
	}
	rest, err := transcoding.NewREST(func() *transcoding.Routes { return routes }, d)
	if err != nil {
		return err
	}
	gw, err := server.NewGateway(d,
		server.WithUnaryInterceptors(recovery.UnaryServerInterceptor(recovery.WithLogger(logger))),
		server.WithLogger(logger),
		server.WithHTTPHandler(rest),
	)
	if err != nil {
		return err
	}

	if o.cpuProfile != "" {
		f, err := os.Create(o.cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	if err := gw.Start(ln); err != nil {
		return err
	}
	fmt.Printf("sluiceprof serving on %s\n", gw.Addr())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = gw.Shutdown(sctx)
	if o.memProfile != "" {
		f, err := os.Create(o.memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		runtime.GC()
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			return err
		}
	}
	return nil
}

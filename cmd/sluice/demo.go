package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"go.uber.org/fx"
	"google.golang.org/grpc"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/interceptors/authn"
	"github.com/sluice-dev/sluice/registry"
)

const demoUpstreamName = "demo"

// demoUpstreamConfig routes the demo API to the in-process upstream (the
// gateway answers server reflection itself, from its contracts).
func demoUpstreamConfig() config.Upstream {
	up := config.DefaultUpstream()
	up.Name = demoUpstreamName
	up.Target = "passthrough:///sluice-demo-upstream"
	up.Methods = []string{"sluice.demo.library.v1"}
	return up
}

// demoModule runs the demo library service in-process on a loopback port
// and hands the gateway its contracts, a dialer to reach it and the demo's
// token signing keys.
var demoModule = fx.Module("demo",
	fx.Provide(
		newDemoUpstream,
		fx.Annotate(demoContracts, fx.ResultTags(`group:"linked_contracts,flatten"`)),
		fx.Annotate(demoDialer, fx.ResultTags(`group:"upstream_dialers"`)),
		fx.Annotate(demoKeys, fx.ResultTags(`group:"authn_options"`)),
	),
)

// demoWriteScope is the scope demo tokens need to change the library.
const demoWriteScope = "library.write"

// applyDemoPolicy opens the demo's reads to anyone and requires a JWT with
// the library.write scope for everything else, so the tour shows
// authentication and authorization at work. Tokens come from
// `sluice token`, signed with a key compiled into the binary: a demo, not
// a way to run in production.
func applyDemoPolicy(cfg *config.Config) {
	const svc = "sluice.demo.library.v1.LibraryService."
	jwt := &cfg.Policy.Authn.JWT
	jwt.JWKSURL = authn.DemoIssuer + "/jwks.json" // served in-process, see demoKeys
	jwt.Issuer = authn.DemoIssuer
	jwt.Audiences = []string{authn.DemoAudience}
	cfg.Policy.Authz.Rules = append(cfg.Policy.Authz.Rules,
		config.AuthzRule{
			Methods: []string{svc + "Get*", svc + "List*", svc + "Export*", svc + "Watch*", svc + "DownloadBook", svc + "DiscussBook", "grpc.reflection"},
			Access:  config.AccessAnonymous,
		},
		config.AuthzRule{
			Methods: []string{"sluice.demo.library.v1"},
			Access:  config.AccessAuthenticated,
			Scopes:  []string{demoWriteScope},
		},
	)
}

// openDemoCORS lets pages of any origin call the demo and read its OpenAPI
// document: the API explorer on the admin port calls the gateway's port,
// and the tour calls it from any page. No credentials (cookies) are
// allowed: the demo's writes take a bearer token, which a page sends in
// Authorization like any other header.
func openDemoCORS(cfg *config.Config) {
	if len(cfg.CORS.AllowedOrigins) == 0 {
		cfg.CORS.AllowedOrigins = []string{"*"}
	}
}

func demoKeys() authn.Option {
	return authn.WithKeySource(authn.KeySourceFunc(func(context.Context) ([]byte, error) {
		return authn.DemoJWKS()
	}))
}

type demoUpstream struct {
	lib  *demo.Library
	srv  *grpc.Server
	mu   sync.Mutex
	addr string
}

func newDemoUpstream(lc fx.Lifecycle) *demoUpstream {
	lib := demo.NewLibrary()
	d := &demoUpstream{lib: lib, srv: demo.NewServer(lib)}
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				return fmt.Errorf("demo upstream: %w", err)
			}
			d.mu.Lock()
			d.addr = ln.Addr().String()
			d.mu.Unlock()
			go func() {
				defer close(done)
				_ = d.srv.Serve(ln)
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			// Watch streams never end by themselves: end them first, or the
			// graceful stop would wait for them.
			d.lib.Close()
			stopped := make(chan struct{})
			go func() { d.srv.GracefulStop(); close(stopped) }()
			select {
			case <-stopped:
			case <-ctx.Done():
				d.srv.Stop()
			}
			<-done
			return nil
		},
	})
	return d
}

// demoContracts are the demo API compiled into the binary, plus its
// descriptor set with comments: the snapshot keeps the generated types and
// the OpenAPI document gets its descriptions.
func demoContracts() []registry.Source {
	return []registry.Source{
		registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto),
		registry.DescriptorSet("embedded demo contract", demo.DescriptorSet()),
	}
}

func demoDialer(d *demoUpstream) upstreamDialer {
	return upstreamDialer{
		Upstream: demoUpstreamName,
		Dial: func(ctx context.Context, _ string) (net.Conn, error) {
			d.mu.Lock()
			addr := d.addr
			d.mu.Unlock()
			if addr == "" {
				return nil, errors.New("demo upstream not started")
			}
			var dialer net.Dialer
			return dialer.DialContext(ctx, "tcp", addr)
		},
	}
}

func printDemoTour(w io.Writer, cfg *config.Config) {
	addr := cfg.Listen
	fmt.Fprintf(w, `sluice is serving the embedded demo (a library API) on %[1]s.

Try it:
  grpcurl -plaintext %[1]s list
  grpcurl -plaintext %[1]s list sluice.demo.library.v1.LibraryService
  grpcurl -plaintext -d '{"parent":"shelves/classics"}' %[1]s sluice.demo.library.v1.LibraryService/ListBooks
  grpcurl -plaintext %[1]s grpc.health.v1.Health/Check
  curl -s http://%[1]s/v1/shelves/classics/books/moby-dick
  curl -s 'http://%[1]s/v1/shelves/classics/books?pageSize=1'
  curl -sN http://%[1]s/v1/shelves/classics/books:export
  printf '\x00\x00\x00\x00\x0f\x0a\x0dshelves/scifi' | curl -s --data-binary @- -H 'Content-Type: application/grpc-web+proto' \
    http://%[1]s/sluice.demo.library.v1.LibraryService/GetShelf | od -c     # gRPC-Web: a framed message, then the trailer frame
  curl -s http://%[1]s/sluice.demo.library.v1.LibraryService/GetShelf -H 'Content-Type: application/json' -d '{"name":"shelves/scifi"}'
  TOKEN=$(sluice token)     # a demo token with the library.write scope (demo key: not for production)
  curl -s -X POST http://%[1]s/v1/shelves -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' -d '{"shelf":{"displayName":"Poetry"}}'
  curl -s http://%[2]s/readyz
  curl -s http://%[2]s/openapi.json

In a browser: http://%[2]s/docs is the API explorer. Reads work as they are;
for a write, click Authorize, paste $TOKEN, then "Try it out" on CreateShelf.
Pages of any origin may call the demo (CORS is open to any origin, without cookies).

Change the contract while it runs (from a checkout of sluice, in a second terminal):
  sluice demo-upstream --listen 127.0.0.1:50051 &     # the demo service alone
  cp -r proto /tmp/library-proto                       # a copy of the demo contract to edit
  sluice serve --listen 127.0.0.1:8081 --admin off --proto /tmp/library-proto \
    --upstream 'sluice.demo.library.v1=127.0.0.1:50051'
  # In /tmp/library-proto/sluice/demo/library/v1/library.proto, give GetShelf a second
  # HTTP binding and save; sluice compiles the change and serves it, no restart:
  #   option (google.api.http) = {
  #     get: "/v1/{name=shelves/*}"
  #     %[3]s
  #   };
  curl -s http://127.0.0.1:8081/v2/shelves/classics
  # A mistake is refused with its file:line:column; the routes in use stay.

Stop with Ctrl-C.
`, addr, cfg.AdminAddr(), demoTourBinding)
}

// demoTourBinding is the HTTP binding the tour adds to GetShelf by
// editing a copy of the demo contract (TestServeFromProtoSources makes the
// same edit).
const demoTourBinding = `additional_bindings: {get: "/v2/{name=shelves/*}"}`

func demoUpstreamCommand(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("demo-upstream", stderr)
	listen := fs.String("listen", "127.0.0.1:50051", "`address` to serve the demo library service on")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(stderr, "sluice demo-upstream: listen on %s: %v\n", *listen, err)
		return 1
	}
	lib := demo.NewLibrary()
	srv := demo.NewServer(lib)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(signals)
	go func() {
		<-signals
		lib.Close()
		srv.GracefulStop()
	}()
	fmt.Fprintf(stdout, "demo upstream serving sluice.demo.library.v1.LibraryService on %s\n", ln.Addr())
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintf(stderr, "sluice demo-upstream: %v\n", err)
		return 1
	}
	return 0
}

package gatewaytest

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/upstream"
)

// shutdownGrace bounds how long a gateway's graceful shutdown may take at
// cleanup before it is forced.
const shutdownGrace = 5 * time.Second

// Gateway is a sluice gateway run for a test: an upstream.Pool, a
// server.Dispatcher over them and, once started, a server.Gateway on a
// loopback port.
type Gateway struct {
	// Addr is the host:port the gateway listens on; empty until Start.
	Addr string
	// Gateway is nil until Start.
	Gateway    *server.Gateway
	Dispatcher *server.Dispatcher
	Upstreams  *upstream.Pool
}

// Route returns the one upstream at target serving the methods that match
// patterns (upstream.Spec's method patterns), without size limits.
func Route(target string, patterns ...string) []upstream.Spec {
	return []upstream.Spec{{Target: target, Methods: patterns}}
}

// StartGateway runs a gateway that routes calls to upstreams through the
// interceptor chain, on a loopback port, until the test ends.
func StartGateway(t testing.TB, upstreams []upstream.Spec, chain ...grpc.StreamServerInterceptor) *Gateway {
	t.Helper()
	g := NewGateway(t, upstreams, chain...)
	g.Start(t)
	return g
}

// NewGateway builds the upstreams (without message size limits) and a
// dispatcher over them through chain, but serves nothing until Start: use
// it rather than StartGateway when a gateway option needs the dispatcher,
// as an HTTP handler that adapts calls does. The upstreams are closed at
// cleanup, after the gateway has shut down.
func NewGateway(t testing.TB, upstreams []upstream.Spec, chain ...grpc.StreamServerInterceptor) *Gateway {
	t.Helper()
	return NewGatewayWithProxy(t, upstreams, nil, chain...)
}

// NewGatewayWithProxy is NewGateway with options for the proxy, such as
// server.WithMethodKinds, which sends unary calls down the proxy's unary
// path as a gateway with contracts does.
func NewGatewayWithProxy(t testing.TB, upstreams []upstream.Spec, proxyOpts []server.ProxyOption, chain ...grpc.StreamServerInterceptor) *Gateway {
	t.Helper()
	ups, err := upstream.NewPool(upstreams)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ups.Close() })
	d, err := server.NewDispatcher(server.NewProxy(ups, proxyOpts...), chain...)
	if err != nil {
		t.Fatal(err)
	}
	return &Gateway{Dispatcher: d, Upstreams: ups}
}

// Start builds the server.Gateway with opts and serves it on a loopback
// port. At cleanup it is shut down gracefully, forced after 5 seconds.
// Call it once.
func (g *Gateway) Start(t testing.TB, opts ...server.Option) {
	t.Helper()
	gw, err := server.NewGateway(g.Dispatcher, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := gw.Start(ln); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		_ = gw.Shutdown(ctx)
	})
	g.Gateway, g.Addr = gw, ln.Addr().String()
}

package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Dispatcher is the one path every call takes after its protocol has been
// dealt with: the gateway's canonical-method check, the interceptor chain,
// then the proxy. The native gRPC server runs calls through it, and so do
// the REST and gRPC-Web adapters (Dispatch), so no protocol can take a
// different path through the policies. It is immutable and safe for
// concurrent use.
type Dispatcher struct {
	chain    grpc.StreamServerInterceptor
	proxy    *Proxy
	inFlight atomic.Int64 // calls running through it, for Drain
}

// NewDispatcher builds the path to proxy through interceptors, in order:
// the first is outermost.
func NewDispatcher(proxy *Proxy, interceptors ...grpc.StreamServerInterceptor) (*Dispatcher, error) {
	if proxy == nil {
		return nil, errors.New("dispatcher: nil proxy")
	}
	for i, in := range interceptors {
		if in == nil {
			return nil, fmt.Errorf("dispatcher: interceptor %d is nil", i)
		}
	}
	all := append([]grpc.StreamServerInterceptor{canonicalMethod}, interceptors...)
	return &Dispatcher{chain: chainStream(all), proxy: proxy}, nil
}

// Dispatch runs one call that an adapter (REST, gRPC-Web) turned into a
// stream. method ("/pkg.Service/Method") is what the policies see and where
// the proxy routes; clientStreams and serverStreams give the call's kind,
// from its contract. Adapters should also put a grpc.ServerTransportStream
// in ss's context (grpc.NewContextWithServerTransportStream) so that
// interceptors can set headers and trailers as they do for native calls.
func (d *Dispatcher) Dispatch(ss grpc.ServerStream, method string, clientStreams, serverStreams bool) error {
	d.inFlight.Add(1)
	defer d.inFlight.Add(-1)
	info := &grpc.StreamServerInfo{FullMethod: method, IsClientStream: clientStreams, IsServerStream: serverStreams}
	unary := !clientStreams && !serverStreams
	return d.chain(nil, ss, info, func(_ any, stream grpc.ServerStream) error {
		return d.proxy.forward(stream, method, unary)
	})
}

// native runs a call the gRPC server received through the chain. grpc-go
// describes every call that reaches an unknown-service handler (the
// proxy) as a bidirectional stream; when the proxy has the method's
// contract (WithMethodKinds), the chain is told the call's real kind, so
// that policies see the same kind for a method whatever protocol the
// call came by.
//
// The gateway's own health service is the exception: it is the liveness
// endpoint of load balancers and orchestrators, must answer whatever the
// authorization rules say, and its Watch streams must outlive deadlines
// and not count in concurrency limits, so it runs without the proxy's
// policies (its unary Check gets the gateway's unary chain, as before).
// Other services registered with WithService, such as server reflection,
// stay under the policies: they can reveal contracts, which an operator
// with authorization rules means to guard.
func (d *Dispatcher) native(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	// srv is nil for the calls the unknown-service handler (the proxy)
	// takes, and the implementation of a service the gateway registered.
	if srv != nil && strings.HasPrefix(info.FullMethod, ownHealthPrefix) {
		return handler(srv, ss)
	}
	if kinds := d.proxy.kinds; kinds != nil {
		if client, server, ok := kinds(info.FullMethod); ok {
			info = &grpc.StreamServerInfo{FullMethod: info.FullMethod, IsClientStream: client, IsServerStream: server}
		}
	}
	return d.chain(srv, ss, info, handler)
}

// Drain waits until no call runs through d, or ctx ends (its error then).
// A reload calls it on the dispatcher it replaced, to close that
// configuration's upstream connections only once its calls finished.
func (d *Dispatcher) Drain(ctx context.Context) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for d.inFlight.Load() > 0 {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
	return nil
}

// ownHealthPrefix starts the methods of grpc.health.v1.Health, which the
// gateway registers itself (see NewGateway).
const ownHealthPrefix = "/grpc.health.v1.Health/"

// handle is the gRPC server's handler for every call (its unknown-service
// handler): the chain in front of it has checked the method already.
func (d *Dispatcher) handle(_ any, stream grpc.ServerStream) error {
	method, ok := grpc.MethodFromServerStream(stream)
	if !ok {
		return status.Error(codes.Internal, "proxy: no method in stream context")
	}
	return d.proxy.forward(stream, method, d.proxy.isUnary(method))
}

// chainStream composes interceptors into one, the first outermost.
func chainStream(interceptors []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	switch len(interceptors) {
	case 0:
		return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return h(srv, ss)
		}
	case 1:
		return interceptors[0]
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return interceptors[0](srv, ss, info, chainedHandler(interceptors, 1, info, h))
	}
}

func chainedHandler(interceptors []grpc.StreamServerInterceptor, i int, info *grpc.StreamServerInfo, final grpc.StreamHandler) grpc.StreamHandler {
	if i == len(interceptors) {
		return final
	}
	return func(srv any, ss grpc.ServerStream) error {
		return interceptors[i](srv, ss, info, chainedHandler(interceptors, i+1, info, final))
	}
}

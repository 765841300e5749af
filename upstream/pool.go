package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/keepalive"

	"github.com/sluice-dev/sluice/upstream/outlier"
)

// Spec describes one upstream gRPC service: where it is, which methods it
// serves, and how to reach it.
type Spec struct {
	// Name identifies the upstream in logs and errors; it defaults to Target.
	Name string
	// Target is a gRPC target: "host:port", "dns:///host:port",
	// "unix:///path", "passthrough:///addr", ...
	Target string
	// Methods are the method patterns routed here (see Route).
	Methods []string
	// TLS, when non-nil, secures the connection (set Certificates for mTLS).
	// Nil means cleartext HTTP/2.
	TLS *tls.Config
	// LoadBalancing is the gRPC load-balancing policy over the target's
	// addresses: "round_robin" (the default) or "pick_first".
	LoadBalancing string
	// Keepalive pings idle connections so dead upstreams are noticed.
	// Zero values take grpc-go's defaults.
	Keepalive keepalive.ClientParameters
	// HealthCheck turns on client-side grpc.health.v1 checks of every
	// address, so calls avoid unhealthy replicas; HealthService is the
	// service name asked about ("" for the whole server).
	HealthCheck   bool
	HealthService string
	// InitialWindowSize and InitialConnWindowSize fix the HTTP/2 flow
	// control windows of the upstream leg per stream and per connection;
	// zero keeps grpc-go's dynamic windows.
	InitialWindowSize     int32
	InitialConnWindowSize int32
	// ConnectTimeout bounds one connection attempt (default 20s).
	ConnectTimeout time.Duration
	// Retry, when non-nil, retries calls to the methods it names that fail
	// before their first response message (see RetryPolicy).
	Retry *RetryPolicy
	// OutlierDetection, when non-nil, ejects addresses that fail calls
	// repeatedly (see package outlier, whose policy must be registered).
	OutlierDetection *outlier.Config
	// DialOptions are appended last; tests use them for in-memory dialers.
	DialOptions []grpc.DialOption
}

// Pool owns one grpc.ClientConn per upstream and the route table that
// maps methods to them. It is safe for concurrent use; Close releases the
// connections.
type Pool struct {
	conns  map[string]*grpc.ClientConn
	retry  map[string]*retrier // by upstream name, for those with a RetryPolicy
	order  []string
	routes *routeTable
}

// NewPool validates the upstreams and creates their connections, reporting
// every invalid one at once. Connections are made lazily by grpc-go; call
// Connect to start them early.
func NewPool(ups []Spec, opts ...Option) (*Pool, error) {
	var cfg poolConfig
	for _, o := range opts {
		o.apply(&cfg)
	}
	u := &Pool{conns: make(map[string]*grpc.ClientConn, len(ups)), retry: map[string]*retrier{}}
	var routes []Route
	var errs []error
	for i := range ups {
		up := ups[i]
		if up.Name == "" {
			up.Name = up.Target
		}
		if up.Target == "" {
			errs = append(errs, fmt.Errorf("upstream %d: empty target", i))
			continue
		}
		if len(up.Methods) == 0 {
			errs = append(errs, fmt.Errorf("upstream %q: no method patterns", up.Name))
			continue
		}
		if _, dup := u.conns[up.Name]; dup {
			errs = append(errs, fmt.Errorf("upstream %q: defined twice", up.Name))
			continue
		}
		cc, r, err := dial(up, cfg)
		if err != nil {
			errs = append(errs, fmt.Errorf("upstream %q: %w", up.Name, err))
			continue
		}
		u.conns[up.Name] = cc
		if r != nil {
			u.retry[up.Name] = r
		}
		u.order = append(u.order, up.Name)
		for _, m := range up.Methods {
			routes = append(routes, Route{Pattern: m, Upstream: up.Name})
		}
	}
	if len(errs) == 0 {
		rt, err := newRouteTable(routes)
		if err != nil {
			errs = append(errs, err)
		}
		u.routes = rt
	}
	if err := errors.Join(errs...); err != nil {
		_ = u.Close()
		return nil, err
	}
	return u, nil
}

// Lookup returns the connection and upstream name for a method path
// ("/pkg.Service/Method"), by the most specific matching pattern.
func (u *Pool) Lookup(method string) (*grpc.ClientConn, string, bool) {
	if u == nil || u.routes == nil {
		return nil, "", false
	}
	name, ok := u.routes.lookup(method)
	if !ok {
		return nil, "", false
	}
	return u.conns[name], name, true
}

// Retries reports whether calls of method to the upstream named name may
// be retried by its RetryPolicy. Such calls must go through
// grpc.ClientConn.NewStream, where the retry interceptor sits, and carry
// FrameCall.
func (u *Pool) Retries(name, method string) bool {
	r := u.retry[name]
	if r == nil {
		return false
	}
	_, ok := r.methods.lookup(method)
	return ok
}

// Connect starts connecting every upstream now rather than on first use.
func (u *Pool) Connect() {
	for _, name := range u.order {
		u.conns[name].Connect()
	}
}

// State is the connectivity of one upstream, for readiness checks.
type State struct {
	Name   string
	Target string
	State  connectivity.State
}

// States reports every upstream's connectivity, in configuration order.
func (u *Pool) States() []State {
	out := make([]State, 0, len(u.order))
	for _, name := range u.order {
		cc := u.conns[name]
		out = append(out, State{Name: name, Target: cc.Target(), State: cc.GetState()})
	}
	return out
}

// Ready reports whether every upstream has a usable connection. It returns
// a description of the ones that are not, sorted by name.
func (u *Pool) Ready() (bool, string) {
	var bad []string
	for _, s := range u.States() {
		if s.State != connectivity.Ready {
			if s.State == connectivity.Idle {
				u.conns[s.Name].Connect()
			}
			bad = append(bad, fmt.Sprintf("%s (%s): %s", s.Name, s.Target, s.State))
		}
	}
	sort.Strings(bad)
	return len(bad) == 0, strings.Join(bad, "; ")
}

// WaitReady blocks until every upstream is ready or ctx ends.
func (u *Pool) WaitReady(ctx context.Context) error {
	for _, name := range u.order {
		cc := u.conns[name]
		cc.Connect()
		for {
			st := cc.GetState()
			if st == connectivity.Ready {
				break
			}
			if !cc.WaitForStateChange(ctx, st) {
				return fmt.Errorf("upstream %q (%s): %s: %w", name, cc.Target(), st, ctx.Err())
			}
		}
	}
	return nil
}

// Close closes every upstream connection.
func (u *Pool) Close() error {
	var errs []error
	for _, name := range u.order {
		if err := u.conns[name].Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

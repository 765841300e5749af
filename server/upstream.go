package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/health" // client-side health checking, when an upstream asks for it
	"google.golang.org/grpc/keepalive"
)

// Upstream describes one upstream gRPC service: where it is and which
// methods it serves.
type Upstream struct {
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
	// repeatedly (see OutlierDetection).
	OutlierDetection *OutlierDetection
	// DialOptions are appended last; tests use them for in-memory dialers.
	DialOptions []grpc.DialOption
}

// Upstreams owns one grpc.ClientConn per upstream and the route table that
// maps methods to them. It is safe for concurrent use; Close releases the
// connections.
type Upstreams struct {
	conns  map[string]*grpc.ClientConn
	retry  map[string]*retrier // by upstream name, for those with a RetryPolicy
	order  []string
	routes *routeTable
}

// NewUpstreams validates the upstreams and creates their connections.
// Connections are made lazily by grpc-go; call Connect to start them early.
// maxRecv and maxSend bound message sizes on the upstream leg (0 leaves
// grpc-go's defaults).
func NewUpstreams(ups []Upstream, maxRecv, maxSend int) (*Upstreams, error) {
	u := &Upstreams{conns: make(map[string]*grpc.ClientConn, len(ups)), retry: map[string]*retrier{}}
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
		cc, r, err := dialUpstream(up, maxRecv, maxSend)
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

func dialUpstream(up Upstream, maxRecv, maxSend int) (*grpc.ClientConn, *retrier, error) {
	lb := up.LoadBalancing
	if lb == "" {
		lb = "round_robin"
	}
	if lb != "round_robin" && lb != "pick_first" {
		return nil, nil, fmt.Errorf("unknown load balancing policy %q", lb)
	}
	if up.OutlierDetection != nil {
		od := up.OutlierDetection.withDefaults()
		if err := od.validate(); err != nil {
			return nil, nil, err
		}
		up.OutlierDetection = &od
	}
	creds := insecure.NewCredentials()
	if up.TLS != nil {
		creds = credentials.NewTLS(up.TLS.Clone())
	}
	connectTimeout := up.ConnectTimeout
	if connectTimeout <= 0 {
		connectTimeout = 20 * time.Second
	}
	var callOpts []grpc.CallOption
	if maxRecv > 0 {
		callOpts = append(callOpts, grpc.MaxCallRecvMsgSize(maxRecv))
	}
	if maxSend > 0 {
		callOpts = append(callOpts, grpc.MaxCallSendMsgSize(maxSend))
	}
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(creds),
		grpc.WithDefaultServiceConfig(serviceConfig(lb, up)),
		grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.DefaultConfig, MinConnectTimeout: connectTimeout}),
		grpc.WithUserAgent("sluice"),
	}
	if len(callOpts) > 0 {
		opts = append(opts, grpc.WithDefaultCallOptions(callOpts...))
	}
	var r *retrier
	if up.Retry != nil {
		var err error
		if r, err = newRetrier(*up.Retry); err != nil {
			return nil, nil, err
		}
		opts = append(opts, grpc.WithChainStreamInterceptor(r.interceptor))
	}
	if up.InitialWindowSize > 0 {
		opts = append(opts, grpc.WithInitialWindowSize(up.InitialWindowSize))
	}
	if up.InitialConnWindowSize > 0 {
		opts = append(opts, grpc.WithInitialConnWindowSize(up.InitialConnWindowSize))
	}
	if up.Keepalive != (keepalive.ClientParameters{}) {
		opts = append(opts, grpc.WithKeepaliveParams(up.Keepalive))
	}
	opts = append(opts, up.DialOptions...)
	cc, err := grpc.NewClient(up.Target, opts...)
	return cc, r, err
}

func serviceConfig(lb string, up Upstream) string {
	sc := map[string]any{"loadBalancingConfig": []any{map[string]any{lb: map[string]any{}}}}
	if up.OutlierDetection != nil {
		sc["loadBalancingConfig"] = []any{outlierServiceConfig(lb, *up.OutlierDetection)}
	}
	if up.HealthCheck {
		sc["healthCheckConfig"] = map[string]any{"serviceName": up.HealthService}
	}
	b, _ := json.Marshal(sc) // maps of strings always marshal
	return string(b)
}

// Lookup returns the connection and upstream name for a method path
// ("/pkg.Service/Method"), by the most specific matching pattern.
func (u *Upstreams) Lookup(method string) (*grpc.ClientConn, string, bool) {
	if u == nil || u.routes == nil {
		return nil, "", false
	}
	name, ok := u.routes.lookup(method)
	if !ok {
		return nil, "", false
	}
	return u.conns[name], name, true
}

// retries reports whether calls of method to the upstream named name may
// be retried by its RetryPolicy. Such calls must go through
// grpc.ClientConn.NewStream, where the retry interceptor sits.
func (u *Upstreams) retries(name, method string) bool {
	r := u.retry[name]
	if r == nil {
		return false
	}
	_, ok := r.methods.lookup(method)
	return ok
}

// Connect starts connecting every upstream now rather than on first use.
func (u *Upstreams) Connect() {
	for _, name := range u.order {
		u.conns[name].Connect()
	}
}

// UpstreamState is the connectivity of one upstream, for readiness checks.
type UpstreamState struct {
	Name   string
	Target string
	State  connectivity.State
}

// States reports every upstream's connectivity, in configuration order.
func (u *Upstreams) States() []UpstreamState {
	out := make([]UpstreamState, 0, len(u.order))
	for _, name := range u.order {
		cc := u.conns[name]
		out = append(out, UpstreamState{Name: name, Target: cc.Target(), State: cc.GetState()})
	}
	return out
}

// Ready reports whether every upstream has a usable connection. It returns
// a description of the ones that are not, sorted by name.
func (u *Upstreams) Ready() (bool, string) {
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
func (u *Upstreams) WaitReady(ctx context.Context) error {
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
func (u *Upstreams) Close() error {
	var errs []error
	for _, name := range u.order {
		if err := u.conns[name].Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

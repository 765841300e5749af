package outlier

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/connectivity"
	estats "google.golang.org/grpc/experimental/stats"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"
)

// Name is the policy's name in a service config's loadBalancingConfig.
const Name = "sluice_outlier_detection"

// EjectionsMetric is the name of the count the policy reports each
// ejection under, through grpc-go's metrics API for load-balancing
// policies: a stats handler of the connection that implements
// estats.MetricsRecorder receives it (with no labels: the handler knows
// which upstream its connection goes to).
const EjectionsMetric = "sluice.upstream.outlier_ejections"

var (
	registerOnce sync.Once
	ejections    *estats.Int64CountHandle
)

// Register adds the policy to grpc-go's registry of load-balancing
// policies, and its ejection count to grpc-go's registry of metrics. Call
// it once when the program starts, before any grpc.ClientConn is created:
// grpc-go's registries may not be written while connections read them.
// Calling it again at such a time is harmless.
func Register() {
	balancer.Register(builder{})
	registerOnce.Do(func() {
		ejections = estats.RegisterInt64Count(estats.MetricDescriptor{
			Name:        EjectionsMetric,
			Description: "Addresses of the upstream ejected after consecutive failures.",
			Unit:        "{ejection}",
		})
	})
}

// Registered reports whether Register has been called (or another policy
// took the name), so that a constructor can refuse a configuration that
// would otherwise fail only when its connection parses its service config.
func Registered() bool { return balancer.Get(Name) != nil }

type builder struct{}

func (builder) Name() string { return Name }

func (builder) ParseConfig(js json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	return parseConfig(js)
}

func (builder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	b := &outlierBalancer{opts: opts, endpoints: map[balancer.SubConn]*endpoint{}}
	b.cc = &outlierConn{ClientConn: cc, b: b}
	return b
}

// outlierBalancer passes everything to its child policy; it only wraps the
// child's picker, and tracks the SubConns the child creates.
type outlierBalancer struct {
	cc    *outlierConn
	opts  balancer.BuildOptions
	child balancer.Balancer
	name  string
	cfg   atomic.Pointer[lbConfig]

	// mu guards endpoints and every endpoint's record: an ejection
	// depends on how many other addresses are ejected.
	mu        sync.Mutex
	endpoints map[balancer.SubConn]*endpoint
}

func (b *outlierBalancer) UpdateClientConnState(s balancer.ClientConnState) error {
	cfg, ok := s.BalancerConfig.(*lbConfig)
	if !ok {
		return fmt.Errorf("%s: unexpected config %T", Name, s.BalancerConfig)
	}
	b.cfg.Store(cfg)
	if b.child == nil || b.name != cfg.ChildPolicy {
		if b.child != nil {
			b.child.Close()
		}
		b.child = balancer.Get(cfg.ChildPolicy).Build(b.cc, b.opts)
		b.name = cfg.ChildPolicy
	}
	s.BalancerConfig = nil
	return b.child.UpdateClientConnState(s)
}

func (b *outlierBalancer) ResolverError(err error) {
	if b.child != nil {
		b.child.ResolverError(err)
	}
}

func (b *outlierBalancer) UpdateSubConnState(sc balancer.SubConn, st balancer.SubConnState) {
	if b.child != nil {
		//lint:ignore SA1019 forwarded for child policies that still rely on it
		b.child.UpdateSubConnState(sc, st)
	}
}

func (b *outlierBalancer) Close() {
	if b.child != nil {
		b.child.Close()
	}
}

func (b *outlierBalancer) ExitIdle() {
	if b.child != nil {
		b.child.ExitIdle()
	}
}

// pickable returns sc's record, whether it is ejected now, and how many
// addresses the balancer tracks.
func (b *outlierBalancer) pickable(sc balancer.SubConn, now time.Time) (*endpoint, bool, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.endpoints[sc]
	return e, e != nil && now.Before(e.ejectedUntil), len(b.endpoints)
}

// ejectedLocked counts the addresses ejected at now.
func (b *outlierBalancer) ejectedLocked(now time.Time) int {
	n := 0
	for _, e := range b.endpoints {
		if now.Before(e.ejectedUntil) {
			n++
		}
	}
	return n
}

// outlierConn is the ClientConn the child sees.
type outlierConn struct {
	balancer.ClientConn
	b *outlierBalancer
}

func (c *outlierConn) NewSubConn(addrs []resolver.Address, opts balancer.NewSubConnOptions) (balancer.SubConn, error) {
	var sc balancer.SubConn
	listener := opts.StateListener
	opts.StateListener = func(st balancer.SubConnState) {
		if st.ConnectivityState == connectivity.Shutdown {
			c.b.mu.Lock()
			delete(c.b.endpoints, sc)
			c.b.mu.Unlock()
		}
		if listener != nil {
			listener(st)
		}
	}
	//lint:ignore SA1019 intercepting the child's SubConns is the point of this wrapper
	sc, err := c.ClientConn.NewSubConn(addrs, opts)
	if err != nil {
		return nil, err
	}
	c.b.mu.Lock()
	c.b.endpoints[sc] = newEndpoint(c.b)
	c.b.mu.Unlock()
	return sc, nil
}

func (c *outlierConn) UpdateState(st balancer.State) {
	if st.Picker != nil {
		st.Picker = &picker{child: st.Picker, b: c.b}
	}
	c.ClientConn.UpdateState(st)
}

package upstream

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/health" // client-side health checking, when an upstream asks for it
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/stats"

	"github.com/sluice-dev/sluice/upstream/outlier"
)

// Option configures a Pool.
type Option interface{ apply(*poolConfig) }

type optionFunc func(*poolConfig)

func (f optionFunc) apply(c *poolConfig) { f(c) }

type poolConfig struct {
	maxRecv, maxSend int
	statsHandlers    func(upstream string) []stats.Handler
}

// WithStatsHandlers installs the stats handlers f returns for each
// upstream, by name, on its connection: the observers of the upstream leg
// (the access log's attempts and address, metrics, a client span per
// attempt). A retried call reaches them once per attempt. f is called
// once per upstream, by NewPool.
func WithStatsHandlers(f func(upstream string) []stats.Handler) Option {
	return optionFunc(func(c *poolConfig) { c.statsHandlers = f })
}

// WithMaxRecvMsgSize bounds the size of a message received from an
// upstream (a response); 0, the default, keeps grpc-go's 4 MiB.
func WithMaxRecvMsgSize(n int) Option {
	return optionFunc(func(c *poolConfig) { c.maxRecv = n })
}

// WithMaxSendMsgSize bounds the size of a message sent to an upstream (a
// request); 0, the default, keeps grpc-go's (unbounded).
func WithMaxSendMsgSize(n int) Option {
	return optionFunc(func(c *poolConfig) { c.maxSend = n })
}

// dial validates up and creates its connection, with the retry
// interceptor when up has a RetryPolicy.
func dial(up Spec, cfg poolConfig) (*grpc.ClientConn, *retrier, error) {
	lb := up.LoadBalancing
	if lb == "" {
		lb = "round_robin"
	}
	if lb != "round_robin" && lb != "pick_first" {
		return nil, nil, fmt.Errorf("unknown load balancing policy %q", lb)
	}
	if up.OutlierDetection != nil {
		od := up.OutlierDetection.WithDefaults()
		if err := od.Validate(); err != nil {
			return nil, nil, err
		}
		if !outlier.Registered() {
			return nil, nil, errors.New("outlier detection: the policy is not registered: call outlier.Register when the program starts")
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
	if cfg.maxRecv > 0 {
		callOpts = append(callOpts, grpc.MaxCallRecvMsgSize(cfg.maxRecv))
	}
	if cfg.maxSend > 0 {
		callOpts = append(callOpts, grpc.MaxCallSendMsgSize(cfg.maxSend))
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
	if cfg.statsHandlers != nil {
		for _, h := range cfg.statsHandlers(up.Name) {
			opts = append(opts, grpc.WithStatsHandler(h))
		}
	}
	opts = append(opts, up.DialOptions...)
	cc, err := grpc.NewClient(up.Target, opts...)
	return cc, r, err
}

// serviceConfig is up's default service config: the load-balancing
// policy lb, wrapped in outlier detection when up asks for it, and
// client-side health checks.
func serviceConfig(lb string, up Spec) string {
	sc := map[string]any{"loadBalancingConfig": []any{map[string]any{lb: map[string]any{}}}}
	if up.OutlierDetection != nil {
		sc["loadBalancingConfig"] = []any{outlier.ServiceConfig(lb, *up.OutlierDetection)}
	}
	if up.HealthCheck {
		sc["healthCheckConfig"] = map[string]any{"serviceName": up.HealthService}
	}
	b, _ := json.Marshal(sc) // maps of strings always marshal
	return string(b)
}

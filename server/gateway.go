package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/tap"

	"github.com/sluice-dev/sluice/frame"
	"github.com/sluice-dev/sluice/httpstatus"
	"github.com/sluice-dev/sluice/protocol"
	"github.com/sluice-dev/sluice/server/frontdoor"
)

// Limits are the server-side protections every connection gets. Zero
// fields take the defaults of DefaultLimits.
type Limits struct {
	// MaxConcurrentStreams is the HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS
	// advertised to clients (default 1000).
	MaxConcurrentStreams uint32
	// MaxRecvMsgSize bounds one message from a client after decompression
	// (default 4 MiB); larger ones fail with RESOURCE_EXHAUSTED.
	MaxRecvMsgSize int
	// MaxSendMsgSize bounds one message to a client (default 4 MiB).
	MaxSendMsgSize int
	// MaxHeaderListSize bounds the headers of one request (default 16 KiB).
	MaxHeaderListSize uint32
	// InitialWindowSize and InitialConnWindowSize set fixed HTTP/2 flow
	// control windows per stream and per connection. Zero keeps grpc-go's
	// dynamic (BDP-estimated) windows.
	InitialWindowSize     int32
	InitialConnWindowSize int32
}

// DefaultLimits are safe defaults for a public-facing gateway.
func DefaultLimits() Limits {
	return Limits{
		MaxConcurrentStreams: 1000,
		MaxRecvMsgSize:       4 << 20,
		MaxSendMsgSize:       4 << 20,
		MaxHeaderListSize:    16 << 10,
	}
}

// Option configures a Gateway.
type Option interface{ apply(*gatewayConfig) }

type optionFunc func(*gatewayConfig)

func (f optionFunc) apply(c *gatewayConfig) { f(c) }

type gatewayConfig struct {
	unary        []grpc.UnaryServerInterceptor
	tls          *tls.Config
	limits       Limits
	keepalive    keepalive.ServerParameters
	enforcement  keepalive.EnforcementPolicy
	httpHandler  http.Handler
	logger       *slog.Logger
	sniffTimeout time.Duration
	services     []func(grpc.ServiceRegistrar)
	serverOpts   []grpc.ServerOption
}

// WithUnaryInterceptors sets the chain for the gateway's own unary
// services (health). Proxied calls are all streams and never see it.
func WithUnaryInterceptors(chain ...grpc.UnaryServerInterceptor) Option {
	return optionFunc(func(c *gatewayConfig) { c.unary = chain })
}

// WithTLS serves TLS (ALPN h2 and http/1.1) instead of cleartext h2c and
// HTTP/1.1. Set ClientAuth and ClientCAs for mTLS.
func WithTLS(cfg *tls.Config) Option {
	return optionFunc(func(c *gatewayConfig) { c.tls = cfg })
}

// WithLimits sets message, stream and header limits.
func WithLimits(l Limits) Option {
	return optionFunc(func(c *gatewayConfig) { c.limits = l })
}

// WithKeepalive sets the keepalive parameters and the enforcement policy
// for clients' pings.
func WithKeepalive(p keepalive.ServerParameters, e keepalive.EnforcementPolicy) Option {
	return optionFunc(func(c *gatewayConfig) { c.keepalive, c.enforcement = p, e })
}

// WithHTTPHandler sets the handler for requests that are not native gRPC
// (REST, gRPC-Web). Without one they get 404 with a google.rpc.Status body.
func WithHTTPHandler(h http.Handler) Option {
	return optionFunc(func(c *gatewayConfig) { c.httpHandler = h })
}

// WithLogger sets the logger for the gateway's own events.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *gatewayConfig) { c.logger = l })
}

// WithSniffTimeout bounds how long a new connection may take to show which
// protocol it speaks (default 10s).
func WithSniffTimeout(d time.Duration) Option {
	return optionFunc(func(c *gatewayConfig) { c.sniffTimeout = d })
}

// WithService registers a service the gateway itself serves (such as
// server reflection over its contracts). Methods of registered services
// are not proxied.
func WithService(register func(grpc.ServiceRegistrar)) Option {
	return optionFunc(func(c *gatewayConfig) { c.services = append(c.services, register) })
}

// WithServerOptions appends raw grpc.ServerOptions, for what the other
// options do not cover (stats handlers, for example).
func WithServerOptions(opts ...grpc.ServerOption) Option {
	return optionFunc(func(c *gatewayConfig) { c.serverOpts = append(c.serverOpts, opts...) })
}

// DefaultHTTPIdleTimeout is how long an HTTP/1.1 or net/http-served HTTP/2
// connection (REST) may stay idle when the keepalive parameters set no
// MaxConnectionIdle: an idle keep-alive connection costs the gateway a
// goroutine and buffers, so it is not kept forever.
const DefaultHTTPIdleTimeout = 2 * time.Minute

// Gateway serves every protocol on one listener and runs calls through a
// Dispatcher (the interceptor chain, then the proxy). Create it with NewGateway, run it
// with Start, stop it with Shutdown.
type Gateway struct {
	cfg    gatewayConfig
	d      atomic.Pointer[Dispatcher] // the current one: see SetDispatcher
	grpc   *grpc.Server
	health *health.Server
	http   *http.Server
	errs   httpstatus.Writer // the zero Writer: details resolved through the linked types

	mu   sync.Mutex
	door *frontdoor.Door
	wg   sync.WaitGroup

	// httpCalls is the base context of every request net/http serves;
	// cutHTTP cancels it, with ErrShuttingDown as the cause, when a
	// shutdown's grace ends, so that REST streams still open end with
	// that status as their last line or event rather than a cut
	// connection. httpInFlight counts the requests being handled.
	httpCalls    context.Context
	cutHTTP      context.CancelCauseFunc
	httpInFlight atomic.Int64
}

// ErrShuttingDown is the status of calls a shutdown cuts: UNAVAILABLE, so
// that clients retry elsewhere. REST handlers find it as the cause of
// their request's context (context.Cause).
var ErrShuttingDown = status.Error(codes.Unavailable, "the gateway is shutting down")

// cutWriteGrace is how long handlers of cut HTTP calls may take to write
// their final status before their connections are closed.
const cutWriteGrace = time.Second

// NewGateway builds a gateway that runs every call it does not serve
// itself (health, registered services) through d.
func NewGateway(d *Dispatcher, opts ...Option) (*Gateway, error) {
	if d == nil {
		return nil, errors.New("gateway: nil dispatcher")
	}
	cfg := gatewayConfig{
		limits:       DefaultLimits(),
		logger:       slog.New(slog.DiscardHandler),
		sniffTimeout: 10 * time.Second,
		enforcement:  keepalive.EnforcementPolicy{MinTime: 10 * time.Second},
	}
	for _, o := range opts {
		o.apply(&cfg)
	}
	cfg.limits = withDefaultLimits(cfg.limits)
	if cfg.sniffTimeout <= 0 {
		return nil, fmt.Errorf("gateway: sniff timeout must be positive, got %v", cfg.sniffTimeout)
	}

	g := &Gateway{cfg: cfg, health: health.NewServer()}
	g.d.Store(d)
	g.httpCalls, g.cutHTTP = context.WithCancelCause(context.Background())
	sopts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(frame.Codec()),
		grpc.UnknownServiceHandler(g.handle),
		grpc.StreamInterceptor(g.native),
		grpc.ChainUnaryInterceptor(cfg.unary...),
		grpc.InTapHandle(tapCanonicalMethod),
		grpc.MaxConcurrentStreams(cfg.limits.MaxConcurrentStreams),
		grpc.MaxRecvMsgSize(cfg.limits.MaxRecvMsgSize),
		grpc.MaxSendMsgSize(cfg.limits.MaxSendMsgSize),
		grpc.MaxHeaderListSize(cfg.limits.MaxHeaderListSize),
		grpc.KeepaliveParams(cfg.keepalive),
		grpc.KeepaliveEnforcementPolicy(cfg.enforcement),
		// Calls run on a fixed set of goroutines whose stacks have grown
		// already, instead of one new goroutine per call that grows its
		// stack through the chain and the proxy every time: 5-8% less
		// CPU per small unary call (docs/benchmarks.md, issue 16).
		grpc.NumStreamWorkers(uint32(runtime.GOMAXPROCS(0))),
	}
	if cfg.limits.InitialWindowSize > 0 {
		sopts = append(sopts, grpc.InitialWindowSize(cfg.limits.InitialWindowSize))
	}
	if cfg.limits.InitialConnWindowSize > 0 {
		sopts = append(sopts, grpc.InitialConnWindowSize(cfg.limits.InitialConnWindowSize))
	}
	if cfg.tls != nil {
		sopts = append(sopts, grpc.Creds(frontdoor.TransportCredentials()))
	}
	sopts = append(sopts, cfg.serverOpts...)
	g.grpc = grpc.NewServer(sopts...)
	healthpb.RegisterHealthServer(g.grpc, g.health)
	for _, register := range cfg.services {
		register(g.grpc)
	}

	idle := cfg.keepalive.MaxConnectionIdle
	if idle <= 0 {
		idle = DefaultHTTPIdleTimeout
	}
	g.http = &http.Server{
		Handler:           http.HandlerFunc(g.serveHTTP),
		ReadHeaderTimeout: cfg.sniffTimeout,
		IdleTimeout:       idle,
		BaseContext:       func(net.Listener) context.Context { return g.httpCalls },
		ConnContext:       withResetGuard(cfg.logger),
		MaxHeaderBytes:    int(cfg.limits.MaxHeaderListSize),
		ErrorLog:          slog.NewLogLogger(cfg.logger.Handler(), slog.LevelDebug),
		HTTP2: &http.HTTP2Config{
			MaxConcurrentStreams:          int(cfg.limits.MaxConcurrentStreams),
			MaxReceiveBufferPerStream:     int(cfg.limits.InitialWindowSize),
			MaxReceiveBufferPerConnection: int(cfg.limits.InitialConnWindowSize),
			MaxReadFrameSize:              1 << 20,
		},
	}
	return g, nil
}

func withDefaultLimits(l Limits) Limits {
	d := DefaultLimits()
	if l.MaxConcurrentStreams == 0 {
		l.MaxConcurrentStreams = d.MaxConcurrentStreams
	}
	if l.MaxRecvMsgSize == 0 {
		l.MaxRecvMsgSize = d.MaxRecvMsgSize
	}
	if l.MaxSendMsgSize == 0 {
		l.MaxSendMsgSize = d.MaxSendMsgSize
	}
	if l.MaxHeaderListSize == 0 {
		l.MaxHeaderListSize = d.MaxHeaderListSize
	}
	return l
}

// SetDispatcher makes d the path of every native gRPC call that starts
// from now on (a configuration reload: new policies, new upstreams);
// calls in flight finish on the dispatcher they started with, whose Drain
// tells when they have. The REST and other HTTP adapters hold their own
// dispatcher: swap them with the HTTP handler. d must not be nil.
func (g *Gateway) SetDispatcher(d *Dispatcher) {
	if d != nil {
		g.d.Store(d)
	}
}

// native runs a native call through the dispatcher current when it
// starts: its chain, and its proxy for calls to unknown services (srv nil),
// so that one call never mixes two configurations.
func (g *Gateway) native(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if srv != nil && strings.HasPrefix(info.FullMethod, ownHealthPrefix) {
		// Health Watch streams last forever: they hold no upstream.
		return g.d.Load().native(srv, ss, info, handler)
	}
	// Counted before it is known to be current, so that a Drain of a
	// dispatcher just replaced cannot miss a call that took it.
	var d *Dispatcher
	for {
		d = g.d.Load()
		d.inFlight.Add(1)
		if g.d.Load() == d {
			break
		}
		d.inFlight.Add(-1)
	}
	defer d.inFlight.Add(-1)
	if srv == nil {
		handler = d.handle
	}
	return d.native(srv, ss, info, handler)
}

// handle is only reached through native, which swaps it for its
// dispatcher's; it stays for safety with the current one.
func (g *Gateway) handle(srv any, stream grpc.ServerStream) error {
	return g.d.Load().handle(srv, stream)
}

// Health is the gateway's own grpc.health.v1 service. The overall status
// ("") is SERVING once Start runs and NOT_SERVING from Shutdown on.
func (g *Gateway) Health() *health.Server { return g.health }

// GRPCServer exposes the underlying server, so adapters can hand streams to
// the same chain.
func (g *Gateway) GRPCServer() *grpc.Server { return g.grpc }

// Start serves on ln in background goroutines and returns at once. The
// gateway owns ln from then on.
func (g *Gateway) Start(ln net.Listener) error {
	var opts []frontdoor.Option
	if g.cfg.tls != nil {
		opts = append(opts, frontdoor.WithTLS(g.cfg.tls))
	}
	opts = append(opts,
		frontdoor.WithSniffTimeout(g.cfg.sniffTimeout),
		frontdoor.WithLogger(g.cfg.logger),
	)
	door, err := frontdoor.New(ln, opts...)
	if err != nil {
		return fmt.Errorf("front door: %w", err)
	}
	g.mu.Lock()
	g.door = door
	g.mu.Unlock()
	g.health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)

	g.wg.Add(3)
	go func() {
		defer g.wg.Done()
		if err := door.Serve(); err != nil {
			g.cfg.logger.Error("front door stopped", "error", err)
		}
	}()
	go func() {
		defer g.wg.Done()
		if err := g.grpc.Serve(door.GRPC()); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			g.cfg.logger.Debug("grpc server stopped", "error", err)
		}
	}()
	go func() {
		defer g.wg.Done()
		if err := door.ServeHTTP(g.http); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.cfg.logger.Debug("http server stopped", "error", err)
		}
	}()
	return nil
}

// Addr is the address the gateway listens on, or nil before Start.
func (g *Gateway) Addr() net.Addr {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.door == nil {
		return nil
	}
	return g.door.Addr()
}

// Shutdown stops accepting connections and lets calls in flight finish
// until ctx ends; calls still running then are cut, and their clients see
// UNAVAILABLE. It returns ctx's error if it had to cut calls.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.health.Shutdown()
	g.mu.Lock()
	door := g.door
	g.mu.Unlock()

	// The HTTP side drains until the grace ends; then the calls still
	// running are cut (their handlers see ErrShuttingDown as their
	// context's cause) and may write their final status, for at most
	// cutWriteGrace, before the door closes their connections.
	doorCtx, closeDoor := context.WithCancel(context.Background())
	defer closeDoor()
	drained := make(chan struct{})
	var wg sync.WaitGroup
	var httpErr error
	if door != nil {
		wg.Add(2)
		go func() {
			defer wg.Done()
			httpErr = door.Shutdown(doorCtx)
			close(drained)
		}()
		go func() {
			defer wg.Done()
			g.cutHTTPCalls(ctx, drained, closeDoor)
		}()
	}
	stopped := make(chan struct{})
	go func() {
		g.grpc.GracefulStop()
		close(stopped)
	}()
	var err error
	select {
	case <-stopped:
	case <-ctx.Done():
		err = ctx.Err()
		g.grpc.Stop()
		<-stopped
	}
	wg.Wait()
	if httpErr != nil && ctx.Err() != nil {
		err = ctx.Err()
	}
	if door != nil {
		_ = door.Close()
	}
	g.wg.Wait()
	g.cutHTTP(nil)
	if err == nil && httpErr != nil && !errors.Is(httpErr, http.ErrServerClosed) {
		err = httpErr
	}
	return err
}

// cutHTTPCalls waits for the grace (ctx) to end, unless the HTTP side
// drained first; then it cancels the HTTP calls still running with
// ErrShuttingDown as the cause and, once their handlers returned or
// cutWriteGrace passed, closes the door's connections.
func (g *Gateway) cutHTTPCalls(ctx context.Context, drained <-chan struct{}, closeDoor func()) {
	select {
	case <-drained:
		return
	case <-ctx.Done():
	}
	g.cutHTTP(ErrShuttingDown)
	defer closeDoor()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for end := time.Now().Add(cutWriteGrace); g.httpInFlight.Load() > 0 && time.Now().Before(end); {
		select {
		case <-drained:
			return
		case <-tick.C:
		}
	}
}

// serveHTTP handles what the front door classified as not native gRPC.
// A gRPC request can still land here when it shares an HTTP/2 connection
// whose first request was REST: grpc-go's handler transport serves it,
// through the same chain.
func (g *Gateway) serveHTTP(w http.ResponseWriter, r *http.Request) {
	g.httpInFlight.Add(1)
	defer func() {
		noteAbandoned(r, g.httpCalls.Err() != nil)
		g.httpInFlight.Add(-1)
	}()
	defer g.recoverHTTP(w, r)
	if r.ProtoMajor == 2 && frontdoor.IsGRPCContentType(r.Header.Get("Content-Type")) {
		// grpc-go's handler transport reads the body under the request's
		// context: cancelling it ends the call on the wire.
		g.grpc.ServeHTTP(w, r.WithContext(protocol.EndableContext(r.Context())))
		return
	}
	if g.cfg.httpHandler != nil {
		g.cfg.httpHandler.ServeHTTP(w, r)
		return
	}
	g.errs.WriteStatus(w, status.Newf(codes.NotFound, "no route for %s %s", r.Method, r.URL.EscapedPath()))
}

// recoverHTTP turns a panic in an HTTP handler (a bug: no input may cause
// one) into INTERNAL for that one request, with the stack logged, instead
// of net/http's dropped connection. http.ErrAbortHandler, a handler's way
// to abort on purpose, passes on.
func (g *Gateway) recoverHTTP(w http.ResponseWriter, r *http.Request) {
	p := recover()
	if p == nil {
		return
	}
	if p == http.ErrAbortHandler {
		panic(p)
	}
	g.cfg.logger.Error("panic serving an HTTP request", "method", r.Method, "path", r.URL.EscapedPath(),
		"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	g.errs.WriteStatus(w, status.New(codes.Internal, "internal error"))
}

// canonicalMethod refuses non-canonical method paths before any policy
// sees them. It is always first in the chain; tapCanonicalMethod does the
// same earlier still for native gRPC.
func canonicalMethod(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if err := CheckMethod(info.FullMethod); err != nil {
		return err
	}
	return handler(srv, ss)
}

// tapCanonicalMethod refuses non-canonical methods before a stream exists
// and gives every native call a way to be ended on the wire: the context
// it returns becomes the stream's, and grpc-go unblocks reads from and
// writes to the client once it is cancelled (protocol.WithEnd).
func tapCanonicalMethod(ctx context.Context, info *tap.Info) (context.Context, error) {
	if err := CheckMethod(info.FullMethodName); err != nil {
		return nil, err
	}
	return protocol.EndableContext(ctx), nil
}

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"slices"
	"time"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/cors"
	"github.com/sluice-dev/sluice/interceptors/recovery"
	"github.com/sluice-dev/sluice/openapi"
	"github.com/sluice-dev/sluice/policy"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/transcoding"
	"github.com/sluice-dev/sluice/upstream"
)

// appOptions is the whole composition root: one fx.Module per area, each
// wrapping plain constructors from the library packages.
func appOptions(cfg *config.Config, logger *slog.Logger, extra ...fx.Option) fx.Option {
	return fx.Options(
		fx.Supply(cfg, logger),
		fx.WithLogger(func() fxevent.Logger { return fxevent.NopLogger }),
		fx.StartTimeout(30*time.Second),
		// Stopping waits for the gateway's grace period, plus time to cut
		// what is left and close the upstream connections.
		fx.StopTimeout(time.Duration(cfg.Server.ShutdownGrace)+15*time.Second),
		contractsModule,
		telemetryModule,
		upstreamsModule,
		policyModule,
		gatewayModule,
		adminModule,
		fx.Options(extra...),
	)
}

var upstreamsModule = fx.Module("upstreams",
	fx.Provide(newUpstreams),
)

// upstreamDialers lets an upstream be reached through a custom dialer (the
// embedded demo's in-process upstream), keyed by upstream name.
type upstreamDialers struct {
	fx.In
	Dialers []upstreamDialer `group:"upstream_dialers"`
}

type upstreamDialer struct {
	Upstream string
	Dial     func(ctx context.Context, addr string) (net.Conn, error)
}

// newUpstreams builds the first configuration's pool; the reloader closes
// it (or the one a reload put in its place) once the gateway drained.
func newUpstreams(lc fx.Lifecycle, cfg *config.Config, dialers upstreamDialers, obs *observability) (*upstream.Pool, error) {
	ups, err := buildPool(cfg, dialers.Dialers, obs)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { ups.Connect(); return nil },
	})
	return ups, nil
}

// buildPool builds the upstream pool of cfg, not connected yet.
func buildPool(cfg *config.Config, dialers []upstreamDialer, obs *observability) (*upstream.Pool, error) {
	specs, err := upstreamSpecs(cfg, dialers)
	if err != nil {
		return nil, err
	}
	// The upstream leg receives what the gateway sends to its clients,
	// and sends what it receives from them.
	return upstream.NewPool(specs,
		upstream.WithMaxRecvMsgSize(int(cfg.Server.MaxSendMsgSize)),
		upstream.WithMaxSendMsgSize(int(cfg.Server.MaxRecvMsgSize)),
		upstream.WithStatsHandlers(obs.upstreamHandlers))
}

func upstreamSpecs(cfg *config.Config, dialers []upstreamDialer) ([]upstream.Spec, error) {
	var specs []upstream.Spec
	for _, u := range cfg.Upstreams {
		spec := upstream.Spec{
			Name:          u.EffectiveName(),
			Target:        u.Target,
			Methods:       u.Methods,
			LoadBalancing: string(u.LoadBalancing),
			Keepalive: keepalive.ClientParameters{
				Time:                time.Duration(u.Keepalive.Time),
				Timeout:             time.Duration(u.Keepalive.Timeout),
				PermitWithoutStream: u.Keepalive.PermitWithoutStream,
			},
			ConnectTimeout:        time.Duration(u.ConnectTimeout),
			InitialWindowSize:     int32(cfg.Server.InitialWindowSize),
			InitialConnWindowSize: int32(cfg.Server.InitialConnWindowSize),
			HealthCheck:           u.HealthCheck.Enabled,
			HealthService:         u.HealthCheck.Service,
		}
		if len(u.Retry.Methods) > 0 {
			p := u.Retry.Policy()
			spec.Retry = &p
		}
		if u.OutlierDetection.Enabled {
			c := u.OutlierDetection.Config()
			spec.OutlierDetection = &c
		}
		if u.TLS.Enabled {
			tc, err := upstreamTLS(u.TLS)
			if err != nil {
				return nil, fmt.Errorf("upstream %q: %w", spec.Name, err)
			}
			spec.TLS = tc
		}
		for _, d := range dialers {
			if d.Upstream == spec.Name {
				spec.DialOptions = append(spec.DialOptions, grpc.WithContextDialer(d.Dial))
			}
		}
		specs = append(specs, spec)
	}
	return specs, nil
}

func upstreamTLS(c config.UpstreamTLS) (*tls.Config, error) {
	tc := &tls.Config{
		MinVersion:         tls.VersionTLS12,
		ServerName:         c.ServerName,
		InsecureSkipVerify: c.InsecureSkipVerify, //nolint:gosec // an explicit, documented test-only switch
	}
	if c.CAFile != "" {
		pool, err := loadCertPool(c.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = pool
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func loadCertPool(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", path)
	}
	return pool, nil
}

func serverTLS(c config.ServerTLS) (*tls.Config, error) {
	if c.CertFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("load server certificate: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.MinVersion == config.TLS13 {
		tc.MinVersion = tls.VersionTLS13
	}
	if c.ClientCAFile != "" {
		pool, err := loadCertPool(c.ClientCAFile)
		if err != nil {
			return nil, err
		}
		tc.ClientCAs = pool
	}
	switch c.ClientAuth {
	case config.ClientAuthRequest:
		tc.ClientAuth = tls.VerifyClientCertIfGiven
	case config.ClientAuthRequireAndVerify:
		tc.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

var gatewayModule = fx.Module("gateway",
	fx.Provide(newProxy, newReloader, newGateway),
	fx.Invoke(func(*server.Gateway) {}),
)

func newProxy(cfg *config.Config, ups *upstream.Pool, reg *registry.Registry, logger *slog.Logger) *server.Proxy {
	return server.NewProxy(ups,
		server.WithProxyLogger(logger),
		server.WithMethodKinds(methodKinds(reg)),
		server.WithUpstreamSendStallTimeout(time.Duration(cfg.Limits.SendStallTimeout)))
}

// methodKinds reads call kinds from the current contracts, so the proxy
// forwards unary calls on its unary path.
func methodKinds(reg *registry.Registry) func(string) (bool, bool, bool) {
	return func(method string) (bool, bool, bool) {
		m, ok := reg.Snapshot().Method(method)
		if !ok {
			return false, false, false
		}
		return m.ClientStreaming(), m.ServerStreaming(), true
	}
}

func newDispatcher(proxy *server.Proxy, chain *policy.Chain) (*server.Dispatcher, error) {
	return server.NewDispatcher(proxy, chain.Interceptors()...)
}

func newREST(cfg *config.Config, routes *routeTable, d *server.Dispatcher, chain *policy.Chain, logger *slog.Logger) (*transcoding.REST, error) {
	r := cfg.REST
	opts := []transcoding.Option{
		transcoding.WithLogger(logger),
		transcoding.WithMaxBodyBytes(int64(r.MaxBodySize)),
		transcoding.WithBodyReadTimeout(time.Duration(r.BodyReadTimeout)),
		transcoding.WithMaxBufferedBytes(int64(r.MaxBufferedBytes)),
		transcoding.WithMaxJSONDepth(r.MaxJSONDepth),
		transcoding.WithDiscardUnknown(r.DiscardUnknown),
		transcoding.WithEmitUnpopulated(r.EmitUnpopulated),
		transcoding.WithProtoNames(r.ProtoNames),
		transcoding.WithEnumNumbers(r.EnumNumbers),
	}
	if r.StrictQuery {
		opts = append(opts, transcoding.WithStrictQuery())
	}
	if r.ProtojsonOnly {
		opts = append(opts, transcoding.WithProtojsonOnly())
	}
	opts = append(opts,
		transcoding.WithExtraIncomingHeaders(chain.RESTHeaders()...),
		transcoding.WithStreamFormat(transcoding.StreamFormat(r.StreamFormat)),
		transcoding.WithSSEHeartbeat(time.Duration(r.SSEHeartbeat)),
		transcoding.WithCompression(int(r.Compression.MinSize), r.Compression.Encodings...),
		transcoding.WithWebSocket(r.WebSocket.Enabled),
		transcoding.WithWebSocketPingInterval(time.Duration(r.WebSocket.PingInterval)),
		transcoding.WithWebSocketTokens(r.WebSocket.TokenSubprotocol, r.WebSocket.TokenQueryParameter))
	if origins := cfg.CORS.AllowedOrigins; len(origins) > 0 {
		// Browsers do not apply CORS to WebSocket handshakes: the one
		// cross-origin policy is applied to them here.
		patterns := make([]cors.OriginPattern, 0, len(origins))
		for _, o := range origins {
			p, err := cors.ParseOrigin(o)
			if err != nil {
				return nil, fmt.Errorf("cors: %w", err)
			}
			patterns = append(patterns, p)
		}
		opts = append(opts, transcoding.WithWebSocketOrigins(func(origin string) bool {
			for _, p := range patterns {
				if p.Match(origin) {
					return true
				}
			}
			return false
		}))
	}
	return transcoding.NewREST(routes.Load, d, opts...)
}

func newGateway(lc fx.Lifecycle, cfg *config.Config, reg *registry.Registry, r *reloader, logger *slog.Logger) (*server.Gateway, error) {
	tc, err := serverTLS(cfg.TLS)
	if err != nil {
		return nil, err
	}
	s := cfg.Server
	opts := []server.Option{
		server.WithUnaryInterceptors(recovery.UnaryServerInterceptor(recovery.WithLogger(logger))),
		server.WithLimits(server.Limits{
			MaxConcurrentStreams:  s.MaxConcurrentStreams,
			MaxRecvMsgSize:        int(s.MaxRecvMsgSize),
			MaxSendMsgSize:        int(s.MaxSendMsgSize),
			MaxHeaderListSize:     uint32(s.MaxHeaderListSize),
			InitialWindowSize:     int32(s.InitialWindowSize),
			InitialConnWindowSize: int32(s.InitialConnWindowSize),
		}),
		server.WithKeepalive(keepalive.ServerParameters{
			Time:                  time.Duration(s.Keepalive.Time),
			Timeout:               time.Duration(s.Keepalive.Timeout),
			MaxConnectionIdle:     time.Duration(s.Keepalive.MaxConnectionIdle),
			MaxConnectionAge:      time.Duration(s.Keepalive.MaxConnectionAge),
			MaxConnectionAgeGrace: time.Duration(s.Keepalive.MaxConnectionAgeGrace),
		}, keepalive.EnforcementPolicy{
			MinTime:             time.Duration(s.Keepalive.MinTime),
			PermitWithoutStream: s.Keepalive.PermitWithoutStream,
		}),
		server.WithLogger(logger),
		server.WithSniffTimeout(time.Duration(s.SniffTimeout)),
		// The gateway answers reflection itself, from every contract it
		// has (an upstream's reflection is never asked by clients).
		server.WithReflection(func() server.Contracts {
			if snap := reg.Snapshot(); snap != nil {
				return snap
			}
			return nil
		}),
	}
	if tc != nil {
		opts = append(opts, server.WithTLS(tc))
	}
	// Both the native server and the HTTP handlers take each call's
	// configuration (chain, upstreams) from the reloader.
	opts = append(opts, server.WithHTTPHandler(r))
	gw, err := server.NewGateway(r.current().d, opts...)
	if err != nil {
		return nil, err
	}
	r.gw = gw
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			ln, err := net.Listen("tcp", cfg.Listen)
			if err != nil {
				return fmt.Errorf("listen on %s: %w", cfg.Listen, err)
			}
			if err := gw.Start(ln); err != nil {
				_ = ln.Close()
				return err
			}
			logger.Info("gateway listening", "addr", gw.Addr().String(), "tls", tc != nil)
			return nil
		},
		OnStop: func(context.Context) error {
			grace := time.Duration(cfg.Server.ShutdownGrace)
			logger.Info("draining", "grace", grace.String())
			ctx, cancel := context.WithTimeout(context.Background(), grace)
			defer cancel()
			if err := gw.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
				return err
			}
			logger.Info("gateway stopped")
			return nil
		},
	})
	return gw, nil
}

var adminModule = fx.Module("admin",
	fx.Invoke(startAdmin),
)

func startAdmin(lc fx.Lifecycle, cfg *config.Config, reg *registry.Registry, r *reloader, obs *observability, gw *server.Gateway, logger *slog.Logger) error {
	upstreamsReady := func() (bool, string) { return r.current().pool.Ready() }
	if cfg.AdminAddr() == "" {
		return nil
	}
	// The handler is built once the gateway listens: the OpenAPI document's
	// servers entry names the port it got (listen: 127.0.0.1:0 included), so
	// the explorer's calls reach it. Building it here first reports a bad
	// configuration before anything starts.
	if _, err := newAdminHandler(cfg, reg, upstreamsReady, obs, cfg.Listen); err != nil {
		return err
	}
	srv := &http.Server{
		// The admin port answers short requests (pprof profiles stream
		// for at most their own ?seconds=); nothing may hold it open.
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       server.DefaultHTTPIdleTimeout,
	}
	done := make(chan struct{})
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			h, err := newAdminHandler(cfg, reg, upstreamsReady, obs, gatewayAddr(cfg, gw))
			if err != nil {
				return err
			}
			srv.Handler = h
			ln, err := net.Listen("tcp", cfg.AdminAddr())
			if err != nil {
				return fmt.Errorf("admin: listen on %s: %w", cfg.Admin, err)
			}
			logger.Info("admin listening", "addr", ln.Addr().String())
			go func() {
				defer close(done)
				if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
					logger.Error("admin server", "error", err)
				}
			}()
			return nil
		},
		OnStop: func(ctx context.Context) error {
			err := srv.Shutdown(ctx)
			<-done
			return err
		},
	})
	return nil
}

// gatewayAddr is the gateway's address as the OpenAPI document names it:
// the configured one, or the one the listener got when the configured
// port is 0. The gateway starts before the admin port (startAdmin depends
// on it, so its start hook runs first).
func gatewayAddr(cfg *config.Config, gw *server.Gateway) string {
	if _, port, err := net.SplitHostPort(cfg.Listen); err == nil && port == "0" && gw.Addr() != nil {
		return gw.Addr().String()
	}
	return cfg.Listen
}

// newAdminHandler serves the admin port: health, readiness, metrics, pprof
// when enabled, the OpenAPI document (behind the gateway's CORS policy, so
// pages allowed to call the API can read its description) and the API
// explorer, whose calls go to gatewayAddr.
func newAdminHandler(cfg *config.Config, reg *registry.Registry, upstreamsReady server.ReadinessCheck, obs *observability, gatewayAddr string) (http.Handler, error) {
	docOpts, err := openAPIOptions(cfg, gatewayAddr)
	if err != nil {
		return nil, err
	}
	var doc http.Handler = openapi.Handler(reg.Snapshot, docOpts...)
	if c := cfg.CORS; len(c.AllowedOrigins) > 0 {
		// A page revalidates the document with If-None-Match, which is
		// not a header browsers send without asking.
		headers := c.AllowedHeaders
		if len(headers) == 0 {
			headers = cors.DefaultAllowedHeaders()
		}
		doc, err = cors.NewHandler(doc, cors.Policy{
			AllowedOrigins:   c.AllowedOrigins,
			AllowedMethods:   []string{http.MethodGet, http.MethodHead},
			AllowedHeaders:   append(slices.Clone(headers), "If-None-Match"),
			AllowCredentials: c.AllowCredentials,
			MaxAge:           time.Duration(c.MaxAge),
		})
		if err != nil {
			return nil, err
		}
	}
	mux := http.NewServeMux()
	if cfg.AdminPprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	adminOpts := []server.AdminOption{server.WithOpenAPI(doc)}
	if obs.metrics != nil {
		adminOpts = append(adminOpts, server.WithMetricsHandler(obs.metrics.Handler()))
	}
	admin, err := server.NewAdminHandler(map[string]server.ReadinessCheck{
		"contracts": func() (bool, string) {
			if reg.Snapshot() == nil {
				return false, "no contracts loaded"
			}
			return true, ""
		},
		"upstreams": upstreamsReady,
	}, adminOpts...)
	if err != nil {
		return nil, err
	}
	mux.Handle("/", admin)
	return mux, nil
}

// newLogger logs at level, set from cfg; a reload sets it again.
func newLogger(cfg *config.Config, w io.Writer, level *slog.LevelVar) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(cfg.Log.Level))
	level.Set(l)
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == config.LogText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

package config

import "time"

// Config is the whole sluice configuration. Every field is documented by
// its doc tag, which is also the source of docs/configuration.md (see
// Reference). In doc tags, {x} is rendered as code.
//
// The zero Config is not useful: start from Default, or from Parse.
type Config struct {
	Listen         string     `yaml:"listen" doc:"Address of the one port that serves gRPC, gRPC-Web (binary and text, over HTTP/1.1 and HTTP/2), the Connect protocol and REST/JSON, as {host:port}. An empty host listens on every interface; port 0 picks a free port."`
	Admin          string     `yaml:"admin" doc:"Address of the admin HTTP server ({/healthz}, {/readyz}, {/metrics}, {/openapi.json}, and {/docs}: the API explorer, whose calls go to the gateway, so {cors.allowed_origins} must list the admin port's origin for them), as {host:port}. Empty or {off} disables it (as {--admin off} does). Keep it off the public network."`
	AdminPprof     bool       `yaml:"admin_pprof" doc:"Serve Go's runtime profiles (CPU, heap, allocations, goroutines, execution trace) under {/debug/pprof/} on the admin server, to see where the gateway spends its time under real load: {go tool pprof http://ADMIN/debug/pprof/profile?seconds=30}. Off by default: profiles expose internals, and a CPU profile or trace costs a few percent while it runs."`
	TLS            ServerTLS  `yaml:"tls" doc:"TLS on the main listener. TLS is off when {cert_file} is empty; the listener then speaks cleartext HTTP/2 (h2c) and HTTP/1.1."`
	DescriptorSets []string   `yaml:"descriptor_sets" kind:"path" doc:"Files holding a serialized {google.protobuf.FileDescriptorSet}, as written by {buf build -o api.binpb} or {protoc --include_imports --descriptor_set_out}. They define the methods, HTTP routes and messages sluice knows. Imports must be included."`
	Upstreams      []Upstream `yaml:"upstreams" doc:"The gRPC services behind the gateway and the methods each one serves. A method is routed to the upstream with the most specific matching pattern."`
	Contracts      Contracts  `yaml:"contracts" doc:"Contracts compiled from .proto files, and reloading contracts while sluice runs: .proto and descriptor set files that change, and upstream server reflection."`
	REST           REST       `yaml:"rest" doc:"REST/JSON transcoding of the methods that have {google.api.http} rules."`
	CORS           CORS       `yaml:"cors" doc:"Cross-origin requests from browsers, one policy for REST, gRPC-Web and Connect, and for the admin port's {/openapi.json}. Off while {allowed_origins} is empty; preflights are answered by the gateway and never reach an upstream. The embedded demo allows any origin (without credentials)."`
	Server         Server     `yaml:"server" doc:"Limits and timeouts of the main listener."`
	Limits         Limits     `yaml:"limits" doc:"Send-stall timeout, concurrency limits and per-method message limits, applied to every call whatever its protocol."`
	Log            Log        `yaml:"log" doc:"Process logging."`
	Policy         Policy     `yaml:"policy" doc:"Authentication, authorization, identity propagation and deadlines: the policies every call passes, whatever its protocol."`
	RateLimits     RateLimits `yaml:"rate_limits" doc:"Rate limits: token buckets per method pattern and per caller (identity, API key, client IP, header value or everyone), local to each instance or shared by all instances through Redis."`
	Metrics        Metrics    `yaml:"metrics" doc:"Prometheus metrics on the admin server."`
	Tracing        Tracing    `yaml:"tracing" doc:"OpenTelemetry tracing of every call, exported over OTLP."`
	Watch          bool       `yaml:"watch" doc:"Reload the whole configuration when this file changes (checked every second), as SIGHUP does: policies, rate limits, limits, upstreams, REST options, CORS and the log level are swapped at once, calls in flight finish on what they started with. A file that does not validate, or that changes a setting only a restart applies (listen, admin, tls, server, metrics, tracing, contract sources, route shapes, log format), is refused with the reason and the configuration in use stays."`
}

// ServerTLS configures TLS on the main listener.
type ServerTLS struct {
	CertFile     string     `yaml:"cert_file" kind:"path" doc:"PEM certificate chain of the gateway. Setting it turns TLS on; {key_file} is then required."`
	KeyFile      string     `yaml:"key_file" kind:"path" doc:"PEM private key matching {cert_file}."`
	ClientCAFile string     `yaml:"client_ca_file" kind:"path" doc:"PEM bundle of the CAs that sign client certificates. Required when {client_auth} is not {none}."`
	ClientAuth   ClientAuth `yaml:"client_auth" doc:"Client certificates: {none} does not ask for one; {request} asks and verifies a certificate when one is sent; {require_and_verify} rejects clients without a valid certificate (mutual TLS)."`
	MinVersion   TLSVersion `yaml:"min_version" doc:"Oldest TLS version accepted."`
}

// Upstream is one gRPC service behind the gateway. Parse and
// ParseUpstreamFlag start every upstream from DefaultUpstream.
type Upstream struct {
	Name             string            `yaml:"name" doc:"Name of the upstream in logs, metrics and errors. Defaults to {target}; names must be unique."`
	Target           string            `yaml:"target" doc:"gRPC target to dial: {host:port}, {dns:///host:port} (port defaults to 443), {unix:///path/to.sock}, {unix-abstract:name}, {passthrough:///host:port} or {xds:///name}. Required."`
	Methods          []string          `yaml:"methods" doc:"Methods routed to this upstream; at least one. Each pattern is a package, service or method full name ({library.v1}, {library.v1.Library}, {library.v1.Library.GetBook}) matching that name and every name below it, or a prefix ending in {*} ({library.*}); {*} alone matches every method. No pattern may appear on two upstreams."`
	TLS              UpstreamTLS       `yaml:"tls" doc:"TLS towards the upstream."`
	Keepalive        UpstreamKeepalive `yaml:"keepalive" doc:"HTTP/2 pings towards the upstream, which detect dead connections."`
	LoadBalancing    LoadBalancing     `yaml:"load_balancing" doc:"How calls are spread over the addresses the target resolves to: {round_robin} uses all of them, {pick_first} uses the first one that connects."`
	ConnectTimeout   Duration          `yaml:"connect_timeout" doc:"Longest time one connection attempt to the upstream may take."`
	Retry            Retry             `yaml:"retry" doc:"Retries of calls to this upstream's idempotent methods."`
	OutlierDetection OutlierDetection  `yaml:"outlier_detection" doc:"Ejection of this upstream's addresses that keep failing."`
	Reflection       bool              `yaml:"reflection" doc:"Load this upstream's contracts from its gRPC server reflection service ({grpc.reflection.v1}, falling back to {v1alpha}), refreshed every {contracts.refresh_interval}, so its {google.api.http} rules are served over REST without a descriptor set. Until the upstream first answers, its methods are proxied over gRPC only."`
	RESTPathPrefix   string            `yaml:"rest_path_prefix" doc:"Path put in front of every REST route of this upstream's methods ({/library}: literal segments of letters, digits, {-}, {.}, {_} and {~}), so that several APIs whose {google.api.http} templates overlap can be served by one gateway, each under its own prefix. The prefix shows in {sluice routes} and the OpenAPI document; the upstream sees requests as its contract has them. Empty: none."`
	HealthCheck      HealthCheck       `yaml:"health_check" doc:"Client-side gRPC health checking ({grpc.health.v1.Health/Watch}) of every upstream address; unhealthy addresses get no calls."`
}

// EffectiveName is the name that identifies u: Name, or Target when Name is
// empty.
func (u *Upstream) EffectiveName() string {
	if u.Name != "" {
		return u.Name
	}
	return u.Target
}

// UpstreamTLS configures TLS from the gateway to one upstream.
type UpstreamTLS struct {
	Enabled            bool   `yaml:"enabled" doc:"Dial the upstream with TLS. The other keys are rejected unless this is true, so that a forgotten switch never sends traffic in cleartext."`
	CAFile             string `yaml:"ca_file" kind:"path" doc:"PEM bundle of the CAs that sign the upstream's certificate. Empty uses the system roots."`
	CertFile           string `yaml:"cert_file" kind:"path" doc:"PEM client certificate presented to the upstream (mutual TLS); requires {key_file}."`
	KeyFile            string `yaml:"key_file" kind:"path" doc:"PEM private key matching {cert_file}."`
	ServerName         string `yaml:"server_name" doc:"Name expected in the upstream's certificate, and sent as SNI. Empty uses the host of {target}."`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify" doc:"Accept any upstream certificate. For tests only: it disables server authentication."`
}

// UpstreamKeepalive configures client-side HTTP/2 pings to one upstream.
type UpstreamKeepalive struct {
	Time                Duration `yaml:"time" doc:"Send a ping after this long without activity; 0 disables pings, otherwise at least 10s (gRPC's minimum). The default of 5m matches what grpc-go servers accept by default: they close connections that ping more often (GOAWAY too_many_pings). Lower it only for upstreams whose enforcement policy allows it."`
	Timeout             Duration `yaml:"timeout" doc:"Close the connection when a ping is not answered within this time."`
	PermitWithoutStream bool     `yaml:"permit_without_stream" doc:"Also ping while no call is in flight."`
}

// HealthCheck configures client-side health checking of one upstream.
type HealthCheck struct {
	Enabled bool   `yaml:"enabled" doc:"Watch the health of every upstream address. The upstream must implement {grpc.health.v1.Health}."`
	Service string `yaml:"service" doc:"Service name sent in health checks; empty asks about the server as a whole."`
}

// Server holds limits and timeouts of the main listener.
type Server struct {
	MaxConcurrentStreams  uint32          `yaml:"max_concurrent_streams" doc:"Most calls in flight on one client connection (HTTP/2 {SETTINGS_MAX_CONCURRENT_STREAMS})."`
	MaxRecvMsgSize        ByteSize        `yaml:"max_recv_msg_size" doc:"Largest message accepted from a client (a gRPC message, a Connect unary body or stream envelope, before and after decompression), at most 1GiB. With at most one message in flight per direction, this and {max_send_msg_size} bound the memory of a stream."`
	MaxSendMsgSize        ByteSize        `yaml:"max_send_msg_size" doc:"Largest message sent to a client (and so accepted from an upstream), at most 1GiB. 4MiB matches the receive limit of gRPC clients, which would reject anything larger anyway."`
	MaxHeaderListSize     ByteSize        `yaml:"max_header_list_size" doc:"Largest request header block (metadata) accepted, at most 16MiB. 64KiB leaves room for large bearer tokens and cookies."`
	InitialWindowSize     ByteSize        `yaml:"initial_window_size" doc:"HTTP/2 flow-control window of each stream, on the client leg and on the upstream leg. It bounds what a stream can hold in the gateway: about this window plus one message per direction, whatever a slow peer does. 1MiB still moves 20MB/s per stream at 50ms round trips. 0 uses gRPC's dynamic windows (sized from the measured bandwidth-delay product, up to 16MiB per leg), which trade that bound for throughput on long fat links; otherwise between 64KiB and 2GiB-1."`
	InitialConnWindowSize ByteSize        `yaml:"initial_conn_window_size" doc:"HTTP/2 flow-control window of each connection, on both legs: it caps what all streams of one connection hold together. 0 and the limits as for {initial_window_size}."`
	Keepalive             ServerKeepalive `yaml:"keepalive" doc:"HTTP/2 pings and connection lifetimes on client connections."`
	SniffTimeout          Duration        `yaml:"sniff_timeout" doc:"Longest time a new connection may take, TLS handshake included, to send the first bytes that tell its protocol (the HTTP/2 preface or an HTTP/1.1 request line); slower connections are closed."`
	ShutdownGrace         Duration        `yaml:"shutdown_grace" doc:"On shutdown, how long calls in flight may take to finish before they are cancelled; 0 cancels them at once."`
}

// ServerKeepalive configures HTTP/2 pings and connection lifetimes on the
// main listener.
type ServerKeepalive struct {
	Time                  Duration `yaml:"time" doc:"Ping a client after this long without activity; at least 1s."`
	Timeout               Duration `yaml:"timeout" doc:"Close the connection when a ping is not answered within this time."`
	MinTime               Duration `yaml:"min_time" doc:"Clients pinging more often than this are disconnected ({GOAWAY too_many_pings})."`
	PermitWithoutStream   bool     `yaml:"permit_without_stream" doc:"Allow client pings while no call is in flight."`
	MaxConnectionIdle     Duration `yaml:"max_connection_idle" doc:"Close connections idle for this long. 0: native gRPC connections are never closed for idleness, REST and other HTTP connections after 2m."`
	MaxConnectionAge      Duration `yaml:"max_connection_age" doc:"Gracefully close connections older than this, so that clients spread over new instances after a scale-out; 0 never does."`
	MaxConnectionAgeGrace Duration `yaml:"max_connection_age_grace" doc:"After {max_connection_age}, how long calls in flight may take before the connection is closed; 0 waits forever."`
}

// Log configures process logging.
type Log struct {
	Level  LogLevel  `yaml:"level" doc:"Least severe level that is logged."`
	Format LogFormat `yaml:"format" doc:"{json}: one JSON object per line, for log collectors; {text}: key=value pairs, for people."`
}

// Default returns the configuration used for every key a document leaves
// out. It is the only place defaults are set.
func Default() Config {
	return Config{
		Listen: "127.0.0.1:8080",
		Admin:  "127.0.0.1:9090",
		TLS: ServerTLS{
			ClientAuth: ClientAuthNone,
			MinVersion: TLS12,
		},
		Server: Server{
			MaxConcurrentStreams:  1000,
			MaxRecvMsgSize:        4 << 20,
			MaxSendMsgSize:        4 << 20,
			MaxHeaderListSize:     64 << 10,
			InitialWindowSize:     1 << 20,
			InitialConnWindowSize: 4 << 20,
			Keepalive: ServerKeepalive{
				Time:    Duration(2 * time.Hour),
				Timeout: Duration(20 * time.Second),
				MinTime: Duration(10 * time.Second),
			},
			SniffTimeout:  Duration(10 * time.Second),
			ShutdownGrace: Duration(30 * time.Second),
		},
		Log:        Log{Level: LogInfo, Format: LogJSON},
		REST:       DefaultREST(),
		Contracts:  defaultContracts(),
		Policy:     defaultPolicy(),
		RateLimits: defaultRateLimits(),
		Limits:     defaultLimits(),
		Metrics:    defaultMetrics(),
		Tracing:    defaultTracing(),
	}
}

// DefaultUpstream returns the defaults of one upstream; Target and Methods
// are left for the caller, they have no sensible default.
func DefaultUpstream() Upstream {
	return Upstream{
		Keepalive: UpstreamKeepalive{
			Time:    Duration(5 * time.Minute),
			Timeout: Duration(10 * time.Second),
		},
		LoadBalancing:    RoundRobin,
		ConnectTimeout:   Duration(20 * time.Second),
		Retry:            defaultRetry(),
		OutlierDetection: defaultOutlierDetection(),
	}
}

// AdminAddr is the address the admin server listens on, or "" when it is
// disabled (Admin empty or "off").
func (c *Config) AdminAddr() string {
	if c.Admin == "off" {
		return ""
	}
	return c.Admin
}

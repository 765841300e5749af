package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/config"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pem := filepath.Join(dir, "x.pem")
	if err := os.WriteFile(pem, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	upstream := func(target string, methods ...string) config.Upstream {
		u := config.DefaultUpstream()
		u.Target, u.Methods = target, methods
		return u
	}
	tests := []struct {
		name  string
		mod   func(*config.Config)
		paths []string // the paths of the expected problems, in order
	}{
		{"default", func(*config.Config) {}, nil},
		{"admin disabled", func(c *config.Config) { c.Admin = "" }, nil},
		{"admin off", func(c *config.Config) { c.Admin = "off" }, nil},
		{"rest path prefix", func(c *config.Config) {
			u := upstream("127.0.0.1:1", "a.v1")
			u.RESTPathPrefix = "/library/v2"
			c.Upstreams = []config.Upstream{u}
		}, nil},
		{"bad rest path prefix", func(c *config.Config) {
			u := upstream("127.0.0.1:1", "a.v1")
			u.RESTPathPrefix = "library/"
			c.Upstreams = []config.Upstream{u}
		}, []string{"upstreams[0].rest_path_prefix"}},
		{"both on port 0", func(c *config.Config) { c.Listen, c.Admin = "127.0.0.1:0", "127.0.0.1:0" }, nil},
		{"proto sources", func(c *config.Config) {
			c.Contracts.Proto = config.ProtoSources{Roots: []string{dir, pem}, Files: []string{"api/**/*.proto"}, ImportPaths: []string{dir}}
		}, nil},
		{"bad proto sources", func(c *config.Config) {
			c.Contracts.Proto = config.ProtoSources{
				Roots:         []string{filepath.Join(dir, "missing"), ""},
				Files:         []string{"api/[", ""},
				ImportPaths:   []string{pem},
				WatchInterval: config.Duration(-1),
			}
		}, []string{"contracts.proto.roots[0]", "contracts.proto.roots[1]", "contracts.proto.files[0]", "contracts.proto.files[1]", "contracts.proto.import_paths[0]", "contracts.proto.watch_interval"}},
		{"same address", func(c *config.Config) { c.Admin = c.Listen }, []string{"admin"}},
		{"wildcard admin overlaps", func(c *config.Config) { c.Listen, c.Admin = "127.0.0.1:80", "[::]:80" }, []string{"admin"}},
		{"different hosts", func(c *config.Config) { c.Listen, c.Admin = "127.0.0.1:80", "10.0.0.1:80" }, nil},
		{"bad admin", func(c *config.Config) { c.Admin = "9090" }, []string{"admin"}},
		{"tracing on", func(c *config.Config) { c.Tracing.Enabled = true }, nil},
		{"tracing over http", func(c *config.Config) {
			c.Tracing.Enabled, c.Tracing.Exporter, c.Tracing.Endpoint = true, config.OTLPHTTP, "collector:4318"
		}, nil},
		{"tracing off ignores its endpoint", func(c *config.Config) { c.Tracing.Endpoint = "" }, nil},
		{"bad tracing", func(c *config.Config) {
			c.Tracing = config.Tracing{Enabled: true, Exporter: "zipkin", Endpoint: "collector", SampleRatio: 1.5}
		}, []string{"tracing.exporter", "tracing.sample_ratio", "tracing.endpoint", "tracing.service_name"}},
		{"tls pair", func(c *config.Config) { c.TLS.CertFile, c.TLS.KeyFile = pem, pem }, nil},
		{"tls key without cert", func(c *config.Config) { c.TLS.KeyFile = pem }, []string{"tls.cert_file"}},
		{"mutual tls", func(c *config.Config) {
			c.TLS = config.ServerTLS{CertFile: pem, KeyFile: pem, ClientCAFile: pem, ClientAuth: config.ClientAuthRequest, MinVersion: config.TLS12}
		}, nil},
		{"client CA without client_auth", func(c *config.Config) {
			c.TLS.CertFile, c.TLS.KeyFile, c.TLS.ClientCAFile = pem, pem, pem
		}, []string{"tls.client_auth"}},
		{"bad client_auth", func(c *config.Config) { c.TLS.ClientAuth = "always" }, []string{"tls.client_auth"}},
		{"bad min_version", func(c *config.Config) { c.TLS.MinVersion = "1.1" }, []string{"tls.min_version"}},
		{"descriptor set twice", func(c *config.Config) { c.DescriptorSets = []string{pem, pem} }, []string{"descriptor_sets[1]"}},
		{"empty descriptor set name", func(c *config.Config) { c.DescriptorSets = []string{""} }, []string{"descriptor_sets[0]"}},
		{"upstreams", func(c *config.Config) {
			c.Upstreams = []config.Upstream{upstream("a:1", "x.*", "y"), upstream("b:1", "*")}
		}, nil},
		{"upstream tls off with fields", func(c *config.Config) {
			u := upstream("a:1", "*")
			u.TLS.InsecureSkipVerify = true
			c.Upstreams = []config.Upstream{u}
		}, []string{"upstreams[0].tls.enabled"}},
		{"upstream tls contradiction", func(c *config.Config) {
			u := upstream("a:1", "*")
			u.TLS = config.UpstreamTLS{Enabled: true, CAFile: pem, InsecureSkipVerify: true}
			c.Upstreams = []config.Upstream{u}
		}, []string{"upstreams[0].tls.insecure_skip_verify"}},
		{"upstream client cert without key", func(c *config.Config) {
			u := upstream("a:1", "*")
			u.TLS = config.UpstreamTLS{Enabled: true, CertFile: pem}
			c.Upstreams = []config.Upstream{u}
		}, []string{"upstreams[0].tls.key_file"}},
		{"upstream numbers", func(c *config.Config) {
			u := upstream("a:1", "*")
			u.Keepalive = config.UpstreamKeepalive{Time: -1, Timeout: 0}
			u.ConnectTimeout = 0
			u.LoadBalancing = "least_request"
			c.Upstreams = []config.Upstream{u}
		}, []string{"upstreams[0].keepalive.time", "upstreams[0].keepalive.timeout", "upstreams[0].load_balancing", "upstreams[0].connect_timeout"}},
		{"upstream resilience", func(c *config.Config) {
			// Checked by packages upstream and outlier, placed at the
			// settings' paths; an unknown code name is reported once.
			u := upstream("a:1", "*")
			u.Retry.Methods = []string{"a", "/a/b"}
			u.Retry.MaxAttempts = 1
			u.Retry.Codes = []config.StatusCode{"UNAVAILABLE", "NOPE"}
			u.Retry.BudgetRatio = 2
			u.OutlierDetection.Enabled = true
			u.OutlierDetection.FailureCodes = []config.StatusCode{"CANCELLED"}
			u.OutlierDetection.MaxEjectionPercent = 0
			c.Upstreams = []config.Upstream{u}
		}, []string{
			"upstreams[0].retry.codes[1]", "upstreams[0].retry.methods[1]", "upstreams[0].retry.max_attempts", "upstreams[0].retry.budget_ratio",
			"upstreams[0].outlier_detection.failure_codes[0]", "upstreams[0].outlier_detection.max_ejection_percent",
		}},
		{"outlier detection off is not checked", func(c *config.Config) {
			u := upstream("a:1", "*")
			u.OutlierDetection.MaxEjectionPercent = 0
			c.Upstreams = []config.Upstream{u}
		}, nil},
		{"keepalive off", func(c *config.Config) {
			u := upstream("a:1", "*")
			u.Keepalive.Time = 0
			c.Upstreams = []config.Upstream{u}
		}, nil},
		{"server numbers", func(c *config.Config) {
			s := &c.Server
			s.MaxConcurrentStreams = 0
			s.MaxRecvMsgSize = 1<<30 + 1
			s.MaxSendMsgSize = -1
			s.MaxHeaderListSize = 0
			s.InitialWindowSize = 1 << 31
			s.InitialConnWindowSize = 64<<10 - 1
			s.Keepalive = config.ServerKeepalive{Time: 0, Timeout: 0, MinTime: -1, MaxConnectionIdle: -1, MaxConnectionAge: -1, MaxConnectionAgeGrace: -1}
			s.SniffTimeout = 0
			s.ShutdownGrace = -1
		}, []string{
			"server.max_concurrent_streams", "server.max_recv_msg_size", "server.max_send_msg_size", "server.max_header_list_size",
			"server.initial_window_size", "server.initial_conn_window_size",
			"server.keepalive.time", "server.keepalive.timeout", "server.keepalive.min_time", "server.keepalive.max_connection_idle",
			"server.keepalive.max_connection_age", "server.keepalive.max_connection_age_grace", "server.sniff_timeout", "server.shutdown_grace",
		}},
		{"window limits", func(c *config.Config) {
			c.Server.InitialWindowSize, c.Server.InitialConnWindowSize = 64<<10, 1<<31-1
		}, nil},
		{"log", func(c *config.Config) { c.Log = config.Log{Level: "trace", Format: ""} }, []string{"log.level", "log.format"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := config.Default()
			tt.mod(&c)
			err := c.Validate()
			if len(tt.paths) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			var errs *config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Validate() = %v (%T), want *config.Errors", err, err)
			}
			var paths []string
			for _, e := range *errs {
				paths = append(paths, e.Path)
				if e.Line != 0 || e.Column != 0 || e.Source != "" {
					t.Errorf("problem %q has a position; Validate knows none", e.Error())
				}
			}
			if strings.Join(paths, " ") != strings.Join(tt.paths, " ") {
				t.Errorf("Validate() problems at\n%v\nwant\n%v\n%v", paths, tt.paths, err)
			}
		})
	}
}

func TestValidateNil(t *testing.T) {
	t.Parallel()
	var c *config.Config
	var errs *config.Errors
	if err := c.Validate(); !errors.As(err, &errs) {
		t.Errorf("(*Config)(nil).Validate() = %v, want *config.Errors", err)
	}
}

func TestValidateDoesNotModify(t *testing.T) {
	t.Parallel()
	c := config.Default()
	u := config.DefaultUpstream()
	u.Target, u.Methods = "a:1", []string{"*"}
	c.Upstreams = []config.Upstream{u}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Upstreams[0].Name != "" {
		t.Errorf("Validate filled in Name = %q", c.Upstreams[0].Name)
	}
	if got := c.Upstreams[0].EffectiveName(); got != "a:1" {
		t.Errorf("EffectiveName() = %q, want the target", got)
	}
	c.Upstreams[0].Name = "lib"
	if got := c.Upstreams[0].EffectiveName(); got != "lib" {
		t.Errorf("EffectiveName() = %q, want lib", got)
	}
}

func TestErrorFormat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		e    config.Error
		want string
	}{
		{config.Error{Source: "f.yaml", Line: 12, Column: 5, Path: "upstreams[1].target", Msg: "must not be empty"}, "f.yaml:12:5: upstreams[1].target: must not be empty"},
		{config.Error{Source: "f.yaml", Line: 3, Msg: "invalid YAML: x"}, "f.yaml:3: invalid YAML: x"},
		{config.Error{Source: "flags", Path: "listen", Msg: "m"}, "flags: listen: m"},
		{config.Error{Path: "listen", Msg: "m"}, "listen: m"},
		{config.Error{Line: 2, Column: 1, Msg: "m"}, "2:1: m"},
	}
	for _, tt := range tests {
		if got := tt.e.Error(); got != tt.want {
			t.Errorf("Error() = %q, want %q", got, tt.want)
		}
	}
	errs := config.Errors{tests[0].e, tests[3].e}
	if got, want := errs.Error(), tests[0].want+"\n"+tests[3].want; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
	var one config.Error
	if !errors.As(&errs, &one) || one != tests[0].e {
		t.Errorf("errors.As(Errors, *Error) = %+v, want the first problem", one)
	}
}

// Durations in the defaults are what the reference says; a cheap guard
// against changing a default by accident.
func TestDefaults(t *testing.T) {
	t.Parallel()
	c := config.Default()
	u := config.DefaultUpstream()
	checks := []struct {
		name      string
		got, want any
	}{
		{"listen", c.Listen, "127.0.0.1:8080"},
		{"admin", c.Admin, "127.0.0.1:9090"},
		{"max_recv_msg_size", c.Server.MaxRecvMsgSize, config.ByteSize(4 << 20)},
		{"max_send_msg_size", c.Server.MaxSendMsgSize, config.ByteSize(4 << 20)},
		{"keepalive.time", time.Duration(c.Server.Keepalive.Time), 2 * time.Hour},
		{"shutdown_grace", time.Duration(c.Server.ShutdownGrace), 30 * time.Second},
		{"upstream keepalive.time", time.Duration(u.Keepalive.Time), 5 * time.Minute},
		{"upstream load_balancing", u.LoadBalancing, config.RoundRobin},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("default %s = %v, want %v", ch.name, ch.got, ch.want)
		}
	}
}

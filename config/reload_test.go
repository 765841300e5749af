package config_test

import (
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/config"
)

// RestartOnly names the settings a reload cannot apply, and nothing that
// a reload swaps.
func TestRestartOnly(t *testing.T) {
	t.Parallel()
	base := func() *config.Config {
		c := config.Default()
		c.Upstreams = []config.Upstream{{Name: "a", Target: "127.0.0.1:1", Methods: []string{"x.v1"}}}
		return &c
	}
	for _, tc := range []struct {
		name   string
		change func(*config.Config)
		want   []string
	}{
		{"nothing", func(*config.Config) {}, nil},
		{"swappable", func(c *config.Config) {
			c.Upstreams[0].Target = "127.0.0.1:2"
			c.CORS.AllowedOrigins = []string{"https://a.example"}
			c.Log.Level = config.LogDebug
			c.REST.MaxBodySize *= 2
			c.Policy.Authz.Rules = []config.AuthzRule{{Methods: []string{"x.v1"}, Access: config.AccessAnonymous}}
		}, nil},
		{"listeners", func(c *config.Config) {
			c.Listen = "0.0.0.0:8080"
			c.Admin = "off"
			c.TLS.CertFile = "cert.pem"
		}, []string{"admin", "listen", "tls"}},
		{"contract sources and route shapes", func(c *config.Config) {
			c.DescriptorSets = []string{"api.binpb"}
			c.Upstreams[0].Reflection = true
			c.Upstreams[0].RESTPathPrefix = "/a"
			c.REST.StrictRoutes = true
		}, []string{"descriptor_sets", "rest.strict_routes", "upstreams[a].reflection", "upstreams[a].rest_path_prefix"}},
		{"server, telemetry, log format, watch", func(c *config.Config) {
			c.Server.MaxConcurrentStreams++
			c.Metrics.Enabled = !c.Metrics.Enabled
			c.Tracing.Enabled = !c.Tracing.Enabled
			c.Log.Format = config.LogText
			c.Watch = true
		}, []string{"log.format", "metrics", "server", "tracing", "watch"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			updated := base()
			tc.change(updated)
			if got := config.RestartOnly(base(), updated); !slices.Equal(got, tc.want) {
				t.Errorf("RestartOnly = %v, want %v", got, tc.want)
			}
		})
	}
}

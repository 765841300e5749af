package policy_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/policy"
)

func TestRESTHeaders(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Policy.Authn.APIKeys.Keys = []config.APIKey{{Name: "ci", Hash: "sha256:" + strings.Repeat("0", 64)}}
	cfg.Limits.Key = "metadata:x-tenant"
	cfg.RateLimits.Limits = []config.RateLimit{{Name: "a", Methods: []string{"x"}, Key: "metadata:x-team", Rate: 1}, {Name: "b", Methods: []string{"x"}, Key: "identity", Rate: 1}}
	cfg.REST.IncomingHeaders = []string{"X-Custom"}
	chain, err := policy.Build(&cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	got := strings.Join(chain.RESTHeaders(), ",")
	for _, want := range []string{"X-Request-Timeout", "x-api-key", "x-tenant", "x-team", "X-Custom"} {
		if !strings.Contains(strings.ToLower(got), strings.ToLower(want)) {
			t.Errorf("REST passes %s; %s is missing", got, want)
		}
	}
	if strings.Contains(got, "identity") {
		t.Errorf("REST passes %s; non-metadata keys must not become headers", got)
	}
}

// The chain's shape follows the configuration: an open gateway has no
// authentication step, a configured one has authentication and
// authorization; concurrency limits add their interceptor.
func TestBuildShape(t *testing.T) {
	t.Parallel()
	open := config.Default()
	c, err := policy.Build(&open)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// recover, call record, log, deadline, flow, end of policies, identity
	if n := len(c.Interceptors()); n != 7 || !c.Open() {
		t.Errorf("open gateway: %d interceptors, open %v; want 7, true", n, c.Open())
	}
	closed := config.Default()
	closed.Policy.Authz.Rules = []config.AuthzRule{{Methods: []string{"*"}, Access: "anonymous"}}
	closed.Limits.MaxInFlight = 10
	c2, err := policy.Build(&closed)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	// + authn, authz, concurrency
	if n := len(c2.Interceptors()); n != 10 || c2.Open() {
		t.Errorf("closed gateway: %d interceptors, open %v; want 10, false", n, c2.Open())
	}
}

// What only building finds is an error of Build, naming its setting: a
// JWKS file that does not parse.
func TestBuildErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jwks := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(jwks, []byte("not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.Policy.Authn.JWT.JWKSFile = jwks
	cfg.Policy.Authn.JWT.Issuer = "https://issuer.example"
	cfg.Policy.Authn.JWT.Audiences = []string{"api"}
	_, err := policy.Build(&cfg)
	if err == nil || !strings.Contains(err.Error(), "policy.authn") {
		t.Fatalf("Build with a broken JWKS file: %v, want a policy.authn error", err)
	}
}

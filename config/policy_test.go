package config_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/config"
)

const policyDoc = `
upstreams:
  - target: 127.0.0.1:50051
    methods: ["*"]
policy:
  authn:
    jwt:
      jwks_url: https://idp.example/.well-known/jwks.json
      issuer: https://idp.example/
      audiences: [sluice]
      required_claims: [tenant]
    api_keys:
      header: x-api-key
      keys:
        - name: ci
          hash: sha256:1ec1c26b50d5d3c58d9583181af8076655fe00756bf7285940ba3670f99fcba0
          scopes: [library.read]
  authz:
    default: deny
    rules:
      - methods: [sluice.demo.library.v1.LibraryService.Get*, sluice.demo.library.v1.LibraryService.List*]
        access: anonymous
      - methods: [sluice.demo.library.v1]
        access: authenticated
        scopes: [library.write]
      - methods: [sluice.demo.library.v1.LibraryService.DeleteShelf]
        access: authenticated
        providers: [jwt]
        claims: ["role == admin"]
  identity:
    claims:
      - {claim: role, key: x-sluice-role}
  deadline:
    default: 30s
    max: 5m
    offset: 50ms
    rules:
      - methods: [sluice.demo.library.v1.LibraryService.Watch*]
        default: 0s
        max: 0s
`

func TestPolicyParse(t *testing.T) {
	t.Parallel()
	c, err := config.Parse([]byte(policyDoc), "sluice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p := c.Policy
	if p.Authn.JWT.MinRefetch.String() != "30s" || p.Authn.JWT.SubjectClaim != "sub" {
		t.Errorf("jwt defaults lost: %+v", p.Authn.JWT)
	}
	if len(p.Authz.Rules) != 3 || p.Authz.Rules[2].Providers[0] != "jwt" {
		t.Errorf("rules = %+v", p.Authz.Rules)
	}
	if p.Identity.SubjectKey != "x-sluice-subject" || len(p.Identity.Claims) != 1 {
		t.Errorf("identity = %+v", p.Identity)
	}
	if len(p.Deadline.Rules) != 1 || p.Deadline.Offset.String() != "50ms" {
		t.Errorf("deadline = %+v", p.Deadline)
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	base := func() config.Config {
		c := config.Default()
		c.Upstreams = []config.Upstream{config.DefaultUpstream()}
		c.Upstreams[0].Target = "127.0.0.1:1"
		c.Upstreams[0].Methods = []string{"*"}
		return c
	}
	jwt := func(c *config.Config) {
		c.Policy.Authn.JWT.JWKSURL = "https://idp.example/jwks"
		c.Policy.Authn.JWT.Issuer = "https://idp.example/"
		c.Policy.Authn.JWT.Audiences = []string{"sluice"}
	}
	rule := func(r config.AuthzRule) func(*config.Config) {
		return func(c *config.Config) { c.Policy.Authz.Rules = append(c.Policy.Authz.Rules, r) }
	}
	cases := []struct {
		name string
		edit []func(*config.Config)
		want string // "" for valid; else path: message fragment
	}{
		{name: "default is valid"},
		{name: "jwt is valid", edit: []func(*config.Config){jwt}},
		{name: "jwt without issuer", edit: []func(*config.Config){jwt, func(c *config.Config) { c.Policy.Authn.JWT.Issuer = "" }}, want: "policy.authn.jwt.issuer: must be set"},
		{name: "jwt without audience", edit: []func(*config.Config){jwt, func(c *config.Config) { c.Policy.Authn.JWT.Audiences = nil }}, want: "policy.authn.jwt.audiences: must list"},
		{name: "jwt issuer without source", edit: []func(*config.Config){func(c *config.Config) { c.Policy.Authn.JWT.Issuer = "x" }}, want: "policy.authn.jwt.jwks_url: must be set"},
		{name: "jwks url scheme", edit: []func(*config.Config){jwt, func(c *config.Config) { c.Policy.Authn.JWT.JWKSURL = "ftp://x/y" }}, want: "policy.authn.jwt.jwks_url: must be an absolute http"},
		{name: "both sources", edit: []func(*config.Config){jwt, func(c *config.Config) { c.Policy.Authn.JWT.JWKSFile = "config_test.go" }}, want: "policy.authn.jwt.jwks_file: contradicts"},
		{name: "hmac algorithm", edit: []func(*config.Config){jwt, func(c *config.Config) { c.Policy.Authn.JWT.Algorithms = []string{"HS256"} }}, want: "policy.authn.jwt.algorithms[0]: must be one of"},
		{name: "refetch too often", edit: []func(*config.Config){jwt, func(c *config.Config) { c.Policy.Authn.JWT.MinRefetch = 0 }}, want: "policy.authn.jwt.min_refetch_interval: must be at least 1s"},
		{name: "huge leeway", edit: []func(*config.Config){jwt, func(c *config.Config) { c.Policy.Authn.JWT.Leeway = config.Duration(1 << 40) }}, want: "policy.authn.jwt.leeway: must be at most 5m"},
		{name: "plain api key", edit: []func(*config.Config){func(c *config.Config) {
			c.Policy.Authn.APIKeys.Keys = []config.APIKey{{Name: "k", Hash: "hunter2"}}
		}}, want: "policy.authn.api_keys.keys[0].hash: must be \"sha256:\""},
		{name: "duplicate api key name", edit: []func(*config.Config){func(c *config.Config) {
			h := "sha256:" + strings.Repeat("ab", 32)
			c.Policy.Authn.APIKeys.Keys = []config.APIKey{{Name: "k", Hash: h}, {Name: "k", Hash: "sha256:" + strings.Repeat("cd", 32)}}
		}}, want: "policy.authn.api_keys.keys[1].name: \"k\" is already"},
		{name: "bad api key header", edit: []func(*config.Config){func(c *config.Config) { c.Policy.Authn.APIKeys.Header = "X-Api-Key" }}, want: "policy.authn.api_keys.header: metadata key"},
		{name: "mtls without client auth", edit: []func(*config.Config){func(c *config.Config) { c.Policy.Authn.MTLS.Enabled = true }}, want: "policy.authn.mtls.enabled: needs tls.client_auth"},
		{name: "bad default access", edit: []func(*config.Config){func(c *config.Config) { c.Policy.Authz.Default = "allow" }}, want: "policy.authz.default: must be one of"},
		{name: "rule without access", edit: []func(*config.Config){rule(config.AuthzRule{Methods: []string{"a"}})}, want: "policy.authz.rules[0].access: must be set"},
		{name: "rule without methods", edit: []func(*config.Config){rule(config.AuthzRule{Access: config.AccessDeny})}, want: "policy.authz.rules[0].methods: must list"},
		{name: "rule with http path", edit: []func(*config.Config){rule(config.AuthzRule{Methods: []string{"/v1/books"}, Access: config.AccessDeny})}, want: "policy.authz.rules[0].methods[0]: method pattern"},
		{name: "pattern in two rules", edit: []func(*config.Config){rule(config.AuthzRule{Methods: []string{"a.B"}, Access: config.AccessDeny}), rule(config.AuthzRule{Methods: []string{"a.B"}, Access: config.AccessAnonymous})}, want: "policy.authz.rules[1].methods[0]: pattern \"a.B\" is already used"},
		{name: "scopes on anonymous", edit: []func(*config.Config){rule(config.AuthzRule{Methods: []string{"a"}, Access: config.AccessAnonymous, Scopes: []string{"x"}})}, want: "policy.authz.rules[0].scopes: only applies"},
		{name: "authenticated without providers", edit: []func(*config.Config){rule(config.AuthzRule{Methods: []string{"a"}, Access: config.AccessAuthenticated})}, want: "policy.authz.rules[0].access: authenticated needs"},
		{name: "unconfigured provider", edit: []func(*config.Config){jwt, rule(config.AuthzRule{Methods: []string{"a"}, Access: config.AccessAuthenticated, Providers: []string{"mtls"}})}, want: "policy.authz.rules[0].providers[0]: provider mtls is not configured"},
		{name: "bad claim", edit: []func(*config.Config){jwt, rule(config.AuthzRule{Methods: []string{"a"}, Access: config.AccessAuthenticated, Claims: []string{"role is admin"}})}, want: "policy.authz.rules[0].claims[0]: claim condition"},
		{name: "identity key reserved", edit: []func(*config.Config){func(c *config.Config) { c.Policy.Identity.SubjectKey = "grpc-subject" }}, want: "policy.identity.subject_key: metadata key"},
		{name: "identity key is authorization", edit: []func(*config.Config){func(c *config.Config) { c.Policy.Identity.ScopesKey = "authorization" }}, want: "policy.identity.scopes_key: must not be authorization"},
		{name: "identity key stripped", edit: []func(*config.Config){func(c *config.Config) { c.Policy.Identity.Strip = []string{"x-sluice-subject"} }}, want: "policy.identity.strip[0]: key \"x-sluice-subject\" is set by"},
		{name: "deadline default over max", edit: []func(*config.Config){func(c *config.Config) {
			c.Policy.Deadline.Default, c.Policy.Deadline.Max = config.Duration(2e9), config.Duration(1e9)
		}}, want: "policy.deadline.default: must not exceed max"},
		{name: "deadline offset over default", edit: []func(*config.Config){func(c *config.Config) {
			c.Policy.Deadline.Default, c.Policy.Deadline.Offset = config.Duration(1e9), config.Duration(1e9)
		}}, want: "policy.deadline.offset: must be shorter than default"},
		{name: "deadline rule pattern", edit: []func(*config.Config){func(c *config.Config) {
			c.Policy.Deadline.Rules = []config.DeadlineRule{{Methods: []string{"a b"}}}
		}}, want: "policy.deadline.rules[0].methods[0]: method pattern"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cfg := base()
			for _, e := range c.edit {
				e(&cfg)
			}
			err := cfg.Validate()
			if c.want == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var errs *config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("Validate = %v, want %q", err, c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Validate = %v, want %q", err, c.want)
			}
		})
	}
}

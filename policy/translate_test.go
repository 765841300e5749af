package policy_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/interceptors/identity"
	"github.com/sluice-dev/sluice/policy"
)

// serverStream is the least of a grpc.ServerStream the chain needs when
// the handler sends and receives nothing.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context     { return s.ctx }
func (s *serverStream) SetHeader(metadata.MD) error  { return nil }
func (s *serverStream) SendHeader(metadata.MD) error { return nil }
func (s *serverStream) SetTrailer(metadata.MD)       {}

// run passes one call through the chain's interceptors, outermost first,
// and returns the context the handler saw.
func run(t *testing.T, c *policy.Chain, ctx context.Context, method string) (context.Context, error) {
	t.Helper()
	var seen context.Context
	h := func(_ any, ss grpc.ServerStream) error {
		seen = ss.Context()
		return nil
	}
	ics := c.Interceptors()
	for i := len(ics) - 1; i >= 0; i-- {
		ic, next := ics[i], h
		h = func(srv any, ss grpc.ServerStream) error {
			return ic(srv, ss, &grpc.StreamServerInfo{FullMethod: method, IsServerStream: true, IsClientStream: true}, next)
		}
	}
	err := h(nil, &serverStream{ctx: ctx})
	return seen, err
}

func build(t *testing.T, cfg *config.Config) *policy.Chain {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := policy.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// policy.identity reaches the propagator: its keys carry the identity,
// its strip list is removed, client-supplied identity values are gone.
func TestIdentityTranslated(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Policy.Identity = config.Identity{
		SubjectKey: "x-user",
		Claims:     []config.ClaimKey{{Claim: "org.name", Key: "x-org"}},
		Strip:      []string{"x-secret"},
	}
	c := build(t, &cfg)
	id := &identity.Identity{Subject: "alice", Provider: "jwt", Claims: map[string]any{"org": map[string]any{"name": "acme"}}}
	in := metadata.Pairs("x-user", "mallory", "x-org", "evil", "x-secret", "s", "x-sluice-subject", "kept", "x-other", "o")
	ctx := identity.NewContext(metadata.NewIncomingContext(context.Background(), in), id)
	seen, err := run(t, c, ctx, "/a.S/M")
	if err != nil {
		t.Fatal(err)
	}
	md, _ := metadata.FromIncomingContext(seen)
	for k, want := range map[string][]string{
		"x-user":           {"alice"},
		"x-org":            {"acme"},
		"x-secret":         nil,
		"x-sluice-subject": {"kept"}, // not an identity key in this configuration
		"x-other":          {"o"},
	} {
		if got := md.Get(k); !slices.Equal(got, want) {
			t.Errorf("upstream %s = %q, want %q", k, got, want)
		}
	}
}

// policy.deadline reaches the deadline interceptor: the default of a
// method without a rule, none for a method whose rule sets none.
func TestDeadlineTranslated(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Policy.Deadline = config.Deadline{
		Default: config.Duration(time.Hour),
		Max:     config.Duration(2 * time.Hour),
		Rules:   []config.DeadlineRule{{Methods: []string{"a.S.Watch"}}},
	}
	c := build(t, &cfg)
	seen, err := run(t, c, context.Background(), "/a.S/M")
	if err != nil {
		t.Fatal(err)
	}
	if dl, ok := seen.Deadline(); !ok || time.Until(dl) < 50*time.Minute || time.Until(dl) > time.Hour {
		t.Errorf("deadline of a.S.M = %v, %v; want about an hour", dl, ok)
	}
	seen, err = run(t, c, context.Background(), "/a.S/Watch")
	if err != nil {
		t.Fatal(err)
	}
	if dl, ok := seen.Deadline(); ok {
		t.Errorf("deadline of a.S.Watch = %v; want none", dl)
	}
}

// policy.authz reaches the authorizer, with the default, the access of
// each rule and its scopes and claim conditions; Build's chain decides
// as Authorizer does.
func TestAuthzTranslated(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Policy.Authn.APIKeys.Keys = []config.APIKey{{Name: "ci", Hash: "sha256:" + "00000000000000000000000000000000000000000000000000000000000000aa"}}
	cfg.Policy.Authz = config.Authz{
		Default: config.AccessAnonymous,
		Rules: []config.AuthzRule{
			{Methods: []string{"a.S.Closed"}, Access: config.AccessDeny},
			{Methods: []string{"a.S.Write"}, Access: config.AccessAuthenticated, Providers: []string{"api_key"}, Scopes: []string{"w"}, Claims: []string{"team == ops"}},
		},
	}
	c := build(t, &cfg)
	az, err := policy.Authorizer(cfg.Policy.Authz)
	if err != nil {
		t.Fatal(err)
	}
	ops := &identity.Identity{Subject: "ci", Provider: "api_key", Scopes: []string{"w"}, Claims: map[string]any{"team": "ops"}}
	dev := &identity.Identity{Subject: "ci", Provider: "api_key", Scopes: []string{"w"}, Claims: map[string]any{"team": "dev"}}
	for _, tc := range []struct {
		method string
		id     *identity.Identity
		want   codes.Code
	}{
		{"/a.S/Other", nil, codes.OK},
		{"/a.S/Closed", nil, codes.PermissionDenied},
		{"/a.S/Write", ops, codes.OK},
		{"/a.S/Write", dev, codes.PermissionDenied},
	} {
		ctx := context.Background()
		if tc.id != nil {
			ctx = identity.NewContext(ctx, tc.id)
		}
		if got := status.Code(az.Decide(ctx, tc.method)); got != tc.want {
			t.Errorf("Authorizer: %s as %v = %v, want %v", tc.method, tc.id, got, tc.want)
		}
	}
	// Without credentials the chain's authenticator refuses a.S.Write
	// first, as the rule requires an identity.
	if _, err := run(t, c, context.Background(), "/a.S/Write"); status.Code(err) != codes.Unauthenticated {
		t.Errorf("chain: a.S.Write without credentials = %v, want Unauthenticated", err)
	}
	if _, err := run(t, c, context.Background(), "/a.S/Closed"); status.Code(err) != codes.PermissionDenied {
		t.Errorf("chain: a.S.Closed = %v, want PermissionDenied", err)
	}
}

// rate_limits reaches the rate limiter: its key, rate and burst.
func TestRateLimitTranslated(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.RateLimits.Limits = []config.RateLimit{{Name: "per-tenant", Methods: []string{"a.S"}, Key: "metadata:x-tenant", Rate: 1, Period: config.Duration(time.Hour)}}
	c := build(t, &cfg)
	tenant := func(name string) context.Context {
		return metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-tenant", name))
	}
	for i, tc := range []struct {
		ctx    context.Context
		method string
		want   codes.Code
	}{
		{tenant("acme"), "/a.S/M", codes.OK},
		{tenant("acme"), "/a.S/M", codes.ResourceExhausted},
		{tenant("other"), "/a.S/M", codes.OK},
		{tenant("acme"), "/b.S/M", codes.OK},
	} {
		if _, err := run(t, c, tc.ctx, tc.method); status.Code(err) != tc.want {
			t.Errorf("call %d: %v, want %v", i, err, tc.want)
		}
	}
}

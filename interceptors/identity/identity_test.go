package identity_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/sluice-dev/sluice/interceptors/identity"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// sluiceKeys are the options of the configuration's defaults
// (policy.identity).
func sluiceKeys() []identity.Option {
	return []identity.Option{
		identity.WithSubjectKey("x-sluice-subject"),
		identity.WithProviderKey("x-sluice-provider"),
		identity.WithScopesKey("x-sluice-scopes"),
		identity.WithStrip("authorization", "x-api-key"),
	}
}

// fakeAuthn stands in for authn: it puts a fixed identity into calls that
// carry "authorization: Bearer good".
func fakeAuthn(id *identity.Identity) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		md, _ := metadata.FromIncomingContext(ss.Context())
		if v := md.Get("authorization"); len(v) == 1 && v[0] == "Bearer good" {
			return h(srv, &ctxStream{ss, identity.NewContext(ss.Context(), id)})
		}
		return h(srv, ss)
	}
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }

// TestNoSpoofing (acceptance 3, gRPC part): whatever identity metadata a
// client sends, the upstream sees only the verified identity, and the
// credentials are stripped. Add rows for other ways a client could send
// the keys (REST headers arrive as the same metadata).
func TestNoSpoofing(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	p, err := identity.NewPropagator(append(sluiceKeys(),
		identity.WithClaimKeys(identity.ClaimKey{Claim: "role", Key: "x-sluice-role"}, identity.ClaimKey{Claim: "org.name", Key: "x-sluice-org"}))...)
	if err != nil {
		t.Fatal(err)
	}
	verified := &identity.Identity{
		Subject:  "alice",
		Provider: "jwt",
		Scopes:   []string{"library.read", "library.write"},
		Claims:   map[string]any{"role": "reader", "org": map[string]any{"name": "Acme\nInc 100%"}},
	}
	up := gatewaytest.StartEcho(t)
	gw := gatewaytest.StartGateway(t, gatewaytest.Route(up.Addr, "*"), fakeAuthn(verified), p.StreamServerInterceptor())
	cc := gatewaytest.Dial(t, gw.Addr)

	spoof := []string{
		"x-sluice-subject", "admin",
		"x-sluice-provider", "mtls",
		"x-sluice-scopes", "admin.all",
		"x-sluice-role", "admin",
		"x-sluice-org", "evil",
		"grpc-metadata-x-sluice-subject", "admin",
		"x-api-key", "k",
	}
	cases := []struct {
		name string
		md   metadata.MD
		want map[string][]string // nil values: key absent
	}{
		{
			name: "authenticated caller spoofing every key",
			md:   metadata.Pairs(append([]string{"authorization", "Bearer good"}, spoof...)...),
			want: map[string][]string{
				"x-sluice-subject":               {"alice"},
				"x-sluice-provider":              {"jwt"},
				"x-sluice-scopes":                {"library.read library.write"},
				"x-sluice-role":                  {"reader"},
				"x-sluice-org":                   {"Acme%0AInc 100%25"},
				"authorization":                  nil,
				"x-api-key":                      nil,
				"grpc-metadata-x-sluice-subject": nil,
			},
		},
		{
			name: "anonymous caller spoofing",
			md:   metadata.Pairs(spoof...),
			want: map[string][]string{
				"x-sluice-subject":  nil,
				"x-sluice-provider": nil,
				"x-sluice-scopes":   nil,
				"x-sluice-role":     nil,
				"x-api-key":         nil,
			},
		},
		// An anonymous call that carries no removed key goes on without
		// a copy of its metadata: each key alone must still be caught.
		{
			name: "anonymous caller with only a prefixed spoof",
			md:   metadata.Pairs("grpc-metadata-x-sluice-subject", "admin"),
			want: map[string][]string{"grpc-metadata-x-sluice-subject": nil},
		},
		{
			name: "anonymous caller with only a stripped key",
			md:   metadata.Pairs("x-api-key", "k"),
			want: map[string][]string{"x-api-key": nil},
		},
		{
			name: "anonymous caller with only the last claim key",
			md:   metadata.Pairs("x-sluice-org", "evil"),
			want: map[string][]string{"x-sluice-org": nil},
		},
		{
			name: "repeated spoofed values",
			md:   metadata.Pairs("authorization", "Bearer good", "x-sluice-subject", "admin", "x-sluice-subject", "root"),
			want: map[string][]string{"x-sluice-subject": {"alice"}},
		},
		{
			name: "other metadata passes",
			md:   metadata.Pairs("x-request-id", "r1", "x-sluice-subject", "admin"),
			want: map[string][]string{"x-request-id": {"r1"}, "x-sluice-subject": nil},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Not parallel: each case reads the upstream's last call.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			ctx = metadata.NewOutgoingContext(ctx, c.md)
			if _, _, err := gatewaytest.Call(ctx, cc, "/test.Echo/Get", "x"); err != nil {
				t.Fatal(err)
			}
			md := up.Last().Metadata
			for k, want := range c.want {
				if got := md.Get(k); !slices.Equal(got, want) {
					t.Errorf("upstream %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestClaim(t *testing.T) {
	t.Parallel()
	id := &identity.Identity{Claims: map[string]any{
		"a.b":          "flat",
		"realm_access": map[string]any{"roles": []any{"admin"}},
		"n":            1.0,
	}}
	for _, c := range []struct {
		name string
		ok   bool
		want any
	}{
		{"a.b", true, "flat"},
		{"realm_access.roles", true, []any{"admin"}},
		{"realm_access.none", false, nil},
		{"n.x", false, nil},
		{"missing", false, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, ok := id.Claim(c.name)
			if ok != c.ok {
				t.Fatalf("ok = %v", ok)
			}
			if ok {
				if s, isSlice := got.([]any); isSlice {
					if !slices.Equal(s, c.want.([]any)) {
						t.Errorf("got %v", got)
					}
				} else if got != c.want {
					t.Errorf("got %v, want %v", got, c.want)
				}
			}
		})
	}
}

func TestFromContext(t *testing.T) {
	t.Parallel()
	if _, ok := identity.FromContext(context.Background()); ok {
		t.Error("identity in an empty context")
	}
	if _, ok := identity.FromContext(identity.NewContext(context.Background(), nil)); ok {
		t.Error("nil identity reported")
	}
	id := &identity.Identity{Subject: "s"}
	if got, ok := identity.FromContext(identity.NewContext(context.Background(), id)); !ok || got != id {
		t.Error("identity lost")
	}
}

// TestScopesUnambiguous: scopes reach the upstream space-separated, so a
// scope holding whitespace (one scope to authorization) would read there
// as several scopes the gateway never granted. Such a scope is left out;
// the others go on as before.
func TestScopesUnambiguous(t *testing.T) {
	t.Parallel()
	p, err := identity.NewPropagator(sluiceKeys()...)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		scopes []string
		want   []string // nil: key absent
	}{
		{"plain", []string{"read", "library.write"}, []string{"read library.write"}},
		{"space inside", []string{"read admin", "library.write"}, []string{"library.write"}},
		{"tab, newline, no-break space", []string{"a\tb", "c\nd", "e\u00a0f", "ok"}, []string{"ok"}},
		{"empty", []string{"", "ok"}, []string{"ok"}},
		{"nothing sendable", []string{"read admin"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			id := &identity.Identity{Subject: "alice", Provider: "jwt", Scopes: c.scopes, Claims: map[string]any{}}
			md := p.Rewrite(context.Background(), id)
			if got := md.Get("x-sluice-scopes"); !slices.Equal(got, c.want) {
				t.Errorf("x-sluice-scopes = %q, want %q", got, c.want)
			}
			if len(c.scopes) > 0 && c.scopes[0] == "read admin" && !slices.Equal(id.Scopes, c.scopes) {
				t.Errorf("the identity's scopes were modified: %q", id.Scopes)
			}
		})
	}
}

// TestNewPropagatorRefuses: keys that cannot carry the identity are
// refused at construction, whoever builds the Propagator.
func TestNewPropagatorRefuses(t *testing.T) {
	t.Parallel()
	for name, opts := range map[string][]identity.Option{
		"invalid key":          {identity.WithSubjectKey("X-Subject")},
		"authorization":        {identity.WithScopesKey("authorization")},
		"key set twice":        {identity.WithSubjectKey("x-id"), identity.WithProviderKey("x-id")},
		"claim without name":   {identity.WithClaimKeys(identity.ClaimKey{Key: "x-role"})},
		"set and stripped":     {identity.WithSubjectKey("x-id"), identity.WithStrip("x-id")},
		"stripped key invalid": {identity.WithStrip("grpc-timeout")},
		"claim key binary":     {identity.WithClaimKeys(identity.ClaimKey{Claim: "role", Key: "x-role-bin"})},
	} {
		if _, err := identity.NewPropagator(opts...); err == nil {
			t.Errorf("%s: NewPropagator succeeded", name)
		}
	}
}

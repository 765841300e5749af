package ratelimit_test

import (
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	errdetails "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/interceptors/identity"
	"github.com/sluice-dev/sluice/interceptors/ratelimit"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

const (
	limited = "/test.Echo/Limited"
	free    = "/test.Free/Call"
)

// fakeAuthn stands in for interceptors/authn: it trusts the x-test-subject
// and x-test-provider headers and puts that identity into the context.
func fakeAuthn(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	md, _ := metadata.FromIncomingContext(ss.Context())
	if sub := md.Get("x-test-subject"); len(sub) > 0 {
		id := &identity.Identity{Subject: sub[0], Provider: strings.Join(md.Get("x-test-provider"), ""), Claims: map[string]any{}}
		ss = &ctxStream{ServerStream: ss, ctx: identity.NewContext(ss.Context(), id)}
	}
	return h(srv, ss)
}

type ctxStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *ctxStream) Context() context.Context { return s.ctx }

// TestKeys runs each key kind through a real gateway: a limit of burst 2
// (refilling once a minute, so not during the test) per key on
// test.Echo.*: party a gets two calls and is refused the third; party b
// has its own bucket unless the key cannot tell them apart; calls without
// a key are not limited.
func TestKeys(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	loopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cases := []struct {
		name    string
		key     ratelimit.KeyFunc
		a, b    []string // metadata pairs of the two parties
		same    bool     // a and b share a bucket
		keyless []string // metadata of calls the limit does not apply to; nil: none
	}{
		{
			name: "identity", key: ratelimit.IdentityKey(),
			a:       []string{"x-test-subject", "alice", "x-test-provider", "jwt"},
			b:       []string{"x-test-subject", "bob", "x-test-provider", "jwt"},
			keyless: []string{},
		},
		{
			name: "identity per provider", key: ratelimit.IdentityKey(),
			a: []string{"x-test-subject", "alice", "x-test-provider", "jwt"},
			b: []string{"x-test-subject", "alice", "x-test-provider", "mtls"},
		},
		{
			name: "test key func", key: func(ctx context.Context, _ string) (string, bool) {
				id, ok := identity.FromContext(ctx)
				if !ok {
					return "", false
				}
				return strings.ToUpper(id.Subject), true
			},
			a:    []string{"x-test-subject", "alice"},
			b:    []string{"x-test-subject", "ALICE"},
			same: true,
		},
		{
			name: "api key name", key: ratelimit.APIKeyKey(),
			a:       []string{"x-test-subject", "ci-bot", "x-test-provider", "api_key"},
			b:       []string{"x-test-subject", "deploy-bot", "x-test-provider", "api_key"},
			keyless: []string{"x-test-subject", "ci-bot", "x-test-provider", "jwt"},
		},
		{
			name: "client ip without trusted proxy", key: ratelimit.ClientIPKey(nil),
			a:    []string{"x-forwarded-for", "203.0.113.1"},
			b:    []string{"x-forwarded-for", "203.0.113.2"},
			same: true, // both are 127.0.0.1: the header is not believed
		},
		{
			name: "client ip behind trusted proxy", key: ratelimit.ClientIPKey(loopback),
			a: []string{"x-forwarded-for", "198.51.100.7, 203.0.113.1"},
			b: []string{"x-forwarded-for", "198.51.100.7, 203.0.113.2"},
		},
		{
			name: "client ip through two trusted proxies", key: ratelimit.ClientIPKey(loopback),
			a:    []string{"x-forwarded-for", "203.0.113.1, 127.0.0.9"},
			b:    []string{"x-forwarded-for", "203.0.113.1", "x-forwarded-for", "127.0.0.10"},
			same: true,
		},
		{
			name: "metadata", key: ratelimit.MetadataKey("X-Tenant"),
			a:       []string{"x-tenant", "acme"},
			b:       []string{"x-tenant", "globex"},
			keyless: []string{},
		},
		{
			name: "global", key: ratelimit.GlobalKey(),
			a:    []string{"x-tenant", "acme"},
			b:    []string{"x-tenant", "globex"},
			same: true,
		},
	}
	upstream := gatewaytest.StartEcho(t).Addr
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l, err := ratelimit.New(ratelimit.WithLimit(ratelimit.Limit{
				Name: "per-key", Methods: []string{"test.Echo"}, Key: tc.key, Rate: 1, Period: time.Minute, Burst: 2,
			}))
			if err != nil {
				t.Fatal(err)
			}
			cc := startGateway(t, upstream, fakeAuthn, l.StreamServerInterceptor())
			for i := range 2 {
				if _, err := call(cc, limited, tc.a...); err != nil {
					t.Fatalf("party a, call %d: %v", i+1, err)
				}
			}
			_, err = call(cc, limited, tc.a...)
			wantRefused(t, err, "party a, call 3")
			_, err = call(cc, limited, tc.b...)
			if tc.same {
				wantRefused(t, err, "party b, sharing a's bucket")
			} else if err != nil {
				t.Errorf("party b, own bucket: %v", err)
			}
			if _, err := call(cc, free, tc.a...); err != nil {
				t.Errorf("method the limit does not name: %v", err)
			}
			if tc.keyless != nil {
				for i := range 4 {
					if _, err := call(cc, limited, tc.keyless...); err != nil {
						t.Fatalf("call %d without a key: %v", i+1, err)
					}
				}
			}
		})
	}
}

func wantRefused(t *testing.T, err error, what string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != codes.ResourceExhausted {
		t.Fatalf("%s: got %v, want RESOURCE_EXHAUSTED", what, err)
	}
	var retry *errdetails.RetryInfo
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retry = r
		}
	}
	if retry == nil || retry.GetRetryDelay().AsDuration() <= 0 {
		t.Fatalf("%s: no positive RetryInfo in %v", what, st.Details())
	}
}

// TestHeaders checks the RateLimit fields on admitted and refused calls,
// the RetryInfo of the refusal, and that the tightest of several limits
// is the one reported and the one that refuses.
func TestHeaders(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	l, err := ratelimit.New(
		ratelimit.WithLimit(ratelimit.Limit{Name: "everyone", Methods: []string{"test.Echo.Limited"}, Rate: 10, Period: time.Minute, Burst: 10}),
		ratelimit.WithLimit(ratelimit.Limit{Name: "tenant", Methods: []string{"test.*"}, Key: ratelimit.MetadataKey("x-tenant"), Rate: 1, Period: time.Minute, Burst: 3}),
	)
	if err != nil {
		t.Fatal(err)
	}
	cc := startGateway(t, gatewaytest.StartEcho(t).Addr, l.StreamServerInterceptor())

	hdr, err := call(cc, limited, "x-tenant", "acme")
	if err != nil {
		t.Fatal(err)
	}
	// tenant: 2 of 3 left, full again in 60s; everyone: 9 of 10 left.
	wantHeader(t, hdr, map[string]string{"ratelimit-limit": "3", "ratelimit-remaining": "2", "ratelimit-reset": "60", "retry-after": ""})
	for range 2 {
		if _, err := call(cc, limited, "x-tenant", "acme"); err != nil {
			t.Fatal(err)
		}
	}
	hdr, err = call(cc, limited, "x-tenant", "acme")
	wantRefused(t, err, "tenant over its limit")
	wantHeader(t, hdr, map[string]string{"retry-after": "60", "ratelimit-limit": "3", "ratelimit-remaining": "0", "ratelimit-reset": "60"})
	st := status.Convert(err)
	if !strings.Contains(st.Message(), `"tenant"`) {
		t.Errorf("message %q does not name the limit", st.Message())
	}
	retryInfo := false
	for _, d := range st.Details() {
		if r, ok := d.(*errdetails.RetryInfo); ok {
			retryInfo = true
			if got := r.GetRetryDelay().AsDuration(); got < 59*time.Second || got > 60*time.Second {
				t.Errorf("RetryInfo delay %s, want about 60s", got)
			}
		}
	}
	if !retryInfo {
		t.Errorf("refusal carries no RetryInfo: %v", st.Details())
	}
	// No calls without x-tenant have been made: everyone's bucket has 7 of
	// 10 left (three admitted calls; the refused one gave back the token it
	// had taken from everyone before tenant refused), 6 after this one.
	hdr, err = call(cc, limited)
	if err != nil {
		t.Fatal(err)
	}
	wantHeader(t, hdr, map[string]string{"ratelimit-limit": "10", "ratelimit-remaining": "6"})
}

func wantHeader(t *testing.T, md metadata.MD, want map[string]string) {
	t.Helper()
	for k, v := range want {
		got := strings.Join(md.Get(k), ",")
		if got != v {
			t.Errorf("header %s = %q, want %q (all: %v)", k, got, v, md)
		}
	}
}

// TestNewRejects checks that invalid limits are construction errors.
func TestNewRejects(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		opts []ratelimit.Option
	}{
		{"no name", []ratelimit.Option{ratelimit.WithLimit(ratelimit.Limit{Methods: []string{"*"}, Rate: 1})}},
		{"colon in name", []ratelimit.Option{ratelimit.WithLimit(ratelimit.Limit{Name: "a:b", Methods: []string{"*"}, Rate: 1})}},
		{"bad pattern", []ratelimit.Option{ratelimit.WithLimit(ratelimit.Limit{Name: "a", Methods: []string{"/x/y"}, Rate: 1})}},
		{"no methods", []ratelimit.Option{ratelimit.WithLimit(ratelimit.Limit{Name: "a", Rate: 1})}},
		{"zero rate", []ratelimit.Option{ratelimit.WithLimit(ratelimit.Limit{Name: "a", Methods: []string{"*"}})}},
		{"negative burst", []ratelimit.Option{ratelimit.WithLimit(ratelimit.Limit{Name: "a", Methods: []string{"*"}, Rate: 1, Burst: -1})}},
		{"duplicate name", []ratelimit.Option{
			ratelimit.WithLimit(ratelimit.Limit{Name: "a", Methods: []string{"*"}, Rate: 1}),
			ratelimit.WithLimit(ratelimit.Limit{Name: "a", Methods: []string{"x"}, Rate: 1}),
		}},
		{"global without redis", []ratelimit.Option{ratelimit.WithLimit(ratelimit.Limit{Name: "a", Methods: []string{"*"}, Rate: 1, Global: true})}},
		{"zero timeout", []ratelimit.Option{ratelimit.WithRedisTimeout(0)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := ratelimit.New(tc.opts...); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}

// BenchmarkCheckLocal measures one admission by a local limit, the cost
// every limited call pays: parallel callers share one bucket (the worst
// case for its lock).
func BenchmarkCheckLocal(b *testing.B) {
	l, err := ratelimit.New(ratelimit.WithLimit(ratelimit.Limit{Name: "all", Methods: []string{"test.Echo"}, Rate: 1 << 30}))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := l.Check(ctx, limited); err != nil {
				b.Fatal(err)
			}
		}
	})
}

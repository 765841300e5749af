package ratelimit_test

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/sluice-dev/sluice/interceptors/ratelimit"
)

func TestClientIPKey(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}
	cases := []struct {
		name    string
		peer    net.Addr
		xff     []string
		trusted []netip.Prefix
		want    string
		ok      bool
	}{
		{"no proxy", tcp("192.0.2.1:5000"), nil, trusted, "192.0.2.1", true},
		{"untrusted peer's header ignored", tcp("192.0.2.1:5000"), []string{"198.51.100.1"}, trusted, "192.0.2.1", true},
		{"no trusted proxies: header ignored", tcp("10.0.0.1:5000"), []string{"198.51.100.1"}, nil, "10.0.0.1", true},
		{"one trusted proxy", tcp("10.0.0.1:5000"), []string{"198.51.100.1"}, trusted, "198.51.100.1", true},
		{"client spoofs a prefix", tcp("10.0.0.1:5000"), []string{"1.2.3.4, 198.51.100.1"}, trusted, "198.51.100.1", true},
		{"chain of trusted proxies", tcp("10.0.0.1:5000"), []string{"198.51.100.1, 10.9.9.9", "10.1.1.1"}, trusted, "198.51.100.1", true},
		{"all trusted", tcp("10.0.0.1:5000"), []string{"10.2.2.2"}, trusted, "10.2.2.2", true},
		{"garbage past a trusted hop", tcp("10.0.0.1:5000"), []string{"not-an-ip"}, trusted, "10.0.0.1", true},
		{"entry with port", tcp("10.0.0.1:5000"), []string{"198.51.100.1:4711"}, trusted, "198.51.100.1", true},
		{"ipv6 peer", tcp("[2001:db8::1]:443"), []string{"[2001:db9::5]:1"}, trusted, "2001:db9::5", true},
		{"ipv4-mapped peer", tcp("[::ffff:192.0.2.9]:1"), nil, trusted, "192.0.2.9", true},
		{"no peer", nil, nil, trusted, "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			if tc.peer != nil {
				ctx = peer.NewContext(ctx, &peer.Peer{Addr: tc.peer})
			}
			md := metadata.MD{}
			for _, v := range tc.xff {
				md.Append("x-forwarded-for", v)
			}
			ctx = metadata.NewIncomingContext(ctx, md)
			got, ok := ratelimit.ClientIPKey(tc.trusted)(ctx, "/a.B/C")
			if got != tc.want || ok != tc.ok {
				t.Errorf("got %q, %v; want %q, %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func tcp(s string) net.Addr {
	ap := netip.MustParseAddrPort(s)
	return net.TCPAddrFromAddrPort(ap)
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{"global", "identity", "api_key", "client_ip", "metadata:x-tenant"} {
		if _, err := ratelimit.ParseKey(spec, nil); err != nil {
			t.Errorf("ParseKey(%q): %v", spec, err)
		}
	}
	for _, spec := range []string{"", "ip", "metadata:", "metadata:X Y", "metadata:grpc-timeout"} {
		if _, err := ratelimit.ParseKey(spec, nil); err == nil {
			t.Errorf("ParseKey(%q) accepted it", spec)
		}
	}
}

// TestBucketsBounded checks that a flood of distinct keys cannot grow a
// limit's buckets past WithMaxKeys.
func TestBucketsBounded(t *testing.T) {
	t.Parallel()
	l, err := ratelimit.New(
		ratelimit.WithMaxKeys(50),
		ratelimit.WithLimit(ratelimit.Limit{Name: "t", Methods: []string{"*"}, Key: ratelimit.MetadataKey("x-k"), Rate: 1, Period: time.Hour}),
	)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-k", strconv.Itoa(i)))
		if _, err := l.Check(ctx, "/a.B/C"); err != nil {
			t.Fatalf("key %d: %v", i, err)
		}
	}
	if n := ratelimit.BucketCount(l, 0); n > 50 || n == 0 {
		t.Errorf("%d buckets, want between 1 and 50", n)
	}
}

func TestParseTrustedProxy(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"10.1.2.3/8":          "10.0.0.0/8",
		"192.0.2.1":           "192.0.2.1/32",
		"::ffff:192.0.2.1":    "192.0.2.1/32",
		"::ffff:10.0.0.0/104": "10.0.0.0/8",
		"2001:db8::/32":       "2001:db8::/32",
	} {
		p, err := ratelimit.ParseTrustedProxy(in)
		if err != nil || p.String() != want {
			t.Errorf("ParseTrustedProxy(%q) = %v, %v; want %s", in, p, err, want)
		}
	}
}

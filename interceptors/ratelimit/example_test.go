package ratelimit_test

import (
	"context"
	"fmt"
	"net/netip"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/interceptors/ratelimit"
)

// A local limit of 2 calls per minute per tenant header on one service.
// In a gateway, put l.StreamServerInterceptor() into the chain after
// authentication and authorization.
func ExampleNew() {
	l, err := ratelimit.New(ratelimit.WithLimit(ratelimit.Limit{
		Name:    "per-tenant",
		Methods: []string{"library.v1.LibraryService"},
		Key:     ratelimit.MetadataKey("x-tenant"),
		Rate:    2,
		Period:  time.Minute,
	}))
	if err != nil {
		panic(err)
	}
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-tenant", "acme"))
	for range 3 {
		hdr, err := l.Check(ctx, "/library.v1.LibraryService/GetBook")
		fmt.Println(status.Code(err), hdr.Get("ratelimit-remaining"), hdr.Get("retry-after"))
	}
	_, err = l.Check(ctx, "/library.v1.OtherService/Get")
	fmt.Println(status.Code(err) == codes.OK)
	// Output:
	// OK [1] []
	// OK [0] []
	// ResourceExhausted [0] [30]
	// true
}

func ExampleParseKey() {
	proxy, err := ratelimit.ParseTrustedProxy("10.0.0.0/8")
	if err != nil {
		panic(err)
	}
	if _, err := ratelimit.ParseKey("client_ip", []netip.Prefix{proxy}); err != nil {
		panic(err)
	}
	_, err = ratelimit.ParseKey("metadata:X-Tenant", nil)
	fmt.Println(err)
	// Output: key "metadata:X-Tenant": metadata key "X-Tenant": only lower case letters, digits, '-', '_' and '.' are allowed
}

func ExampleParseTrustedProxy() {
	for _, s := range []string{"192.0.2.1", "::ffff:10.0.0.0/104"} {
		p, err := ratelimit.ParseTrustedProxy(s)
		fmt.Println(p, err)
	}
	// Output:
	// 192.0.2.1/32 <nil>
	// 10.0.0.0/8 <nil>
}

// A limit shared by every gateway instance through Redis. The client
// connects when the first call needs it; whoever made it closes it after
// the Limiter is done.
func ExampleNewRedisClient() {
	rdb := ratelimit.NewRedisClient("127.0.0.1:6379", "", "", 0, 100*time.Millisecond)
	defer rdb.Close()
	_, err := ratelimit.New(ratelimit.WithRedis(rdb), ratelimit.WithLimit(ratelimit.Limit{
		Name:    "all-instances",
		Methods: []string{"*"},
		Key:     ratelimit.GlobalKey(),
		Rate:    1000,
		Global:  true,
	}))
	fmt.Println(err)
	// Output: <nil>
}

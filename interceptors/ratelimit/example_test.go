package ratelimit_test

import (
	"context"
	"fmt"
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

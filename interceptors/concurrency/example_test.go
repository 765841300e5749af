package concurrency_test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/sluice-dev/sluice/interceptors/concurrency"
)

// serverStream stands in for the call's stream; the interceptor needs
// only its context.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }

// At most 1000 calls in flight on the gateway and at most 50 watches,
// at most 5 per key; the key here is the method (MethodKey), a caller's
// identity would bound each caller instead. A call over a limit waits up
// to a second for a slot.
func ExampleNew() {
	l, err := concurrency.New(
		concurrency.WithMaxInFlight(1000),
		concurrency.WithRule(concurrency.Rule{Methods: []string{"library.v1.Library.Watch*"}, MaxInFlight: 50, MaxInFlightPerKey: 5}),
		concurrency.WithKey(concurrency.MethodKey()),
		concurrency.WithQueueTimeout(time.Second))
	if err != nil {
		panic(err)
	}
	ic := l.StreamServerInterceptor()
	info := &grpc.StreamServerInfo{FullMethod: "/library.v1.Library/WatchShelf", IsServerStream: true}
	err = ic(nil, &serverStream{ctx: context.Background()}, info, func(any, grpc.ServerStream) error {
		fmt.Println("in flight during the call:", l.InFlight())
		return nil
	})
	fmt.Println(err, l.InFlight())
	// Output:
	// in flight during the call: 1
	// <nil> 0
}

package recovery_test

import (
	"context"
	"fmt"
	"log/slog"

	"google.golang.org/grpc"

	"github.com/sluice-dev/sluice/interceptors/recovery"
)

// serverStream stands in for the call's stream; the interceptor needs
// only its context.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }

// A panic below the interceptor ends the call with INTERNAL instead of the
// process; the panic and its stack go to the logger only.
func ExampleStreamServerInterceptor() {
	ic := recovery.StreamServerInterceptor(recovery.WithLogger(slog.New(slog.DiscardHandler)))
	info := &grpc.StreamServerInfo{FullMethod: "/library.v1.Library/GetBook"}
	err := ic(nil, &serverStream{ctx: context.Background()}, info, func(any, grpc.ServerStream) error {
		panic("bug")
	})
	fmt.Println(err)
	// Output: rpc error: code = Internal desc = internal error
}

func ExampleUnaryServerInterceptor() {
	ic := recovery.UnaryServerInterceptor()
	info := &grpc.UnaryServerInfo{FullMethod: "/grpc.health.v1.Health/Check"}
	_, err := ic(context.Background(), nil, info, func(context.Context, any) (any, error) {
		panic("bug")
	})
	fmt.Println(err)
	// Output: rpc error: code = Internal desc = internal error
}

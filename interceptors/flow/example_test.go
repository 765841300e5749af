package flow_test

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc"

	"github.com/sluice-dev/sluice/interceptors/flow"
)

// serverStream stands in for the call's stream.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }

// Clients that stop reading are cut after 30s, and uploads are paced to
// 100 messages a second per stream with messages of at most 1 MiB.
func ExampleNew() {
	c, err := flow.New(
		flow.WithSendStallTimeout(30*time.Second),
		flow.WithRule(flow.Rule{Methods: []string{"library.v1.Library.Upload*"}, MaxRecvMsgSize: 1 << 20, MessagesPerSecond: 100, Burst: 10}))
	if err != nil {
		panic(err)
	}
	ic := c.StreamServerInterceptor()
	info := &grpc.StreamServerInfo{FullMethod: "/library.v1.Library/UploadBooks", IsClientStream: true}
	err = ic(nil, &serverStream{ctx: context.Background()}, info, func(any, grpc.ServerStream) error { return nil })
	fmt.Println(err)
	// Output: <nil>
}

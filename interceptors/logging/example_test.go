package logging_test

import (
	"context"
	"log/slog"
	"os"
	"time"

	"google.golang.org/grpc"

	"github.com/sluice-dev/sluice/interceptors/logging"
)

// serverStream stands in for the call's stream.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }

// One line per call, when it ends. The clock is fixed here so that the
// output does not vary; the time attribute is left out for the same reason.
func ExampleStreamServerInterceptor() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ic := logging.StreamServerInterceptor(logger, logging.WithClock(func() time.Time { return now }))
	info := &grpc.StreamServerInfo{FullMethod: "/library.v1.Library/GetBook"}
	_ = ic(nil, &serverStream{ctx: context.Background()}, info, func(any, grpc.ServerStream) error { return nil })
	// Output: level=INFO msg=call method=/library.v1.Library/GetBook protocol=grpc peer="" code=OK duration=0s bytes_in=0 bytes_out=0 msgs_in=0 msgs_out=0
}

// Package logging writes one structured line per call: method, protocol,
// peer, status code, duration and the bytes each way.
//
// It sits near the front of the chain so the line reflects what the client
// saw, including refusals by later policies. Because REST and gRPC-Web
// calls travel the same chain, the line for a call is the same whatever
// protocol it came in on, but for the protocol field.
package logging

import (
	"context"
	"log/slog"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-dev/sluice/protocol"
)

// Option configures the interceptor.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	now   func() time.Time
	level func(codes.Code) slog.Level
}

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option {
	return optionFunc(func(c *config) { c.now = now })
}

// WithLevels chooses the log level by status code. The default logs
// server-side failures (Internal, Unknown, DataLoss, Unavailable,
// DeadlineExceeded, Unimplemented) at WARN and everything else at INFO.
func WithLevels(f func(codes.Code) slog.Level) Option {
	return optionFunc(func(c *config) { c.level = f })
}

func defaultLevel(c codes.Code) slog.Level {
	switch c {
	case codes.Internal, codes.Unknown, codes.DataLoss, codes.Unavailable, codes.DeadlineExceeded, codes.Unimplemented:
		return slog.LevelWarn
	}
	return slog.LevelInfo
}

// StreamServerInterceptor logs every call to logger when it ends. A nil
// logger discards the lines.
func StreamServerInterceptor(logger *slog.Logger, opts ...Option) grpc.StreamServerInterceptor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &config{now: time.Now, level: defaultLevel}
	for _, o := range opts {
		o.apply(c)
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := c.now()
		counted := &countingStream{ServerStream: ss}
		err := handler(srv, counted)
		ctx := ss.Context()
		st := status.Convert(err)
		level := c.level(st.Code())
		if !logger.Enabled(ctx, level) {
			return err // build no line nobody reads
		}
		attrs := []slog.Attr{
			slog.String("method", info.FullMethod),
			slog.String("protocol", string(protocol.FromContext(ctx))),
			slog.String("peer", peerAddr(ctx)),
			slog.String("code", st.Code().String()),
			slog.Duration("duration", c.now().Sub(start)),
			slog.Int64("bytes_in", counted.in.Load()),
			slog.Int64("bytes_out", counted.out.Load()),
			slog.Int64("msgs_in", counted.msgsIn.Load()),
			slog.Int64("msgs_out", counted.msgsOut.Load()),
		}
		if err != nil {
			attrs = append(attrs, slog.String("error", st.Message()))
		}
		logger.LogAttrs(ctx, level, "call", attrs...)
		return err
	}
}

func peerAddr(ctx context.Context) string {
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return ""
}

// sized is what the proxy's frames implement.
type sized interface{ Len() int }

func messageSize(m any) int64 {
	switch v := m.(type) {
	case sized:
		return int64(v.Len())
	case proto.Message:
		return int64(proto.Size(v))
	}
	return 0
}

// countingStream counts messages and bytes. The proxy receives on one
// goroutine and sends on another, hence the atomics.
type countingStream struct {
	grpc.ServerStream
	in, out         atomic.Int64
	msgsIn, msgsOut atomic.Int64
}

func (s *countingStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.msgsIn.Add(1)
		s.in.Add(messageSize(m))
	}
	return err
}

func (s *countingStream) SendMsg(m any) error {
	// Measure first: sending a frame hands its buffers to grpc-go.
	n := messageSize(m)
	err := s.ServerStream.SendMsg(m)
	if err == nil {
		s.msgsOut.Add(1)
		s.out.Add(n)
	}
	return err
}

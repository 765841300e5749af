// Package logging writes one structured line per call, the access log:
// method, protocol, peer, status code, duration, the bytes and messages
// each way, and, when the call has a telemetry.Call, its request id, the
// authenticated subject, the policy that refused it, the upstream and the
// address and number of its attempts; the trace id when the call is
// traced; the HTTP status for REST calls. docs/observability.md lists
// every field.
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

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/protocol"
	"github.com/sluice-dev/sluice/telemetry"
)

// Option configures the interceptor.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	now        func() time.Time
	level      func(codes.Code) slog.Level
	httpStatus func(codes.Code) int
}

// WithHTTPStatus sets the HTTP status a REST call's status code answers
// with (httpstatus.FromCode), logged as http_status; without it REST
// lines have none.
func WithHTTPStatus(f func(codes.Code) int) Option {
	return optionFunc(func(c *config) { c.httpStatus = f })
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
		ctx := ss.Context()
		call := telemetry.FromContext(ctx)
		var counted *countingStream
		var err error
		if call == nil {
			// No record to read the counts from: count here.
			counted = &countingStream{ServerStream: ss}
			err = handler(srv, counted)
		} else {
			err = handler(srv, ss)
		}
		st := status.Convert(err)
		level := c.level(st.Code())
		if !logger.Enabled(ctx, level) {
			return err // build no line nobody reads
		}
		p := protocol.FromContext(ctx)
		attrs := make([]slog.Attr, 0, 20)
		attrs = append(attrs,
			slog.String("method", info.FullMethod),
			slog.String("protocol", string(p)),
			slog.String("peer", peerAddr(ctx)),
			slog.String("code", st.Code().String()),
			slog.Duration("duration", c.now().Sub(start)))
		if call != nil {
			msgsIn, in := call.Received()
			msgsOut, out := call.Sent()
			attrs = append(attrs,
				slog.Int64("bytes_in", in), slog.Int64("bytes_out", out),
				slog.Int64("msgs_in", msgsIn), slog.Int64("msgs_out", msgsOut),
				slog.String("request_id", call.RequestID()))
		} else {
			attrs = append(attrs,
				slog.Int64("bytes_in", counted.in.Load()), slog.Int64("bytes_out", counted.out.Load()),
				slog.Int64("msgs_in", counted.msgsIn.Load()), slog.Int64("msgs_out", counted.msgsOut.Load()))
		}
		if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
			attrs = append(attrs, slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
		}
		if p == protocol.REST && c.httpStatus != nil {
			attrs = append(attrs, slog.Int("http_status", c.httpStatus(st.Code())))
		}
		if call != nil {
			if sub := call.Subject(); sub != "" {
				attrs = append(attrs, slog.String("subject", sub))
			}
			if policy, reason := call.Refusal(); policy != "" {
				attrs = append(attrs, slog.String("refused_by", policy), slog.String("refusal", reason))
			}
			if name, addr, n := call.Upstream(); n > 0 {
				attrs = append(attrs, slog.String("upstream", name), slog.String("upstream_addr", addr), slog.Int("attempts", n))
			}
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
		s.in.Add(telemetry.MessageSize(m))
	}
	return err
}

func (s *countingStream) SendMsg(m any) error {
	// Measure first: sending a frame hands its buffers to grpc-go.
	n := telemetry.MessageSize(m)
	err := s.ServerStream.SendMsg(m)
	if err == nil {
		s.msgsOut.Add(1)
		s.out.Add(n)
	}
	return err
}

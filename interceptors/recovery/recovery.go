// Package recovery turns a panic in a call into an INTERNAL status for that
// call alone, so one bad request or one bug never takes the gateway down.
//
// It belongs first in the chain, so it also covers every interceptor after
// it. Panics in goroutines that a handler starts (such as the proxy's
// request pump) are not visible here; those goroutines recover on their
// own.
package recovery

import (
	"context"
	"fmt"
	"log/slog"
	"runtime/debug"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Option configures the interceptor.
type Option interface{ apply(*config) }

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	logger *slog.Logger
}

// WithLogger sets where panics are reported, with their stack. The default
// discards them.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) { c.logger = l })
}

// StreamServerInterceptor recovers panics raised while handling a streaming
// call (every proxied call is one) and returns INTERNAL. The client sees
// only "internal error": the panic value may hold data it must not see.
func StreamServerInterceptor(opts ...Option) grpc.StreamServerInterceptor {
	c := newConfig(opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
		defer func() {
			if r := recover(); r != nil {
				err = c.recovered(ss.Context(), info.FullMethod, r)
			}
		}()
		return handler(srv, ss)
	}
}

// UnaryServerInterceptor is the unary twin, for the gateway's own unary
// services (health).
func UnaryServerInterceptor(opts ...Option) grpc.UnaryServerInterceptor {
	c := newConfig(opts)
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		defer func() {
			if r := recover(); r != nil {
				resp, err = nil, c.recovered(ctx, info.FullMethod, r)
			}
		}()
		return handler(ctx, req)
	}
}

func newConfig(opts []Option) *config {
	c := &config{logger: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o.apply(c)
	}
	return c
}

func (c *config) recovered(ctx context.Context, method string, r any) error {
	c.logger.ErrorContext(ctx, "panic while handling call",
		"method", method, "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
	return status.Error(codes.Internal, "internal error")
}

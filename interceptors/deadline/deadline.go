// Package deadline gives every call the deadline the gateway's
// configuration allows: a per-method default when the caller sets none, a
// maximum that clamps what callers ask, and an offset kept back from the
// upstream so that the gateway can still answer before the caller gives
// up. The upstream receives the remaining deadline.
//
// gRPC callers set grpc-timeout, which grpc-go has already turned into the
// context's deadline (and refuses itself when malformed). Adapted calls
// (REST) carry the caller's Grpc-Timeout and X-Request-Timeout headers as
// metadata; they are parsed strictly with grpctimeout.Parse and a malformed,
// empty or repeated value is INVALID_ARGUMENT. A call whose deadline
// passes ends with DEADLINE_EXCEEDED.
package deadline

import (
	"context"
	"errors"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/grpctimeout"
	"github.com/sluice-dev/sluice/methodpattern"
)

// timeoutKeys are the metadata keys whose values grpctimeout.Parse reads as the
// caller's timeout, for calls that arrive as metadata rather than as
// native gRPC (native gRPC clients' grpc-timeout never reaches metadata).
var timeoutKeys = []string{"grpc-timeout", "x-request-timeout"}

// Limits are the deadline values of some methods. Zero means none.
type Limits struct {
	Default time.Duration
	Max     time.Duration
	Offset  time.Duration
}

// Deadlines is a compiled deadline configuration. It is immutable and safe
// for concurrent use.
type Deadlines struct {
	def   Limits
	table methodpattern.Table[Limits]
	now   func() time.Time
}

// New validates cfg and compiles it.
func New(cfg config.Deadline) (*Deadlines, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	d := &Deadlines{
		def: Limits{time.Duration(cfg.Default), time.Duration(cfg.Max), time.Duration(cfg.Offset)},
		now: time.Now,
	}
	for _, r := range cfg.Rules {
		lim := Limits{time.Duration(r.Default), time.Duration(r.Max), time.Duration(r.Offset)}
		for _, p := range r.Methods {
			if err := d.table.Add(p, lim); err != nil {
				return nil, err
			}
		}
	}
	return d, nil
}

// For returns the limits of fullMethod ("/pkg.Service/Method"): those of
// the most specific matching rule, or the top-level ones.
func (d *Deadlines) For(fullMethod string) Limits {
	if lim, ok := d.table.Lookup(fullMethod); ok {
		return lim
	}
	return d.def
}

// callerTimeout returns the shortest timeout the caller asked for in
// metadata, or false when it asked for none.
func callerTimeout(md metadata.MD) (time.Duration, bool, error) {
	var (
		shortest time.Duration
		found    bool
	)
	for _, k := range timeoutKeys {
		vals := md.Get(k)
		switch len(vals) {
		case 0:
			continue
		case 1:
		default:
			return 0, false, status.Errorf(codes.InvalidArgument, "%s is given %d times; give it once", k, len(vals))
		}
		t, err := grpctimeout.Parse(vals[0])
		if err != nil {
			return 0, false, status.Errorf(codes.InvalidArgument, "%s: %v", k, err)
		}
		if !found || t < shortest {
			shortest, found = t, true
		}
	}
	return shortest, found, nil
}

// StreamServerInterceptor returns the interceptor. It belongs after
// authorization and limits, right before the proxy, so that the time the
// earlier policies take counts against the caller, not the upstream.
func (d *Deadlines) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		md, _ := metadata.FromIncomingContext(ctx)
		asked, hasAsked, err := callerTimeout(md)
		if err != nil {
			return err
		}
		lim := d.For(info.FullMethod)
		now := d.now()

		var remaining time.Duration
		has := false
		if dl, ok := ctx.Deadline(); ok {
			remaining, has = dl.Sub(now), true
		}
		if hasAsked && (!has || asked < remaining) {
			remaining, has = asked, true
		}
		if !has && lim.Default > 0 {
			remaining, has = lim.Default, true
		}
		if lim.Max > 0 && (!has || remaining > lim.Max) {
			remaining, has = lim.Max, true
		}
		if !has {
			return handler(srv, ss)
		}
		remaining -= lim.Offset
		if remaining <= 0 {
			return status.Errorf(codes.DeadlineExceeded, "deadline too short for %s: nothing left for the upstream", info.FullMethod)
		}
		cctx, cancel := context.WithDeadline(ctx, now.Add(remaining))
		defer cancel()
		err = handler(srv, &stream{ServerStream: ss, ctx: cctx})
		if err != nil && errors.Is(cctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil {
			// Our deadline (shorter than the caller's by the offset) ended
			// the call: that is a deadline, whatever the upstream said.
			return status.Errorf(codes.DeadlineExceeded, "deadline exceeded calling %s", info.FullMethod)
		}
		return err
	}
}

// stream carries the call's new deadline.
type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }

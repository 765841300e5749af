// Package deadline gives every call the deadline its limits allow: a
// per-method default when the caller sets none, a maximum that clamps what
// callers ask, and an offset kept back from the upstream so that the
// gateway can still answer before the caller gives up. The upstream
// receives the remaining deadline.
//
// gRPC callers set grpc-timeout, which grpc-go has already turned into the
// context's deadline (and refuses itself when malformed); the REST adapter
// does the same with a Grpc-Timeout header. A caller's X-Request-Timeout
// (and a grpc-timeout that an adapter leaves in metadata) is read here,
// strictly with grpctimeout.Parse: a malformed, empty or repeated value is
// INVALID_ARGUMENT. A call whose deadline passes ends with
// DEADLINE_EXCEEDED.
package deadline

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/grpctimeout"
	"github.com/sluice-dev/sluice/methodpattern"
)

// timeoutKeys are the metadata keys whose values grpctimeout.Parse reads as
// the caller's timeout. grpc-timeout only reaches metadata through an
// adapter that leaves it there (grpc-go and the REST adapter turn it into
// the context's deadline); X-Request-Timeout arrives as metadata from REST.
var timeoutKeys = []string{"grpc-timeout", "x-request-timeout"}

// Limits are the deadline values of some methods. Zero means none.
type Limits struct {
	Default time.Duration
	Max     time.Duration
	Offset  time.Duration
	// MaxStreamDuration bounds how long a call stays open, whatever its
	// deadline; IdleTimeout ends a call no message crossed for that long.
	MaxStreamDuration time.Duration
	IdleTimeout       time.Duration
}

// Deadlines is a compiled deadline configuration. It is immutable and safe
// for concurrent use.
type Deadlines struct {
	def   Limits
	table methodpattern.Table[Limits]
	now   func() time.Time
}

// Rule gives the limits of the methods its patterns match. A rule gives
// every value: zero means none, not the limits outside rules.
type Rule struct {
	// Methods are method patterns (methodpattern); a pattern may appear
	// in one rule only.
	Methods []string
	Limits  Limits
}

// Option configures Deadlines.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	def   Limits
	rules []Rule
}

// WithLimits sets the limits of methods no rule matches (default: none).
func WithLimits(l Limits) Option { return optionFunc(func(o *options) { o.def = l }) }

// WithRules adds per-method limits; the most specific matching pattern
// wins. Repeated options add up.
func WithRules(rules ...Rule) Option {
	return optionFunc(func(o *options) { o.rules = append(o.rules, rules...) })
}

// New checks the limits and compiles them.
func New(opts ...Option) (*Deadlines, error) {
	var o options
	for _, opt := range opts {
		opt.apply(&o)
	}
	if err := o.def.Validate(); err != nil {
		return nil, fmt.Errorf("deadline: %w", err)
	}
	d := &Deadlines{def: o.def, now: time.Now}
	for i, r := range o.rules {
		if err := r.Limits.Validate(); err != nil {
			return nil, fmt.Errorf("deadline: rules[%d]: %w", i, err)
		}
		if len(r.Methods) == 0 {
			return nil, fmt.Errorf("deadline: rules[%d]: no method pattern", i)
		}
		for _, p := range r.Methods {
			if err := d.table.Add(p, r.Limits); err != nil {
				return nil, fmt.Errorf("deadline: rules[%d]: %w", i, err)
			}
		}
	}
	return d, nil
}

// FieldError is one invalid value of Limits, named as in sluice's
// configuration file ("default", "offset").
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Validate reports every value of l that is negative or contradicts
// another (a default beyond the maximum, an offset that leaves the upstream
// no time), each as a *FieldError, joined. It is the one check of these
// values: New calls it, and so does the configuration file's validation,
// which puts its own path in front of the field.
func (l Limits) Validate() error {
	var errs []error
	add := func(field, problem string) { errs = append(errs, &FieldError{Field: field, Problem: problem}) }
	for _, v := range []struct {
		field string
		d     time.Duration
	}{{"default", l.Default}, {"max", l.Max}, {"offset", l.Offset}, {"max_stream_duration", l.MaxStreamDuration}, {"idle_timeout", l.IdleTimeout}} {
		if v.d < 0 {
			add(v.field, "must not be negative")
		}
	}
	if l.Default > 0 && l.Max > 0 && l.Default > l.Max {
		add("default", fmt.Sprintf("must not exceed max (%s), got %s", short(l.Max), short(l.Default)))
	}
	if l.Offset > 0 {
		if l.Default > 0 && l.Offset >= l.Default {
			add("offset", fmt.Sprintf("must be shorter than default (%s), got %s", short(l.Default), short(l.Offset)))
		}
		if l.Max > 0 && l.Offset >= l.Max {
			add("offset", fmt.Sprintf("must be shorter than max (%s), got %s", short(l.Max), short(l.Offset)))
		}
	}
	return errors.Join(errs...)
}

// short formats d as the configuration file writes it: "2h" rather than
// "2h0m0s".
func short(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
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
func callerTimeout(ctx context.Context) (time.Duration, bool, error) {
	var (
		shortest time.Duration
		found    bool
	)
	for _, k := range timeoutKeys {
		// One key at a time: copying the whole metadata for a key that is
		// rarely there would cost every call.
		vals := metadata.ValueFromIncomingContext(ctx, k)
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
		asked, hasAsked, err := callerTimeout(ctx)
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
		if has {
			remaining -= lim.Offset
			if remaining <= 0 {
				return status.Errorf(codes.DeadlineExceeded, "deadline too short for %s: nothing left for the upstream", info.FullMethod)
			}
		}
		// The stream duration caps the call like a deadline, so the
		// upstream is told; it is not reduced by the offset.
		if lim.MaxStreamDuration > 0 && (!has || remaining > lim.MaxStreamDuration) {
			remaining, has = lim.MaxStreamDuration, true
		}
		if !has && lim.IdleTimeout <= 0 {
			return handler(srv, ss)
		}
		cctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		if has {
			var stop context.CancelFunc
			cctx, stop = context.WithDeadline(cctx, now.Add(remaining))
			defer stop()
		}
		st := &stream{ServerStream: ss, ctx: cctx}
		if lim.IdleTimeout > 0 {
			stopIdle := st.watchIdle(lim.IdleTimeout, func() { cancel(errIdle) })
			defer stopIdle()
		}
		err = handler(srv, st)
		switch {
		case err == nil:
			return nil
		case errors.Is(context.Cause(cctx), errIdle):
			return status.Errorf(codes.Canceled, "%s: no message either way for %v: the gateway ended the idle call", info.FullMethod, lim.IdleTimeout)
		case errors.Is(cctx.Err(), context.DeadlineExceeded):
			// Our deadline (shorter than the caller's by the offset, or the
			// stream duration) ended the call: that is a deadline,
			// whatever the upstream said.
			return status.Errorf(codes.DeadlineExceeded, "deadline exceeded calling %s", info.FullMethod)
		}
		// Anything else, including the caller going away, is the
		// handler's to report. (Ending a call on the wire cancels the
		// caller's context too, so our own causes are checked first.)
		return err
	}
}

// errIdle is the cause of a call the idle timeout ended.
var errIdle = errors.New("idle timeout")

// stream carries the call's new deadline and, with an idle timeout, notes
// when a message last crossed it.
type stream struct {
	grpc.ServerStream
	ctx  context.Context
	last atomic.Int64 // unix nanoseconds of the last message either way
}

func (s *stream) Context() context.Context { return s.ctx }

func (s *stream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.last.Store(time.Now().UnixNano())
	}
	return err
}

func (s *stream) SendMsg(m any) error {
	err := s.ServerStream.SendMsg(m)
	if err == nil {
		s.last.Store(time.Now().UnixNano())
	}
	return err
}

// watchIdle calls expire once no message has crossed the stream for idle.
// A single timer is re-armed from the last message's time, so messages
// cost one atomic store. The returned func stops the watch.
func (s *stream) watchIdle(idle time.Duration, expire func()) (stop func()) {
	s.last.Store(time.Now().UnixNano())
	var (
		mu      sync.Mutex
		stopped bool
		t       *time.Timer
	)
	check := func() {
		mu.Lock()
		defer mu.Unlock()
		if stopped {
			return
		}
		since := time.Since(time.Unix(0, s.last.Load()))
		if since >= idle {
			stopped = true
			expire()
			return
		}
		t.Reset(idle - since)
	}
	mu.Lock()
	t = time.AfterFunc(idle, check)
	mu.Unlock()
	return func() {
		mu.Lock()
		defer mu.Unlock()
		stopped = true
		t.Stop()
	}
}

package protocol

import (
	"context"
	"errors"
)

type endKey struct{}

// WithEnd returns a copy of ctx that records how to end the call on its
// client's wire. The edge that accepted the call (an HTTP adapter, or
// EndableContext for grpc-go's transport) installs end; it must make
// every read from and write to the client that is blocked, or comes later,
// return promptly, must be safe to call more than once and from any
// goroutine, and gets the cause the call ends for.
//
// Why: a policy ends a call by cancelling the context it hands down, but
// the handler may be blocked on the client's own stream (a unary request
// whose last bytes never come), which only the edge can unblock. Without
// this, a deadline would end the call in the gateway's bookkeeping and
// leave it open on the wire.
func WithEnd(ctx context.Context, end func(cause error)) context.Context {
	return context.WithValue(ctx, endKey{}, end)
}

// EndableContext returns a context derived from parent that can be ended
// as WithEnd describes, by cancelling it: grpc-go's server transport
// unblocks reads and writes once a stream's context is done. When the
// cause is a deadline, the context's Err is context.DeadlineExceeded, so
// that grpc-go, which words the status of a call whose read failed from
// its context, tells the client DEADLINE_EXCEEDED rather than CANCELLED.
func EndableContext(parent context.Context) context.Context {
	inner, cancel := context.WithCancelCause(parent)
	return &endableContext{Context: inner, end: (func(error))(cancel)}
}

// endableContext is a cancel context whose Err reports a deadline when it
// was ended for one. Values, Done and cancellation of derived contexts are
// the inner context's (derived contexts attach to it directly, with no
// goroutine).
type endableContext struct {
	context.Context
	end func(cause error) // the inner context's CancelCauseFunc
}

func (c *endableContext) Err() error {
	err := c.Context.Err()
	if err != nil && errors.Is(context.Cause(c.Context), context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return err
}

func (c *endableContext) Value(key any) any {
	if _, ok := key.(endKey); ok {
		return c.end
	}
	return c.Context.Value(key)
}

// EndWhenDone ends the call recorded in ctx on its client's wire (see
// WithEnd) as soon as ctx is done, with ctx's cause: the proxy calls it
// with the context the policies handed it, so that their deadlines, idle
// and stall timeouts reach the transport. The returned stop undoes it;
// call it when the call ends normally. Without a recorded end it does
// nothing.
func EndWhenDone(ctx context.Context) (stop func() bool) {
	end, _ := ctx.Value(endKey{}).(func(error))
	if end == nil {
		return noStop
	}
	return context.AfterFunc(ctx, func() { end(context.Cause(ctx)) })
}

func noStop() bool { return true }

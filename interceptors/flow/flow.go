package flow

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/debug"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-dev/sluice/frame"
	"github.com/sluice-dev/sluice/interceptors/callkey"
	"github.com/sluice-dev/sluice/methodpattern"
)

// Rule sets the message limits of the methods its patterns match.
type Rule struct {
	// Methods are method patterns, as for upstreams: a package, service or
	// method full name, a prefix ending in "*", or "*". A stream is held
	// to the rule of its most specific matching pattern, and to no other.
	Methods []string
	// MaxRecvMsgSize bounds one message from the client, in bytes after
	// decompression; 0 leaves only the server-wide limit, which grpc-go
	// enforces while decompressing. Larger messages end the call with
	// RESOURCE_EXHAUSTED.
	MaxRecvMsgSize int
	// MaxSendMsgSize bounds one message to the client (that is, from the
	// upstream); 0 leaves only the server-wide limit.
	MaxSendMsgSize int
	// MessagesPerSecond paces the messages read from the client on each
	// stream; 0 means no pacing.
	MessagesPerSecond float64
	// MessagesPerSecondPerKey paces the messages read from the client on
	// all the streams of one key (see WithKey) to the matched methods
	// together; 0 means no pacing. The key's budget lives while it has
	// streams open.
	MessagesPerSecondPerKey float64
	// Burst is how many messages may be read back to back before pacing
	// sets in, for both rates; 0 means 1.
	Burst int
}

// KeyFunc names the party whose streams share a per-key message rate. It
// returns false when a call has no key; such a call is paced per stream
// only. It is callkey.Func, shared with the other per-key policies.
type KeyFunc = callkey.Func

// Option configures a Controller.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	stall time.Duration
	key   KeyFunc
	rules []Rule
}

// WithSendStallTimeout ends a call with DEADLINE_EXCEEDED when the client
// accepts no message for d, so a client that stops reading cannot pin an
// upstream stream (and the gateway's buffers) forever. 0 (the default)
// disables it. Each message gets d anew: a slow but moving reader is
// never cut.
func WithSendStallTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.stall = d })
}

// WithKey sets what MessagesPerSecondPerKey counts against.
func WithKey(k KeyFunc) Option {
	return optionFunc(func(o *options) { o.key = k })
}

// WithRule adds message limits for a set of methods. No pattern may be
// given by two rules.
func WithRule(r Rule) Option {
	return optionFunc(func(o *options) { o.rules = append(o.rules, r) })
}

// Controller applies the flow limits to every stream of the chain. It is
// safe for concurrent use; per-key budgets are shared by all the calls it
// sees, so build one per gateway.
type Controller struct {
	stall time.Duration
	key   KeyFunc
	rules methodpattern.Table[*compiledRule]
}

type compiledRule struct {
	maxRecv, maxSend int
	perStream        rate.Limit // 0: none
	burst            int
	keyed            *callkey.Map[*rate.Limiter] // one per key while its streams are open; nil: none
}

// New returns a Controller, or an error naming every invalid setting.
func New(opts ...Option) (*Controller, error) {
	var o options
	for _, opt := range opts {
		opt.apply(&o)
	}
	var errs []error
	if o.stall < 0 {
		errs = append(errs, errors.New("flow: send stall timeout must not be negative"))
	}
	c := &Controller{stall: o.stall, key: o.key}
	needKey := false
	for i, r := range o.rules {
		if len(r.Methods) == 0 {
			errs = append(errs, fmt.Errorf("flow: rule %d has no method pattern", i))
		}
		if r.MaxRecvMsgSize < 0 || r.MaxSendMsgSize < 0 || r.Burst < 0 || !validRate(r.MessagesPerSecond) || !validRate(r.MessagesPerSecondPerKey) {
			errs = append(errs, fmt.Errorf("flow: rule %d: sizes, rates and burst must be finite and not negative", i))
			continue
		}
		cr := &compiledRule{
			maxRecv:   r.MaxRecvMsgSize,
			maxSend:   r.MaxSendMsgSize,
			perStream: rate.Limit(r.MessagesPerSecond),
			burst:     max(r.Burst, 1),
		}
		if r.MessagesPerSecondPerKey > 0 {
			perKey, burst := rate.Limit(r.MessagesPerSecondPerKey), cr.burst
			cr.keyed = callkey.NewMap(func() *rate.Limiter { return rate.NewLimiter(perKey, burst) })
			needKey = true
		}
		for _, p := range r.Methods {
			if err := c.rules.Add(p, cr); err != nil {
				errs = append(errs, fmt.Errorf("flow: rule %d: %w", i, err))
			}
		}
	}
	if needKey && o.key == nil {
		errs = append(errs, errors.New("flow: a per-key message rate needs a key (WithKey)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

func validRate(r float64) bool { return r >= 0 && !math.IsInf(r, 0) && !math.IsNaN(r) }

// StreamServerInterceptor applies the limits of each call's method. Calls
// that no rule matches, when no stall timeout is set, pass untouched.
func (c *Controller) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		rule, _ := c.rules.Lookup(info.FullMethod)
		if rule == nil && c.stall <= 0 {
			return handler(srv, ss)
		}
		s := &stream{ServerStream: ss, method: info.FullMethod}
		if rule != nil {
			s.maxRecv, s.maxSend = rule.maxRecv, rule.maxSend
			if rule.perStream > 0 {
				s.limiters[0] = rate.NewLimiter(rule.perStream, rule.burst)
			}
			if rule.keyed != nil && c.key != nil {
				if key, ok := c.key(ss.Context(), info.FullMethod); ok {
					e := rule.keyed.Acquire(key)
					defer rule.keyed.Release(e)
					s.limiters[1] = e.Value
				}
			}
		}
		if c.stall > 0 && info.IsServerStream {
			// Only a stream's sends can stall: the one answer of a unary or
			// client-streaming call cannot, since grpc-go's server transport
			// takes a call's first message without waiting for the peer (a
			// stream's write quota starts at 64 KiB and a send proceeds
			// while any is left) and the REST adapter keeps such an answer
			// until the chain has returned.
			return s.runWatched(srv, handler, c.stall)
		}
		return handler(srv, s)
	}
}

// runWatched runs the rest of the chain on a goroutine of its own and
// returns DEADLINE_EXCEEDED as soon as one send has waited for the client
// longer than stall. A send blocked in the transport cannot be called off;
// returning is what ends it: the call's context is cancelled at once (so
// the upstream call is too), and when the interceptors have returned the
// transport finishes the stream, which releases the blocked send and lets
// the goroutine end. One goroutine and one timer per stream, rather than
// one per message, keep long streams cheap.
func (s *stream) runWatched(srv any, handler grpc.StreamHandler, stall time.Duration) error {
	ctx, cancel := context.WithCancel(s.ServerStream.Context())
	defer cancel()
	s.ctx = ctx
	w := &stallWatch{stall: stall, fired: make(chan struct{})}
	w.timer = time.AfterFunc(time.Hour, func() { close(w.fired) })
	w.timer.Stop()
	s.watch = w
	done := make(chan handlerResult, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- handlerResult{panicked: &handlerPanic{value: p, stack: debug.Stack()}}
			}
		}()
		done <- handlerResult{err: handler(srv, s)}
	}()
	select {
	case r := <-done:
		w.timer.Stop()
		if r.panicked != nil {
			// Panic on the interceptor's goroutine, where the recovery
			// interceptor can catch it, with the original stack.
			panic(r.panicked)
		}
		return r.err
	case <-w.fired:
		return w.err()
	}
}

// handlerResult is how the chain's goroutine ended.
type handlerResult struct {
	err      error
	panicked *handlerPanic
}

// handlerPanic carries a panic of the chain's goroutine, and where it
// happened, to the interceptor's goroutine.
type handlerPanic struct {
	value any
	stack []byte
}

func (p *handlerPanic) String() string { return fmt.Sprintf("%v\n\n%s", p.value, p.stack) }

// stallWatch times each send of one stream.
type stallWatch struct {
	stall time.Duration
	timer *time.Timer   // armed while a send is under way
	fired chan struct{} // closed when a send outlived stall
}

func (w *stallWatch) err() error {
	return status.Errorf(codes.DeadlineExceeded, "send stalled: the client accepted no data for %v", w.stall)
}

// send sends m through ss with the timer armed. A send that outlived the
// stall fails: the interceptor has already ended the call.
func (w *stallWatch) send(ss grpc.ServerStream, m any) error {
	select {
	case <-w.fired:
		return w.err()
	default:
	}
	w.timer.Reset(w.stall)
	err := ss.SendMsg(m)
	if !w.timer.Stop() {
		return w.err()
	}
	return err
}

// stream applies the limits to one call. Like any grpc.ServerStream, it
// takes one RecvMsg and one SendMsg caller at a time.
type stream struct {
	grpc.ServerStream
	method           string
	maxRecv, maxSend int
	limiters         [2]*rate.Limiter // per stream, per key; nil: none
	paceTimer        *time.Timer

	ctx   context.Context // with a stall watch: the call's, cancelled when a send stalls
	watch *stallWatch     // nil: sends are not watched
}

// Context returns the call's context; with a stall watch, one that is
// cancelled as soon as a send stalls.
func (s *stream) Context() context.Context {
	if s.ctx != nil {
		return s.ctx
	}
	return s.ServerStream.Context()
}

func (s *stream) RecvMsg(m any) error {
	for _, l := range s.limiters {
		if l == nil {
			continue
		}
		// Waiting before the read leaves the next message in the HTTP/2
		// window: the sender is slowed by flow control, nothing is buffered.
		if err := s.pace(l); err != nil {
			return err
		}
	}
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	if s.maxRecv > 0 {
		if n, ok := size(m); ok && n > s.maxRecv {
			if f, ok := m.(*frame.Frame); ok {
				f.Free()
			}
			return status.Errorf(codes.ResourceExhausted, "request message of %d bytes is larger than the %d bytes allowed for %s", n, s.maxRecv, s.method)
		}
	}
	return nil
}

func (s *stream) SendMsg(m any) error {
	if s.maxSend > 0 {
		if n, ok := size(m); ok && n > s.maxSend {
			return status.Errorf(codes.ResourceExhausted, "response message of %d bytes is larger than the %d bytes allowed for %s", n, s.maxSend, s.method)
		}
	}
	if s.watch == nil {
		return s.ServerStream.SendMsg(m)
	}
	return s.watch.send(s.ServerStream, m)
}

// size reports the encoded size of m when it can be known without
// encoding it.
func size(m any) (int, bool) {
	switch v := m.(type) {
	case *frame.Frame:
		return v.Len(), true
	case proto.Message:
		return proto.Size(v), true
	}
	return 0, false
}

// pace waits until l allows one more message, or fails at once when the
// call's deadline would pass first.
func (s *stream) pace(l *rate.Limiter) error {
	r := l.Reserve()
	if !r.OK() { // only when the burst is 0, which New rules out
		return status.Error(codes.ResourceExhausted, "message rate: no message is ever allowed")
	}
	d := r.Delay()
	if d == 0 {
		return nil
	}
	ctx := s.Context()
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < d {
		r.Cancel()
		return status.Errorf(codes.DeadlineExceeded, "message rate: the next message is allowed in %v, after the call's deadline", d)
	}
	if s.paceTimer == nil {
		s.paceTimer = time.NewTimer(d)
	} else {
		s.paceTimer.Reset(d)
	}
	select {
	case <-s.paceTimer.C:
		return nil
	case <-ctx.Done():
		s.paceTimer.Stop()
		r.Cancel()
		return status.FromContextError(ctx.Err()).Err()
	}
}

package flow

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"golang.org/x/time/rate"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-dev/sluice/methodpattern"
	"github.com/sluice-dev/sluice/server/frame"
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
// only. It must be safe for concurrent use.
type KeyFunc func(ctx context.Context, fullMethod string) (key string, ok bool)

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
	keyed            *keyedLimiters // nil: none
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
			cr.keyed = newKeyedLimiters(rate.Limit(r.MessagesPerSecondPerKey), cr.burst)
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
		s := &stream{ServerStream: ss, method: info.FullMethod, stall: c.stall, watchFirst: info.IsServerStream}
		if rule != nil {
			s.maxRecv, s.maxSend = rule.maxRecv, rule.maxSend
			if rule.perStream > 0 {
				s.limiters[0] = rate.NewLimiter(rule.perStream, rule.burst)
			}
			if rule.keyed != nil && c.key != nil {
				if key, ok := c.key(ss.Context(), info.FullMethod); ok {
					s.limiters[1] = rule.keyed.ref(key)
					defer rule.keyed.unref(key)
				}
			}
		}
		return handler(srv, s)
	}
}

// stream applies the limits to one call. Like any grpc.ServerStream, it
// takes one RecvMsg and one SendMsg caller at a time.
type stream struct {
	grpc.ServerStream
	method           string
	maxRecv, maxSend int
	limiters         [2]*rate.Limiter // per stream, per key; nil: none
	paceTimer        *time.Timer

	stall   time.Duration
	timer   *time.Timer
	sent    chan error
	stalled error // set once a send stalled; every later send fails with it
	// watchFirst says the first send needs the stall watch too: only
	// server streams' do (see SendMsg).
	watchFirst bool
	sends      int
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
	s.sends++
	if s.stall <= 0 || (s.sends == 1 && !s.watchFirst) {
		// The one answer of a unary or client-streaming call cannot stall
		// here: grpc-go's server transport takes a call's first message
		// without waiting for the peer (a stream's write quota starts at
		// 64 KiB and a send proceeds while any is left), and the REST
		// adapter keeps such an answer until the chain has returned. A
		// watch would cost a goroutine per call for nothing.
		return s.ServerStream.SendMsg(m)
	}
	return s.sendWatched(m)
}

// sendWatched sends m and gives up when the send has not returned within
// the stall timeout. The abandoned SendMsg stays blocked in grpc-go until
// the call ends: once the handler returns with the stall error, grpc-go
// finishes the stream and cancels its context, which releases the write.
// No other send is started meanwhile, since every later one fails at once.
// A *frame.Frame is emptied (its buffers go with the send); any other
// message may still be read by the abandoned send until the call ends.
func (s *stream) sendWatched(m any) error {
	if s.stalled != nil {
		return s.stalled
	}
	if s.timer == nil {
		s.timer = time.NewTimer(s.stall)
		s.sent = make(chan error, 1)
	} else {
		s.timer.Reset(s.stall)
	}
	if f, ok := m.(*frame.Frame); ok {
		// The send may outlive this call, and the caller frees a Frame whose
		// send failed: move the buffers to a Frame only the send goroutine
		// knows, so the caller's Free finds nothing to race on.
		moved := new(frame.Frame)
		*moved, *f = *f, frame.Frame{}
		go func() {
			err := s.ServerStream.SendMsg(moved)
			if err != nil {
				moved.Free()
			}
			s.sent <- err
		}()
	} else {
		go func() { s.sent <- s.ServerStream.SendMsg(m) }()
	}
	select {
	case err := <-s.sent:
		s.timer.Stop()
		return err
	case <-s.timer.C:
		s.stalled = status.Errorf(codes.DeadlineExceeded, "send stalled: the client accepted no data for %v", s.stall)
		return s.stalled
	}
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

package concurrency

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	errdetails "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/sluice-dev/sluice/interceptors/callkey"
	"github.com/sluice-dev/sluice/methodpattern"
)

// Rule limits the calls in flight to the methods its patterns match.
type Rule struct {
	// Methods are method patterns, as for upstreams: a package, service or
	// method full name ("library.v1.Library.ListBooks"), a prefix ending in
	// "*", or "*". A call is held to the rule of its most specific
	// matching pattern, and to no other rule.
	Methods []string
	// MaxInFlight bounds the calls in flight to all the matched methods
	// together; 0 means no bound.
	MaxInFlight int
	// MaxInFlightPerKey bounds the calls in flight of one key (see WithKey)
	// to the matched methods; 0 means no bound.
	MaxInFlightPerKey int
}

// Option configures a Limiter.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	maxInFlight       int
	maxInFlightPerKey int
	key               KeyFunc
	queueTimeout      time.Duration
	retryDelay        time.Duration
	rules             []Rule
}

// WithMaxInFlight bounds the calls in flight on the whole gateway; 0 (the
// default) means no bound.
func WithMaxInFlight(n int) Option {
	return optionFunc(func(o *options) { o.maxInFlight = n })
}

// WithMaxInFlightPerKey bounds the calls in flight of one key across all
// methods, such as the streams one identity may hold open; 0 (the default)
// means no bound. It needs WithKey.
func WithMaxInFlightPerKey(n int) Option {
	return optionFunc(func(o *options) { o.maxInFlightPerKey = n })
}

// WithKey sets what per-key limits count against. There is no default: a
// per-key limit without a key is a construction error.
func WithKey(k KeyFunc) Option {
	return optionFunc(func(o *options) { o.key = k })
}

// WithQueueTimeout lets a call that finds a limit reached wait up to d for
// a slot, in arrival order, before it is refused. 0 (the default) refuses
// at once. The wait also ends when the call's context does.
func WithQueueTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.queueTimeout = d })
}

// WithRetryDelay sets the delay a refused client is told to wait, in the
// google.rpc.RetryInfo detail of the error and in the retry-after response
// header, rounded up to seconds (REST: Retry-After); default 1s.
func WithRetryDelay(d time.Duration) Option {
	return optionFunc(func(o *options) { o.retryDelay = d })
}

// WithRule adds a limit for a set of methods. No pattern may be given by
// two rules.
func WithRule(r Rule) Option {
	return optionFunc(func(o *options) { o.rules = append(o.rules, r) })
}

// Limiter admits calls under the configured limits. It is safe for
// concurrent use; its counters are shared by every call it admits, so
// build one per gateway.
type Limiter struct {
	global       *slots              // nil: no bound
	perKey       *callkey.Map[slots] // nil: no bound
	key          KeyFunc
	rules        methodpattern.Table[*ruleLimits]
	queueTimeout time.Duration
	retryDelay   time.Duration
	retryHeader  metadata.MD // sent with every refusal
	inFlight     atomic.Int64
}

type ruleLimits struct {
	all    *slots
	perKey *callkey.Map[slots]
	// allWhere and perKeyWhere name the limits in refusals, composed once
	// here rather than on every call.
	allWhere, perKeyWhere string
}

// New returns a Limiter, or an error naming every invalid setting.
func New(opts ...Option) (*Limiter, error) {
	o := options{retryDelay: time.Second}
	for _, opt := range opts {
		opt.apply(&o)
	}
	var errs []error
	if o.maxInFlight < 0 || o.maxInFlightPerKey < 0 {
		errs = append(errs, errors.New("concurrency: limits must not be negative"))
	}
	if o.queueTimeout < 0 || o.retryDelay < 0 {
		errs = append(errs, errors.New("concurrency: queue timeout and retry delay must not be negative"))
	}
	needKey := o.maxInFlightPerKey > 0
	l := &Limiter{key: o.key, queueTimeout: o.queueTimeout, retryDelay: o.retryDelay,
		retryHeader: metadata.Pairs(HeaderRetryAfter, strconv.FormatInt(ceilSeconds(o.retryDelay), 10))}
	if o.maxInFlight > 0 {
		l.global = newSlots(o.maxInFlight)
	}
	if o.maxInFlightPerKey > 0 {
		l.perKey = newKeyedSlots(o.maxInFlightPerKey)
	}
	for i, r := range o.rules {
		if len(r.Methods) == 0 {
			errs = append(errs, fmt.Errorf("concurrency: rule %d has no method pattern", i))
		}
		if r.MaxInFlight < 0 || r.MaxInFlightPerKey < 0 {
			errs = append(errs, fmt.Errorf("concurrency: rule %d: limits must not be negative", i))
			continue
		}
		name := strings.Join(r.Methods, ", ")
		rl := &ruleLimits{allWhere: "to " + name, perKeyWhere: "per caller to " + name}
		if r.MaxInFlight > 0 {
			rl.all = newSlots(r.MaxInFlight)
		}
		if r.MaxInFlightPerKey > 0 {
			rl.perKey = newKeyedSlots(r.MaxInFlightPerKey)
			needKey = true
		}
		for _, p := range r.Methods {
			if err := l.rules.Add(p, rl); err != nil {
				errs = append(errs, fmt.Errorf("concurrency: rule %d: %w", i, err))
			}
		}
	}
	if needKey && o.key == nil {
		errs = append(errs, errors.New("concurrency: a per-key limit needs a key (WithKey)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return l, nil
}

// InFlight reports the calls admitted and not yet finished.
func (l *Limiter) InFlight() int { return int(l.inFlight.Load()) }

// HeaderRetryAfter is the response header metadata key of the retry delay
// sent with refusals, in whole seconds rounded up; the REST adapter sends
// it as the HTTP Retry-After header, as it does the rate limiter's.
const HeaderRetryAfter = "retry-after"

// StreamServerInterceptor admits each call or refuses it with
// RESOURCE_EXHAUSTED, a google.rpc.RetryInfo detail and a retry-after
// response header; an admitted call holds its slots until the handler
// returns.
func (l *Limiter) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		var t ticket
		if err := l.admit(ss.Context(), info.FullMethod, &t); err != nil {
			if status.Code(err) == codes.ResourceExhausted {
				// Failing to set it must not change the outcome.
				_ = ss.SetHeader(l.retryHeader)
			}
			return err
		}
		defer l.release(&t)
		return handler(srv, ss)
	}
}

// ticket records the slots one call holds, at most one per kind of limit.
type ticket struct {
	held [4]hold
	n    int
	wait *time.Timer // the call's queue deadline, shared by all its limits, started on first wait
}

type hold struct {
	s     *slots
	keyed *callkey.Map[slots] // with entry: a keyed slot
	entry *callkey.Entry[slots]
}

func (l *Limiter) admit(ctx context.Context, method string, t *ticket) error {
	defer func() {
		if t.wait != nil {
			t.wait.Stop()
		}
	}()
	rule, _ := l.rules.Lookup(method)
	var key string
	hasKey := false
	if l.key != nil && (l.perKey != nil || (rule != nil && rule.perKey != nil)) {
		key, hasKey = l.key(ctx, method)
	}
	if l.global != nil {
		if err := l.take(ctx, t, hold{s: l.global}, "on the gateway"); err != nil {
			return err
		}
	}
	if rule != nil && rule.all != nil {
		if err := l.take(ctx, t, hold{s: rule.all}, rule.allWhere); err != nil {
			return err
		}
	}
	if hasKey && rule != nil && rule.perKey != nil {
		e := rule.perKey.Acquire(key)
		if err := l.take(ctx, t, hold{s: &e.Value, keyed: rule.perKey, entry: e}, rule.perKeyWhere); err != nil {
			return err
		}
	}
	if hasKey && l.perKey != nil {
		e := l.perKey.Acquire(key)
		if err := l.take(ctx, t, hold{s: &e.Value, keyed: l.perKey, entry: e}, "per caller"); err != nil {
			return err
		}
	}
	l.inFlight.Add(1)
	return nil
}

// take gets a slot of h.s, waiting up to the queue timeout, and records it
// in t. On failure it gives back everything t holds.
func (l *Limiter) take(ctx context.Context, t *ticket, h hold, where string) error {
	err := l.wait(ctx, t, h.s)
	if err != nil {
		if h.keyed != nil {
			h.keyed.Release(h.entry)
		}
		l.giveBack(t)
		if errors.Is(err, errFull) {
			return l.refusal(where, cap(h.s.ch))
		}
		return err
	}
	t.held[t.n] = h
	t.n++
	return nil
}

var errFull = errors.New("limit reached")

func (l *Limiter) wait(ctx context.Context, t *ticket, s *slots) error {
	if s.tryTake() {
		return nil
	}
	if l.queueTimeout <= 0 {
		return errFull
	}
	if t.wait == nil {
		t.wait = time.NewTimer(l.queueTimeout)
	}
	select {
	case s.ch <- struct{}{}:
		return nil
	case <-t.wait.C:
		return errFull
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
}

func (l *Limiter) release(t *ticket) {
	l.inFlight.Add(-1)
	l.giveBack(t)
}

func (l *Limiter) giveBack(t *ticket) {
	for i := t.n - 1; i >= 0; i-- {
		h := &t.held[i]
		h.s.put()
		if h.keyed != nil {
			h.keyed.Release(h.entry)
		}
		t.held[i] = hold{}
	}
	t.n = 0
}

// ceilSeconds rounds d up to whole seconds: HTTP's delta-seconds have no
// fractions, and rounding down would invite a retry that comes too early.
func ceilSeconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

func (l *Limiter) refusal(where string, limit int) error {
	st := status.Newf(codes.ResourceExhausted, "too many calls in flight: at most %d %s", limit, where)
	if withInfo, err := st.WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(l.retryDelay)}); err == nil {
		st = withInfo
	}
	return st.Err()
}

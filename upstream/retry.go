package upstream

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"

	"github.com/sluice-dev/sluice/methodpattern"
)

// Retries of calls that failed before any response message.
//
// Why retries live here and not in gRPC's service-config retryPolicy:
// grpc-go commits a call, and never retries it, as soon as response
// headers arrive; an upstream (or a proxy in front of it) that sends
// headers and then ends the call with UNAVAILABLE in the trailers is
// therefore never retried by it. The proxy forwards every call as a stream
// of frames, so the retry is a client stream interceptor on the upstream
// connection: it keeps a copy of the first request message, holds back the
// response headers until the first response message arrives (that is when
// the call commits), and until then replays the request on a new attempt
// when the attempt fails with a retryable code. A second request message
// also commits the call: streams are not retried after their first
// message.

// RetryPolicy retries calls to some of an upstream's methods. Only
// idempotent methods should be named: a failed attempt may have done its
// work before it failed.
type RetryPolicy struct {
	// Methods are the method patterns (as in Spec.Methods) whose calls
	// are retried.
	Methods []string
	// MaxAttempts bounds the attempts of one call, the first included
	// (default 3, at most 10).
	MaxAttempts int
	// Codes are the status codes that make an attempt worth retrying
	// (default UNAVAILABLE). An attempt that outlived PerTryTimeout is
	// always retried.
	Codes []codes.Code
	// InitialBackoff, MaxBackoff and BackoffMultiplier shape the wait
	// before retry n: a random time up to
	// min(InitialBackoff * BackoffMultiplier^(n-1), MaxBackoff)
	// (defaults 50ms, 1s, 2), or the upstream's grpc-retry-pushback-ms.
	InitialBackoff    time.Duration
	MaxBackoff        time.Duration
	BackoffMultiplier float64
	// PerTryTimeout bounds each attempt until it commits (0: no bound);
	// the caller's deadline bounds all of them together, and no retry
	// starts when the backoff would end past it.
	PerTryTimeout time.Duration
	// BudgetTokens and BudgetRatio are the retry budget of gRPC's retry
	// throttling (gRFC A6), shared by all calls to the upstream: a token
	// count starts at BudgetTokens, each retryable failure takes one, each
	// success gives back BudgetRatio, and retries stop while the count is
	// at or below half of BudgetTokens (defaults 10 and 0.1, so a failing
	// upstream sees at most about 10% more calls).
	BudgetTokens float64
	BudgetRatio  float64
}

// OutlierDetection ejects upstream addresses that fail calls repeatedly,
// reading each call's final status, also when it arrives in trailers
// after response headers.
// DefaultRetryPolicy returns the defaults that zero fields of a
// RetryPolicy take; it names no methods.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{
		MaxAttempts:       3,
		Codes:             []codes.Code{codes.Unavailable},
		InitialBackoff:    50 * time.Millisecond,
		MaxBackoff:        time.Second,
		BackoffMultiplier: 2,
		BudgetTokens:      10,
		BudgetRatio:       0.1,
	}
}

// WithDefaults returns p with its zero fields set from DefaultRetryPolicy.
func (p RetryPolicy) WithDefaults() RetryPolicy {
	d := DefaultRetryPolicy()
	if p.MaxAttempts == 0 {
		p.MaxAttempts = d.MaxAttempts
	}
	if len(p.Codes) == 0 {
		p.Codes = d.Codes
	}
	if p.InitialBackoff == 0 {
		p.InitialBackoff = d.InitialBackoff
	}
	if p.MaxBackoff == 0 {
		p.MaxBackoff = d.MaxBackoff
	}
	if p.BackoffMultiplier == 0 {
		p.BackoffMultiplier = d.BackoffMultiplier
	}
	if p.BudgetTokens == 0 {
		p.BudgetTokens = d.BudgetTokens
	}
	if p.BudgetRatio == 0 {
		p.BudgetRatio = d.BudgetRatio
	}
	return p
}

// FieldError is one invalid setting of a RetryPolicy, named as in
// sluice's configuration file ("max_attempts", "methods[2]").
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return "retry: " + e.Field + ": " + e.Problem }

// Validate reports every invalid setting of p as it is, without defaults,
// each as a *FieldError, joined. It is the one check of these settings:
// the configuration file's validation calls it too. A policy without
// methods is valid here (it retries nothing); NewPool refuses one.
func (p RetryPolicy) Validate() error {
	var errs []error
	add := func(field, problem string) { errs = append(errs, &FieldError{Field: field, Problem: problem}) }
	for i, m := range p.Methods {
		if err := methodpattern.Valid(m); err != nil {
			add("methods["+strconv.Itoa(i)+"]", err.Error())
		}
	}
	if p.MaxAttempts < 2 || p.MaxAttempts > 10 {
		add("max_attempts", "must be between 2 and 10")
	}
	for i, c := range p.Codes {
		if c == codes.OK || c > codes.Unauthenticated {
			add("codes["+strconv.Itoa(i)+"]", fmt.Sprintf("code %v cannot be retried", c))
		}
	}
	if p.InitialBackoff <= 0 {
		add("initial_backoff", "must be positive")
	}
	if p.MaxBackoff < p.InitialBackoff {
		add("max_backoff", "must be at least initial_backoff")
	}
	if p.BackoffMultiplier < 1 {
		add("backoff_multiplier", "must be at least 1")
	}
	if p.PerTryTimeout < 0 {
		add("per_try_timeout", "must not be negative")
	}
	if p.BudgetTokens <= 0 || p.BudgetTokens > 1000 {
		add("budget_tokens", "must be in (0, 1000]")
	}
	if p.BudgetRatio <= 0 || p.BudgetRatio > 1 {
		add("budget_ratio", "must be in (0, 1]")
	}
	return errors.Join(errs...)
}

// retrier is the retry policy of one upstream connection, with its budget.
type retrier struct {
	policy  RetryPolicy
	methods *routeTable
	codes   map[codes.Code]bool
	budget  retryBudget
}

func newRetrier(p RetryPolicy) (*retrier, error) {
	p = p.WithDefaults()
	if len(p.Methods) == 0 {
		return nil, errors.New("retry: no method patterns")
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	routes := make([]Route, len(p.Methods))
	for i, m := range p.Methods {
		routes[i] = Route{Pattern: m, Upstream: "retry"}
	}
	rt, err := newRouteTable(routes)
	if err != nil {
		return nil, fmt.Errorf("retry: %w", err)
	}
	r := &retrier{policy: p, methods: rt, codes: map[codes.Code]bool{}}
	for _, c := range p.Codes {
		r.codes[c] = true
	}
	r.budget.max = p.BudgetTokens
	r.budget.ratio = p.BudgetRatio
	r.budget.tokens = p.BudgetTokens
	return r, nil
}

// retryBudget is gRPC's retry throttling (gRFC A6).
type retryBudget struct {
	mu     sync.Mutex
	tokens float64
	max    float64
	ratio  float64
}

// failure records a retryable failure and reports whether a retry may
// follow it.
func (b *retryBudget) failure() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = max(b.tokens-1, 0)
	return b.tokens > b.max/2
}

func (b *retryBudget) success() {
	b.mu.Lock()
	b.tokens = min(b.tokens+b.ratio, b.max)
	b.mu.Unlock()
}

// interceptor retries the calls of the policy's methods that carry frames
// (the proxy's); other calls pass through untouched.
func (r *retrier) interceptor(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if !framed(opts) {
		return streamer(ctx, desc, cc, method, opts...)
	}
	if _, ok := r.methods.lookup(method); !ok {
		return streamer(ctx, desc, cc, method, opts...)
	}
	s := &retryStream{ctx: ctx, r: r, desc: desc, cc: cc, method: method, streamer: streamer, opts: opts}
	a, err := s.newAttempt()
	if err != nil {
		// No attempt reached an upstream (no address is usable, or all
		// are ejected): retrying now would only delay the failure.
		return nil, err
	}
	s.cur = a
	return s, nil
}

// FrameCall marks a call whose messages are *frame.Frame, as the proxy's
// are: only such calls can be retried, since a retry replays the request's
// bytes. The retry interceptor recognises the mark by its type.
func FrameCall() grpc.CallOption { return frameCall{} }

type frameCall struct{ grpc.EmptyCallOption }

func framed(opts []grpc.CallOption) bool {
	for _, o := range opts {
		if _, ok := o.(frameCall); ok {
			return true
		}
	}
	return false
}

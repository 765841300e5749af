package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/balancer"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/serviceconfig"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/frame"
	"github.com/sluice-dev/sluice/methodpattern"
)

// Upstream resilience: retries of calls that failed before any response
// message, and ejection of upstream addresses that keep failing.
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
	// Methods are the method patterns (as in Upstream.Methods) whose calls
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
type OutlierDetection struct {
	// ConsecutiveFailures ejects an address after this many calls in a row
	// ended with one of FailureCodes (default 5).
	ConsecutiveFailures int
	// FailureCodes are the codes that count as failures (default
	// UNAVAILABLE, INTERNAL, UNKNOWN, DATA_LOSS: the server's faults).
	// Other codes, except CANCELLED, count as successes and reset the
	// count.
	FailureCodes []codes.Code
	// BaseEjectionTime is how long the first ejection lasts; each further
	// ejection without a success in between lasts one BaseEjectionTime
	// longer, up to MaxEjectionTime (defaults 30s and 5m). An ejected
	// address gets no calls; when every ready address is ejected, calls
	// fail at once with UNAVAILABLE.
	BaseEjectionTime time.Duration
	MaxEjectionTime  time.Duration
}

func (r RetryPolicy) withDefaults() RetryPolicy {
	if r.MaxAttempts == 0 {
		r.MaxAttempts = 3
	}
	if len(r.Codes) == 0 {
		r.Codes = []codes.Code{codes.Unavailable}
	}
	if r.InitialBackoff == 0 {
		r.InitialBackoff = 50 * time.Millisecond
	}
	if r.MaxBackoff == 0 {
		r.MaxBackoff = time.Second
	}
	if r.BackoffMultiplier == 0 {
		r.BackoffMultiplier = 2
	}
	if r.BudgetTokens == 0 {
		r.BudgetTokens = 10
	}
	if r.BudgetRatio == 0 {
		r.BudgetRatio = 0.1
	}
	return r
}

func (r RetryPolicy) validate() error {
	var errs []error
	if len(r.Methods) == 0 {
		errs = append(errs, errors.New("retry: no method patterns"))
	}
	for _, p := range r.Methods {
		if err := methodpattern.Valid(p); err != nil {
			errs = append(errs, fmt.Errorf("retry: %w", err))
		}
	}
	if r.MaxAttempts < 2 || r.MaxAttempts > 10 {
		errs = append(errs, fmt.Errorf("retry: max attempts %d: want 2 to 10", r.MaxAttempts))
	}
	if r.InitialBackoff < 0 || r.MaxBackoff < r.InitialBackoff || r.BackoffMultiplier < 1 || r.PerTryTimeout < 0 {
		errs = append(errs, errors.New("retry: backoffs must be positive with max >= initial, the multiplier at least 1, the per-try timeout not negative"))
	}
	if r.BudgetTokens <= 0 || r.BudgetTokens > 1000 || r.BudgetRatio <= 0 || r.BudgetRatio > r.BudgetTokens {
		errs = append(errs, errors.New("retry: budget tokens must be in (0, 1000] and the ratio in (0, tokens]"))
	}
	for _, c := range r.Codes {
		if c == codes.OK || c > codes.Unauthenticated {
			errs = append(errs, fmt.Errorf("retry: code %v cannot be retried", c))
		}
	}
	return errors.Join(errs...)
}

func (o OutlierDetection) withDefaults() OutlierDetection {
	if o.ConsecutiveFailures == 0 {
		o.ConsecutiveFailures = 5
	}
	if len(o.FailureCodes) == 0 {
		o.FailureCodes = []codes.Code{codes.Unavailable, codes.Internal, codes.Unknown, codes.DataLoss}
	}
	if o.BaseEjectionTime == 0 {
		o.BaseEjectionTime = 30 * time.Second
	}
	if o.MaxEjectionTime == 0 {
		o.MaxEjectionTime = 5 * time.Minute
	}
	return o
}

func (o OutlierDetection) validate() error {
	var errs []error
	if o.ConsecutiveFailures < 1 {
		errs = append(errs, fmt.Errorf("outlier detection: consecutive failures %d: want at least 1", o.ConsecutiveFailures))
	}
	if o.BaseEjectionTime <= 0 || o.MaxEjectionTime < o.BaseEjectionTime {
		errs = append(errs, errors.New("outlier detection: ejection times must be positive, the maximum at least the base"))
	}
	for _, c := range o.FailureCodes {
		if c == codes.OK || c == codes.Canceled || c > codes.Unauthenticated {
			errs = append(errs, fmt.Errorf("outlier detection: code %v cannot count as a failure", c))
		}
	}
	return errors.Join(errs...)
}

// ---- retries ----

// retrier is the retry policy of one upstream connection, with its budget.
type retrier struct {
	policy  RetryPolicy
	methods *routeTable
	codes   map[codes.Code]bool
	budget  retryBudget
}

func newRetrier(p RetryPolicy) (*retrier, error) {
	p = p.withDefaults()
	if err := p.validate(); err != nil {
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
	if !carriesFrames(opts) {
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

var frameCodecType = reflect.TypeOf(frame.Codec())

func carriesFrames(opts []grpc.CallOption) bool {
	for _, o := range opts {
		if fc, ok := o.(grpc.ForceCodecV2CallOption); ok && reflect.TypeOf(fc.CodecV2) == frameCodecType {
			return true
		}
	}
	return false
}

// retryStream is one call that may be retried. The request side (SendMsg,
// CloseSend) and the response side (Header, RecvMsg, Trailer) run on
// different goroutines, as grpc.ClientStream allows; mu guards what they
// share.
type retryStream struct {
	ctx      context.Context
	r        *retrier
	desc     *grpc.StreamDesc
	cc       *grpc.ClientConn
	method   string
	streamer grpc.Streamer
	opts     []grpc.CallOption

	mu        sync.Mutex
	cur       *attempt
	attempts  int
	req       []byte // the first request message, replayed on retries
	sent      int    // request messages sent
	closeSent bool
	committed bool // no more retries

	// Response side only.
	decided bool
	pending *frame.Frame // the first response message, held by the commit
	final   error        // the call's error when it ended before any message
}

type attempt struct {
	cs       grpc.ClientStream
	cancel   context.CancelFunc
	timer    *time.Timer
	timedOut atomic.Bool
}

func (a *attempt) stop() {
	if a.timer != nil {
		a.timer.Stop()
	}
}

// newAttempt opens the next attempt. Called with mu held, or before the
// stream is shared.
func (s *retryStream) newAttempt() (*attempt, error) {
	ctx, cancel := context.WithCancel(s.ctx)
	if s.attempts > 0 {
		ctx = metadata.AppendToOutgoingContext(ctx, "grpc-previous-rpc-attempts", strconv.Itoa(s.attempts))
	}
	s.attempts++
	a := &attempt{cancel: cancel}
	if d := s.r.policy.PerTryTimeout; d > 0 {
		a.timer = time.AfterFunc(d, func() { a.timedOut.Store(true); cancel() })
	}
	cs, err := s.streamer(ctx, s.desc, s.cc, s.method, s.opts...)
	if err != nil {
		a.stop()
		cancel()
		return nil, err
	}
	a.cs = cs
	return a, nil
}

func (s *retryStream) SendMsg(m any) error {
	s.mu.Lock()
	s.sent++
	switch f, ok := m.(*frame.Frame); {
	case s.committed:
	case s.sent == 1 && ok:
		s.req = f.Bytes() // before sending: sending hands the buffers over
	default:
		s.commitLocked()
	}
	retryable := !s.committed
	a := s.cur
	s.mu.Unlock()
	err := a.cs.SendMsg(m)
	if err != nil && retryable {
		// The attempt ended; its status reaches the response side, which
		// replays this message on the next attempt if it retries.
		if f, ok := m.(*frame.Frame); ok {
			f.Free()
		}
		return nil
	}
	return err
}

func (s *retryStream) CloseSend() error {
	s.mu.Lock()
	s.closeSent = true
	a := s.cur
	s.mu.Unlock()
	return a.cs.CloseSend()
}

func (s *retryStream) commitLocked() {
	s.committed = true
	s.req = nil
}

// decide runs attempts until one commits: it delivers a response message,
// ends with a status not worth retrying, or retries run out.
func (s *retryStream) decide() {
	if s.decided {
		return
	}
	s.decided = true
	for {
		s.mu.Lock()
		a := s.cur
		s.mu.Unlock()
		f := new(frame.Frame)
		err := a.cs.RecvMsg(f)
		if err == nil {
			s.finish(a, f, nil)
			return
		}
		f.Free()
		if errors.Is(err, io.EOF) {
			s.finish(a, nil, io.EOF)
			return
		}
		delay, ok := s.retryAfter(a, err)
		if !ok {
			s.finish(a, nil, s.attemptError(a, err))
			return
		}
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-s.ctx.Done():
			timer.Stop()
			s.finish(a, nil, status.FromContextError(s.ctx.Err()).Err())
			return
		}
		s.mu.Lock()
		if s.committed { // a second request message came meanwhile
			s.mu.Unlock()
			s.finish(a, nil, s.attemptError(a, err))
			return
		}
		next, nerr := s.newAttempt()
		if nerr == nil {
			nerr = s.replayLocked(next)
		}
		if nerr != nil {
			s.commitLocked()
			s.mu.Unlock()
			s.finish(a, nil, nerr)
			return
		}
		s.cur = next
		s.mu.Unlock()
		a.stop()
		a.cancel()
	}
}

// replayLocked sends what the client sent so far to a new attempt.
func (s *retryStream) replayLocked(a *attempt) error {
	if s.req != nil {
		if err := a.cs.SendMsg(frame.FromBytes(bytes.Clone(s.req))); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
	}
	if s.closeSent {
		return a.cs.CloseSend()
	}
	return nil
}

// finish commits the call to attempt a, with its first message f or its
// final error.
func (s *retryStream) finish(a *attempt, f *frame.Frame, err error) {
	s.mu.Lock()
	s.commitLocked()
	s.mu.Unlock()
	a.stop()
	s.pending, s.final = f, err
	if err == nil || errors.Is(err, io.EOF) || !s.r.codes[status.Code(err)] {
		s.r.budget.success()
	}
}

// retryAfter decides whether attempt a, which ended with err, is retried,
// and after how long.
func (s *retryStream) retryAfter(a *attempt, err error) (time.Duration, bool) {
	perTry := a.timedOut.Load() && s.ctx.Err() == nil
	if !perTry && !s.r.codes[status.Code(err)] {
		return 0, false
	}
	if !s.r.budget.failure() || s.ctx.Err() != nil {
		return 0, false
	}
	s.mu.Lock()
	committed, n := s.committed, s.attempts
	s.mu.Unlock()
	if committed || n >= s.r.policy.MaxAttempts {
		return 0, false
	}
	p := s.r.policy
	var delay time.Duration
	if v := a.cs.Trailer().Get("grpc-retry-pushback-ms"); len(v) > 0 {
		ms, perr := strconv.Atoi(v[0])
		if perr != nil || ms < 0 {
			return 0, false // the upstream asks not to be retried
		}
		delay = time.Duration(ms) * time.Millisecond
	} else {
		ceiling := float64(p.InitialBackoff) * math.Pow(p.BackoffMultiplier, float64(n-1))
		ceiling = min(ceiling, float64(p.MaxBackoff))
		delay = time.Duration(rand.Float64() * ceiling)
	}
	if dl, ok := s.ctx.Deadline(); ok && time.Until(dl) <= delay {
		return 0, false // the retry would not start before the caller gives up
	}
	return delay, true
}

func (s *retryStream) attemptError(a *attempt, err error) error {
	if a.timedOut.Load() && s.ctx.Err() == nil {
		return status.Errorf(codes.DeadlineExceeded, "upstream attempt exceeded the per-try timeout of %s", s.r.policy.PerTryTimeout)
	}
	return err
}

func (s *retryStream) Header() (metadata.MD, error) {
	s.decide()
	return s.cur.cs.Header()
}

func (s *retryStream) RecvMsg(m any) error {
	s.decide()
	if f := s.pending; f != nil {
		s.pending = nil
		if dst, ok := m.(*frame.Frame); ok {
			dst.Free()
			*dst = *f
			return nil
		}
		f.Free()
		return status.Errorf(codes.Internal, "retry: cannot deliver a frame into %T", m)
	}
	if s.final != nil {
		return s.final
	}
	return s.cur.cs.RecvMsg(m)
}

func (s *retryStream) Trailer() metadata.MD {
	s.mu.Lock()
	a := s.cur
	s.mu.Unlock()
	return a.cs.Trailer()
}

func (s *retryStream) Context() context.Context {
	s.mu.Lock()
	a := s.cur
	s.mu.Unlock()
	return a.cs.Context()
}

// ---- outlier detection ----

// outlierBalancerName is the load-balancing policy that wraps round_robin
// or pick_first with outlier detection. grpc-go's own outlier detection
// balancer ships with xDS only and counts failure percentages, not
// consecutive failures.
const outlierBalancerName = "sluice_outlier_detection"

// init registers the outlier detection policy. grpc-go looks policies up
// by name in a process-wide registry that may only be written during
// initialization, so this one registration cannot wait for a constructor.
func init() { balancer.Register(outlierBuilder{}) }

type outlierConfig struct {
	serviceconfig.LoadBalancingConfig `json:"-"`

	ChildPolicy         string   `json:"childPolicy"`
	ConsecutiveFailures int      `json:"consecutiveFailures"`
	BaseEjectionTime    string   `json:"baseEjectionTime"`
	MaxEjectionTime     string   `json:"maxEjectionTime"`
	FailureCodes        []uint32 `json:"failureCodes"`

	base, maxEject time.Duration
	failures       map[codes.Code]bool
}

func outlierServiceConfig(child string, o OutlierDetection) map[string]any {
	fc := make([]uint32, len(o.FailureCodes))
	for i, c := range o.FailureCodes {
		fc[i] = uint32(c)
	}
	return map[string]any{outlierBalancerName: outlierConfig{
		ChildPolicy:         child,
		ConsecutiveFailures: o.ConsecutiveFailures,
		BaseEjectionTime:    o.BaseEjectionTime.String(),
		MaxEjectionTime:     o.MaxEjectionTime.String(),
		FailureCodes:        fc,
	}}
}

type outlierBuilder struct{}

func (outlierBuilder) Name() string { return outlierBalancerName }

func (outlierBuilder) ParseConfig(js json.RawMessage) (serviceconfig.LoadBalancingConfig, error) {
	var c outlierConfig
	if err := json.Unmarshal(js, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", outlierBalancerName, err)
	}
	if balancer.Get(c.ChildPolicy) == nil || c.ChildPolicy == outlierBalancerName {
		return nil, fmt.Errorf("%s: unknown child policy %q", outlierBalancerName, c.ChildPolicy)
	}
	var err1, err2 error
	c.base, err1 = time.ParseDuration(c.BaseEjectionTime)
	c.maxEject, err2 = time.ParseDuration(c.MaxEjectionTime)
	if err := errors.Join(err1, err2); err != nil {
		return nil, fmt.Errorf("%s: %w", outlierBalancerName, err)
	}
	c.failures = map[codes.Code]bool{}
	for _, fc := range c.FailureCodes {
		c.failures[codes.Code(fc)] = true
	}
	o := OutlierDetection{ConsecutiveFailures: c.ConsecutiveFailures, BaseEjectionTime: c.base, MaxEjectionTime: c.maxEject}
	if err := o.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (outlierBuilder) Build(cc balancer.ClientConn, opts balancer.BuildOptions) balancer.Balancer {
	b := &outlierBalancer{opts: opts, endpoints: map[balancer.SubConn]*endpoint{}}
	b.cc = &outlierConn{ClientConn: cc, b: b}
	return b
}

// outlierBalancer passes everything to its child policy; it only wraps the
// child's picker, and tracks the SubConns the child creates.
type outlierBalancer struct {
	cc    *outlierConn
	opts  balancer.BuildOptions
	child balancer.Balancer
	name  string
	cfg   atomic.Pointer[outlierConfig]

	mu        sync.Mutex
	endpoints map[balancer.SubConn]*endpoint
}

func (b *outlierBalancer) UpdateClientConnState(s balancer.ClientConnState) error {
	cfg, ok := s.BalancerConfig.(*outlierConfig)
	if !ok {
		return fmt.Errorf("%s: unexpected config %T", outlierBalancerName, s.BalancerConfig)
	}
	b.cfg.Store(cfg)
	if b.child == nil || b.name != cfg.ChildPolicy {
		if b.child != nil {
			b.child.Close()
		}
		b.child = balancer.Get(cfg.ChildPolicy).Build(b.cc, b.opts)
		b.name = cfg.ChildPolicy
	}
	s.BalancerConfig = nil
	return b.child.UpdateClientConnState(s)
}

func (b *outlierBalancer) ResolverError(err error) {
	if b.child != nil {
		b.child.ResolverError(err)
	}
}

func (b *outlierBalancer) UpdateSubConnState(sc balancer.SubConn, st balancer.SubConnState) {
	if b.child != nil {
		//lint:ignore SA1019 forwarded for child policies that still rely on it
		b.child.UpdateSubConnState(sc, st)
	}
}

func (b *outlierBalancer) Close() {
	if b.child != nil {
		b.child.Close()
	}
}

func (b *outlierBalancer) ExitIdle() {
	if b.child != nil {
		b.child.ExitIdle()
	}
}

func (b *outlierBalancer) lookup(sc balancer.SubConn) (*endpoint, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.endpoints[sc], len(b.endpoints)
}

// outlierConn is the ClientConn the child sees.
type outlierConn struct {
	balancer.ClientConn
	b *outlierBalancer
}

func (c *outlierConn) NewSubConn(addrs []resolver.Address, opts balancer.NewSubConnOptions) (balancer.SubConn, error) {
	var sc balancer.SubConn
	listener := opts.StateListener
	opts.StateListener = func(st balancer.SubConnState) {
		if st.ConnectivityState == connectivity.Shutdown {
			c.b.mu.Lock()
			delete(c.b.endpoints, sc)
			c.b.mu.Unlock()
		}
		if listener != nil {
			listener(st)
		}
	}
	//lint:ignore SA1019 intercepting the child's SubConns is the point of this wrapper
	sc, err := c.ClientConn.NewSubConn(addrs, opts)
	if err != nil {
		return nil, err
	}
	c.b.mu.Lock()
	c.b.endpoints[sc] = newEndpoint(&c.b.cfg)
	c.b.mu.Unlock()
	return sc, nil
}

func (c *outlierConn) UpdateState(st balancer.State) {
	if st.Picker != nil {
		st.Picker = &outlierPicker{child: st.Picker, b: c.b}
	}
	c.ClientConn.UpdateState(st)
}

// endpoint is the failure record of one SubConn (one upstream address).
type endpoint struct {
	// done records a call's final status under the balancer's current
	// config; built once so that picks do not allocate a closure.
	done func(balancer.DoneInfo)

	mu           sync.Mutex
	consecutive  int
	ejections    int
	ejectedUntil time.Time
}

func newEndpoint(cfg *atomic.Pointer[outlierConfig]) *endpoint {
	e := &endpoint{}
	e.done = func(di balancer.DoneInfo) {
		if c := cfg.Load(); c != nil {
			e.record(di.Err, c)
		}
	}
	return e
}

func (e *endpoint) ejected(now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return now.Before(e.ejectedUntil)
}

func (e *endpoint) record(err error, cfg *outlierConfig) {
	code := status.Code(err)
	if code == codes.Canceled {
		return // the caller gave up: nothing learned about the upstream
	}
	now := time.Now()
	e.mu.Lock()
	defer e.mu.Unlock()
	if !cfg.failures[code] {
		e.consecutive = 0
		if !now.Before(e.ejectedUntil) {
			e.ejections = 0
		}
		return
	}
	e.consecutive++
	if e.consecutive < cfg.ConsecutiveFailures || now.Before(e.ejectedUntil) {
		return
	}
	e.consecutive = 0
	e.ejections++
	d := min(time.Duration(e.ejections)*cfg.base, cfg.maxEject)
	e.ejectedUntil = now.Add(d)
}

// outlierPicker asks the child's picker, passing over ejected addresses,
// and feeds each call's final status back to its address's record.
type outlierPicker struct {
	child balancer.Picker
	b     *outlierBalancer
}

func (p *outlierPicker) Pick(info balancer.PickInfo) (balancer.PickResult, error) {
	cfg := p.b.cfg.Load()
	now := time.Now()
	var tries int
	for {
		res, err := p.child.Pick(info)
		if err != nil {
			return res, err
		}
		ep, n := p.b.lookup(res.SubConn)
		if ep == nil || cfg == nil {
			return res, nil
		}
		if !ep.ejected(now) {
			if done := res.Done; done != nil {
				res.Done = func(di balancer.DoneInfo) {
					ep.done(di)
					done(di)
				}
			} else {
				res.Done = ep.done // round_robin and pick_first set no Done
			}
			return res, nil
		}
		if res.Done != nil {
			res.Done(balancer.DoneInfo{})
		}
		// The child rotates over its ready addresses: once it has offered
		// as many as there are, every one of them is ejected.
		if tries++; tries >= n {
			return balancer.PickResult{}, status.Error(codes.Unavailable, "every address of the upstream is ejected after consecutive failures")
		}
	}
}

package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/sluice-dev/sluice/methodpattern"
)

// Limit is one token bucket per key for a set of methods.
type Limit struct {
	// Name identifies the limit in errors, logs and Redis keys; required
	// and unique.
	Name string
	// Methods are method patterns, as for upstreams ("library.v1",
	// "library.v1.Library.GetBook", "library.*", "*"). Every limit with a
	// matching pattern applies to a call.
	Methods []string
	// Key names the bucket a call draws from; nil means GlobalKey.
	Key KeyFunc
	// Rate tokens are added per Period (0 means one second); at least 1.
	Rate   int
	Period time.Duration
	// Burst is the size of the bucket; 0 means Rate.
	Burst int
	// Global shares the bucket among gateway instances through Redis
	// (WithRedis is then required).
	Global bool
}

// FieldError is one invalid value of a Limit, named as in sluice's
// configuration file ("rate", "burst").
type FieldError struct {
	Field   string
	Problem string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Problem }

// Validate reports every invalid rate, period or burst of l, each as a
// *FieldError, joined. It is the one check of these values: New calls it,
// and so does the configuration file's validation, which puts its own
// path in front of the field. (Names, patterns and keys are checked where
// they are compiled.)
func (l Limit) Validate() error {
	var errs []error
	add := func(field, problem string) { errs = append(errs, &FieldError{Field: field, Problem: problem}) }
	if l.Rate < 1 {
		add("rate", fmt.Sprintf("must be at least 1, got %d", l.Rate))
	}
	switch {
	case l.Period < 0:
		add("period", "must not be negative")
	case l.Period != 0 && l.Period < time.Millisecond:
		add("period", fmt.Sprintf("must be at least 1ms, got %s", l.Period))
	}
	if l.Burst < 0 {
		add("burst", fmt.Sprintf("must not be negative, got %d", l.Burst))
	}
	return errors.Join(errs...)
}

// FailureMode is what global limits do while Redis is unreachable.
type FailureMode int

const (
	// FailOpen admits calls, still held to the local bucket in front of
	// Redis, so each instance admits at most the limit's rate.
	FailOpen FailureMode = iota
	// FailClosed refuses calls with UNAVAILABLE.
	FailClosed
)

// Option configures a Limiter.
type Option interface{ apply(*options) }

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

type options struct {
	limits        []Limit
	redis         redis.UniversalClient
	failure       FailureMode
	redisTimeout  time.Duration
	retryInterval time.Duration
	logInterval   time.Duration
	logger        *slog.Logger
	headers       bool
	keyPrefix     string
	maxKeys       int
	storeErrors   func()
}

// WithLimit adds a limit.
func WithLimit(l Limit) Option {
	return optionFunc(func(o *options) { o.limits = append(o.limits, l) })
}

// WithRedis sets the Redis client that holds global buckets. The Limiter
// does not close it.
func WithRedis(c redis.UniversalClient) Option {
	return optionFunc(func(o *options) { o.redis = c })
}

// WithFailureMode sets what global limits do while Redis is unreachable
// (default FailOpen).
func WithFailureMode(m FailureMode) Option {
	return optionFunc(func(o *options) { o.failure = m })
}

// WithRedisTimeout bounds one Redis round trip (default 100ms); a slower
// answer counts as a failure.
func WithRedisTimeout(d time.Duration) Option {
	return optionFunc(func(o *options) { o.redisTimeout = d })
}

// WithRetryInterval sets how long after a Redis failure global limits
// apply the failure mode without trying Redis, before one call probes it
// again (default 1s).
func WithRetryInterval(d time.Duration) Option {
	return optionFunc(func(o *options) { o.retryInterval = d })
}

// WithLogInterval sets how often, at most, an unreachable Redis is logged
// (default 1m).
func WithLogInterval(d time.Duration) Option {
	return optionFunc(func(o *options) { o.logInterval = d })
}

// WithLogger sets where Redis failures and recoveries are reported. The
// default discards them.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(o *options) { o.logger = l })
}

// WithHeaders turns the RateLimit-* response header metadata of admitted
// calls on or off (default on). Refusals always carry them.
func WithHeaders(on bool) Option {
	return optionFunc(func(o *options) { o.headers = on })
}

// WithStoreErrors calls f after every failed round trip to Redis (not
// for the calls answered by the failure mode while Redis is left alone),
// for metrics. f must be quick and safe for concurrent use.
func WithStoreErrors(f func()) Option {
	return optionFunc(func(o *options) { o.storeErrors = f })
}

// WithKeyPrefix sets the prefix of Redis keys (default "sluice:ratelimit:").
func WithKeyPrefix(p string) Option {
	return optionFunc(func(o *options) { o.keyPrefix = p })
}

// WithMaxKeys bounds the local buckets one limit keeps (default 100000).
// Idle buckets that refilled are dropped first, as they are equal to new
// ones; past the bound, arbitrary buckets are dropped, which lets their
// keys start afresh.
func WithMaxKeys(n int) Option {
	return optionFunc(func(o *options) { o.maxKeys = n })
}

// Limiter admits calls under the configured limits. It is safe for
// concurrent use; its buckets are shared by every call it sees, so build
// one per gateway.
type Limiter struct {
	limits  []*limit
	store   *store // nil without global limits
	failure FailureMode
	headers bool
}

// limit is a Limit, compiled.
type limit struct {
	name     string
	patterns []methodpattern.Pattern
	key      KeyFunc
	perSec   float64 // tokens per second
	burst    int
	global   bool
	redis    redis_rate.Limit
	buckets  *bucketSet // local buckets, or the shadows of global ones
}

// New returns a Limiter, or an error naming every invalid setting.
func New(opts ...Option) (*Limiter, error) {
	o := options{
		redisTimeout:  100 * time.Millisecond,
		retryInterval: time.Second,
		logInterval:   time.Minute,
		logger:        slog.New(slog.DiscardHandler),
		headers:       true,
		keyPrefix:     "sluice:ratelimit:",
		maxKeys:       100000,
	}
	for _, opt := range opts {
		opt.apply(&o)
	}
	var errs []error
	if o.redisTimeout <= 0 || o.retryInterval <= 0 || o.logInterval <= 0 {
		errs = append(errs, errors.New("ratelimit: redis timeout, retry and log intervals must be positive"))
	}
	if o.maxKeys < 1 {
		errs = append(errs, errors.New("ratelimit: max keys must be at least 1"))
	}
	if o.failure != FailOpen && o.failure != FailClosed {
		errs = append(errs, fmt.Errorf("ratelimit: unknown failure mode %d", o.failure))
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	l := &Limiter{failure: o.failure, headers: o.headers}
	names := map[string]bool{}
	global := false
	for i, lim := range o.limits {
		c, err := compileLimit(lim, o.maxKeys)
		if err != nil {
			errs = append(errs, fmt.Errorf("ratelimit: limit %d (%q): %w", i, lim.Name, err))
			continue
		}
		if names[c.name] {
			errs = append(errs, fmt.Errorf("ratelimit: limit name %q is used twice", c.name))
		}
		names[c.name] = true
		global = global || c.global
		l.limits = append(l.limits, c)
	}
	if global && o.redis == nil {
		errs = append(errs, errors.New("ratelimit: a limit is global but no Redis client is set (WithRedis)"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if global {
		l.store = &store{
			limiter:       redis_rate.NewLimiter(o.redis),
			prefix:        o.keyPrefix,
			timeout:       o.redisTimeout,
			retryInterval: o.retryInterval,
			logInterval:   o.logInterval,
			logger:        o.logger,
			failure:       o.failure,
			errors:        o.storeErrors,
		}
	}
	return l, nil
}

func compileLimit(l Limit, maxKeys int) (*limit, error) {
	var errs []error
	if l.Name == "" || strings.Contains(l.Name, ":") {
		errs = append(errs, errors.New("name must be non-empty and without \":\" (it is part of Redis keys)"))
	}
	if len(l.Methods) == 0 {
		errs = append(errs, errors.New("no method patterns"))
	}
	c := &limit{name: l.Name, key: l.Key, global: l.Global}
	for _, p := range l.Methods {
		mp, err := methodpattern.Compile(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		c.patterns = append(c.patterns, mp)
	}
	if c.key == nil {
		c.key = GlobalKey()
	}
	period := l.Period
	if period == 0 {
		period = time.Second
	}
	burst := l.Burst
	if burst == 0 {
		burst = l.Rate
	}
	if err := l.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	c.perSec = float64(l.Rate) / period.Seconds()
	c.burst = burst
	c.redis = redis_rate.Limit{Rate: l.Rate, Period: period, Burst: burst}
	// A bucket idle for as long as it takes to fill is full, like a new one.
	fill := time.Duration(float64(burst) / float64(c.perSec) * float64(time.Second))
	c.buckets = newBucketSet(c.perSec, burst, fill, maxKeys)
	return c, nil
}

// StreamServerInterceptor returns the interceptor that admits or refuses
// each call, for every protocol, before the call reaches the handler.
func (l *Limiter) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		hdr, err := l.Check(ss.Context(), info.FullMethod)
		if len(hdr) > 0 {
			// The headers reach clients with the upstream's, or with the
			// refusal; failing to set them must not change the outcome.
			_ = ss.SetHeader(hdr)
		}
		if err != nil {
			return err
		}
		return handler(srv, ss)
	}
}

// Check decides one call to fullMethod ("/pkg.Service/Method"), drawing
// tokens from every limit that applies. It returns the response header
// metadata to send (nil when no limit applies, or headers are off and the
// call is admitted) and nil or the status error that refuses the call:
// RESOURCE_EXHAUSTED with RetryInfo, or UNAVAILABLE when a global limit
// fails closed.
func (l *Limiter) Check(ctx context.Context, fullMethod string) (metadata.MD, error) {
	var stack [4]applied
	apply := stack[:0]
	now := time.Now()
	for _, lim := range l.limits {
		if !lim.matches(fullMethod) {
			continue
		}
		key, ok := lim.key(ctx, fullMethod)
		if !ok {
			continue
		}
		apply = append(apply, applied{lim: lim, key: key, b: lim.buckets.get(key, now)})
	}
	if len(apply) == 0 {
		return nil, nil
	}
	var tightest quota
	refuse := func(q quota, err error) (metadata.MD, error) {
		for j := range apply {
			if a := &apply[j]; a.held {
				a.b.giveBack(now)
			}
		}
		return q.header(true), err
	}
	// Local decisions first: they cost no round trip, and a refusal here
	// spares Redis. Every limit takes its token now, global ones included,
	// so that calls waiting on the same Redis round trip cannot spend one
	// local token many times over (see bucket).
	for i := range apply {
		a := &apply[i]
		lim := a.lim
		if lim.global {
			if until := a.b.deniedUntil.Load(); until > now.UnixNano() {
				wait := time.Duration(until - now.UnixNano())
				return refuse(lim.refusal(wait), exhausted(lim.name, wait))
			}
		}
		wait, ok := a.b.take(now)
		if !ok {
			return refuse(lim.refusal(wait), exhausted(lim.name, wait))
		}
		a.held = true
		if !lim.global {
			tightest = tightest.tighter(lim.localQuota(a.b, now))
		}
	}
	for i := range apply {
		a := &apply[i]
		if !a.lim.global {
			continue
		}
		res, err := l.store.allow(ctx, a.lim, a.key)
		switch {
		case errors.Is(err, errStoreDown) && l.failure == FailClosed:
			return refuse(quota{}, unavailable(l.store.retryInterval))
		case errors.Is(err, errStoreDown):
			// Fail open: the shadow bucket is the limit for now, and the
			// call holds its token already.
			tightest = tightest.tighter(a.lim.localQuota(a.b, now))
		case err != nil: // the caller went away
			return refuse(quota{}, err)
		case res.Allowed == 0:
			a.b.deniedUntil.Store(now.Add(res.RetryAfter).UnixNano())
			q := quota{limit: a.lim.burst, remaining: 0, reset: res.ResetAfter, retry: res.RetryAfter, set: true}
			return refuse(q, exhausted(a.lim.name, res.RetryAfter))
		default:
			// Redis spent a token of the global bucket: the shadow keeps
			// the one it took, being fed only with what Redis admitted so
			// that it never holds fewer tokens than the global bucket.
			a.held = false
			tightest = tightest.tighter(quota{limit: a.lim.burst, remaining: res.Remaining, reset: res.ResetAfter, set: true})
		}
	}
	if !l.headers {
		return nil, nil
	}
	return tightest.header(false), nil
}

type applied struct {
	lim *limit
	key string
	b   *bucket
	// held: the call took a token from b that goes back if the call is
	// refused after all; a global limit's token stops being held once
	// Redis admitted the call.
	held bool
}

// matches reports whether any of the limit's patterns matches the method
// at path ("/pkg.Service/Method"); Pattern.Matches reads the path as its
// full name without building it, so a call allocates nothing here.
func (l *limit) matches(path string) bool {
	for _, p := range l.patterns {
		if p.Matches(path) {
			return true
		}
	}
	return false
}

// untilTokens is how long a bucket holding have tokens takes to hold want.
func (l *limit) untilTokens(have, want float64) time.Duration {
	if have >= want {
		return 0
	}
	return time.Duration((want - have) / l.perSec * float64(time.Second))
}

func (l *limit) localQuota(b *bucket, now time.Time) quota {
	tokens := b.level(now)
	return quota{
		limit:     l.burst,
		remaining: max(int(math.Floor(tokens)), 0),
		reset:     l.untilTokens(tokens, float64(l.burst)),
		set:       true,
	}
}

func (l *limit) refusal(wait time.Duration) quota {
	return quota{limit: l.burst, reset: wait, retry: wait, set: true}
}

// quota is what the RateLimit header fields report about one limit.
type quota struct {
	limit     int
	remaining int
	reset     time.Duration // until the bucket is full again
	retry     time.Duration // until the next call may pass (refusals)
	set       bool
}

// tighter returns the quota closer to exhaustion: fewer remaining calls,
// then the later reset.
func (q quota) tighter(o quota) quota {
	switch {
	case !q.set:
		return o
	case o.remaining != q.remaining:
		if o.remaining < q.remaining {
			return o
		}
		return q
	case o.reset > q.reset:
		return o
	}
	return q
}

// The response header metadata keys the limiter sets. The REST adapter
// sends them as HTTP headers of the same names.
const (
	HeaderRetryAfter = "retry-after"
	HeaderLimit      = "ratelimit-limit"
	HeaderRemaining  = "ratelimit-remaining"
	HeaderReset      = "ratelimit-reset"
)

func (q quota) header(refused bool) metadata.MD {
	md := metadata.MD{}
	if refused {
		md.Set(HeaderRetryAfter, strconv.FormatInt(ceilSeconds(q.retry, 1), 10))
	}
	if q.set {
		md.Set(HeaderLimit, strconv.Itoa(q.limit))
		md.Set(HeaderRemaining, strconv.Itoa(q.remaining))
		md.Set(HeaderReset, strconv.FormatInt(ceilSeconds(q.reset, 0), 10))
	}
	return md
}

// ceilSeconds rounds d up to whole seconds, at least minimum: HTTP's
// delta-seconds have no fractions, and rounding down would invite a retry
// that is refused again.
func ceilSeconds(d time.Duration, minimum int64) int64 {
	s := int64((d + time.Second - 1) / time.Second)
	return max(s, minimum)
}

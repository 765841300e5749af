package telemetry

import (
	"context"
	"crypto/rand"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"
)

// RequestIDKey is the metadata key (HTTP header X-Request-Id) of the
// request id: taken from the client when it sends a usable one, generated
// otherwise, echoed to the client in the response headers and sent to
// the upstream.
const RequestIDKey = "x-request-id"

// maxRequestIDLen bounds a request id taken from a client: a longer one,
// or one with bytes outside printable ASCII, is replaced by a generated
// one, so that a client cannot put kilobytes or control characters into
// every log line about its calls.
const maxRequestIDLen = 128

// Call is the record of one call through the chain. StreamServerInterceptor
// creates it; observers read it from the call's context (FromContext)
// once the rest of the chain returned. Its methods are safe for concurrent
// use: the upstream leg may report from the proxy's pump goroutines.
type Call struct {
	requestID string
	start     time.Time

	bytesIn, bytesOut atomic.Int64
	msgsIn, msgsOut   atomic.Int64

	// The policies' bookkeeping (see Policies), under pmu: a policy may
	// run the rest of the chain on a goroutine of its own and return
	// before it (flow control's stall watch).
	pmu         sync.Mutex
	reached     int                    // the deepest policy position entered
	returned    [maxPolicies + 2]error // by position: what each returned
	refusedBy   string
	reason      string
	subject     string
	rateLimited int8 // 0: no rate limit ran; 1: admitted; 2: refused

	mu           sync.Mutex
	upstream     string
	upstreamAddr string
	attempts     int

	// The call's stream wrapper and context, allocated with the record.
	stream  stream
	ctx     callContext
	idValue [1]string
}

// callContext is the call's context with the record in it: a
// context.WithValue of its own, allocated with the record.
type callContext struct {
	context.Context
	call *Call
}

func (c *callContext) Value(key any) any {
	if _, ok := key.(callKey); ok {
		return c.call
	}
	return c.Context.Value(key)
}

// RequestID is the call's request id.
func (c *Call) RequestID() string { return c.requestID }

// Start is when the call entered the chain.
func (c *Call) Start() time.Time { return c.start }

// Received returns the messages and bytes received from the client so
// far.
func (c *Call) Received() (msgs, bytes int64) { return c.msgsIn.Load(), c.bytesIn.Load() }

// Sent returns the messages and bytes sent to the client so far.
func (c *Call) Sent() (msgs, bytes int64) { return c.msgsOut.Load(), c.bytesOut.Load() }

// Refusal names the policy that refused the call (PolicyAuthn, ...) and
// why (the status code's name in lower snake case, such as
// "resource_exhausted"); both are empty when no policy refused it.
func (c *Call) Refusal() (policy, reason string) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return c.refusedBy, c.reason
}

// Subject names the authenticated caller ("" for an anonymous call or
// one refused before authentication); see Policies.
func (c *Call) Subject() string {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return c.subject
}

// RateLimited reports whether a rate limit decided the call (ran) and, if
// so, whether it refused it.
func (c *Call) RateLimited() (ran, refused bool) {
	c.pmu.Lock()
	defer c.pmu.Unlock()
	return c.rateLimited != 0, c.rateLimited == 2
}

// Upstream returns the upstream the call went to, the address of its
// last attempt and the number of attempts (0: no upstream call started).
func (c *Call) Upstream() (name, addr string, attempts int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.upstream, c.upstreamAddr, c.attempts
}

// attempt records a new attempt to upstream and returns its number.
func (c *Call) attempt(upstream string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.upstream = upstream
	c.attempts++
	return c.attempts
}

func (c *Call) setUpstreamAddr(addr string) {
	c.mu.Lock()
	c.upstreamAddr = addr
	c.mu.Unlock()
}

type callKey struct{}

// FromContext returns the call record in ctx, or nil outside a call that
// passed StreamServerInterceptor.
func FromContext(ctx context.Context) *Call {
	c, _ := ctx.Value(callKey{}).(*Call)
	return c
}

// NewContext returns ctx carrying c, for tests and adapters that run
// observers without StreamServerInterceptor.
func NewContext(ctx context.Context, c *Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// StreamServerInterceptor starts the record of every call, counts the
// messages and bytes each way at the chain's boundary, and gives the call
// its request id: the client's x-request-id when it is usable, a
// generated one otherwise (then added to the call's outgoing metadata,
// which the proxy sends upstream with what it forwards). The id is set as
// a response header, so every protocol's client gets it back (REST as
// X-Request-Id). It belongs first in the chain after recovery, before
// the observers that read the record.
func StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		c := &Call{start: time.Now()}
		if ids := metadata.ValueFromIncomingContext(ctx, RequestIDKey); len(ids) == 1 && usableRequestID(ids[0]) {
			c.requestID = ids[0]
		} else {
			c.requestID = rand.Text()
			// Sent upstream as the call's outgoing metadata, which the
			// proxy adds to what it forwards: no copy of the incoming
			// metadata per call.
			ctx = metadata.AppendToOutgoingContext(ctx, RequestIDKey, c.requestID)
		}
		// Set, not sent: it leaves with the call's first headers.
		c.idValue[0] = c.requestID
		_ = ss.SetHeader(metadata.MD{RequestIDKey: c.idValue[:]})
		c.ctx = callContext{Context: ctx, call: c}
		c.stream = stream{ServerStream: ss, ctx: &c.ctx, call: c}
		return handler(srv, &c.stream)
	}
}

// usableRequestID reports whether a client's request id may be kept.
func usableRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

// sized is what the proxy's frames implement.
type sized interface{ Len() int }

// MessageSize is the size on the wire of m, a frame or a proto message.
func MessageSize(m any) int64 {
	switch v := m.(type) {
	case sized:
		return int64(v.Len())
	case proto.Message:
		return int64(proto.Size(v))
	}
	return 0
}

// stream counts messages and bytes into the call's record and carries
// its context. The proxy receives on one goroutine and sends on another,
// hence the record's atomics.
type stream struct {
	grpc.ServerStream
	ctx  context.Context
	call *Call
}

func (s *stream) Context() context.Context { return s.ctx }

func (s *stream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil {
		s.call.msgsIn.Add(1)
		s.call.bytesIn.Add(MessageSize(m))
	}
	return err
}

func (s *stream) SendMsg(m any) error {
	// Measure first: sending a frame hands its buffers to grpc-go.
	n := MessageSize(m)
	err := s.ServerStream.SendMsg(m)
	if err == nil {
		s.call.msgsOut.Add(1)
		s.call.bytesOut.Add(n)
	}
	return err
}

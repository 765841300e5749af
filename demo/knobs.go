package demo

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
)

// Metadata keys of the test knobs; the package doc says what they do.
const (
	// HeaderMethod is the response header naming the called method.
	HeaderMethod = "x-demo-method"
	// HeaderDeadlineMs is the response header with the milliseconds left
	// until the call's deadline.
	HeaderDeadlineMs = "x-demo-deadline-ms"
	// MetadataFail is the request key that fails a call: CODE[:message].
	MetadataFail = "x-demo-fail"
	// MetadataFailAfter is the request key that fails a stream after N
	// messages.
	MetadataFailAfter = "x-demo-fail-after"
	// MetadataDelay is the request key that delays every message sent.
	MetadataDelay = "x-demo-delay"
	// EchoPrefix starts the request keys that are echoed as headers and
	// trailers.
	EchoPrefix = "x-echo-"
	// EchoTrailerSuffix is appended to an echoed key to name its trailer
	// (before the "-bin" of binary keys).
	EchoTrailerSuffix = "-trailer"
)

// knobs are the test knobs of one call, read from its request metadata.
type knobs struct {
	header    metadata.MD
	trailer   metadata.MD
	fail      error // the failure of x-demo-fail or x-demo-fail-after
	failSet   bool  // x-demo-fail was given (unary calls ignore fail-after)
	failAfter int   // -1 without x-demo-fail-after
	delay     time.Duration
}

// readKnobs reads the knobs of a call. Malformed knobs are reported as one
// INVALID_ARGUMENT error; the headers and trailers are filled in any case.
func readKnobs(ctx context.Context, method string) (knobs, error) {
	k := knobs{
		header:    metadata.Pairs(HeaderMethod, method),
		trailer:   metadata.MD{},
		failAfter: -1,
	}
	if dl, ok := ctx.Deadline(); ok {
		k.header.Set(HeaderDeadlineMs, strconv.FormatInt(max(time.Until(dl).Milliseconds(), 0), 10))
	}
	md, _ := metadata.FromIncomingContext(ctx)
	for key, vals := range md {
		if strings.HasPrefix(key, EchoPrefix) {
			k.header.Append(key, vals...)
			k.trailer.Append(echoTrailerKey(key), vals...)
		}
	}

	var v violations
	code, msg := codes.OK, ""
	if vals := md.Get(MetadataFail); len(vals) > 0 {
		code, msg = parseFail(vals[0], &v)
	}
	if vals := md.Get(MetadataFailAfter); len(vals) > 0 {
		n, err := strconv.Atoi(strings.TrimSpace(vals[0]))
		if err != nil || n < 0 {
			v.add(MetadataFailAfter, "must be a non-negative integer, got %q", vals[0])
		} else {
			k.failAfter = n
		}
	}
	if vals := md.Get(MetadataDelay); len(vals) > 0 {
		d, err := time.ParseDuration(strings.TrimSpace(vals[0]))
		if err != nil || d < 0 {
			v.add(MetadataDelay, "must be a non-negative Go duration such as 150ms, got %q", vals[0])
		} else {
			k.delay = d
		}
	}
	switch {
	case code != codes.OK:
		if msg == "" {
			msg = "demo: injected failure"
			if k.failAfter >= 0 {
				msg = fmt.Sprintf("demo: injected failure after %d messages", k.failAfter)
			}
		}
		k.fail, k.failSet = injectedError(code, msg, method), true
	case k.failAfter >= 0:
		k.fail = injectedError(codes.Aborted, fmt.Sprintf("demo: injected failure after %d messages", k.failAfter), method)
	}
	return k, v.err()
}

// parseFail parses CODE[:message], CODE a google.rpc.Code name or number
// other than OK.
func parseFail(s string, v *violations) (codes.Code, string) {
	name, msg, _ := strings.Cut(s, ":")
	name = strings.ToUpper(strings.TrimSpace(name))
	var c codes.Code
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		c = codes.Code(n)
	} else if err := c.UnmarshalJSON([]byte(strconv.Quote(name))); err != nil {
		v.add(MetadataFail, "must be CODE[:message] with CODE a gRPC code name or number, got %q", s)
		return codes.OK, ""
	}
	if c == codes.OK {
		v.add(MetadataFail, "code must not be OK")
		return codes.OK, ""
	}
	return c, strings.TrimSpace(msg)
}

func injectedError(c codes.Code, msg, method string) error {
	return statusError(c, msg, errorInfo(ReasonInjected, map[string]string{"method": method}))
}

// echoTrailerKey keeps the -bin suffix last, as gRPC requires of binary
// keys.
func echoTrailerKey(key string) string {
	if base, ok := strings.CutSuffix(key, "-bin"); ok {
		return base + EchoTrailerSuffix + "-bin"
	}
	return key + EchoTrailerSuffix
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return contextError(ctx)
	case <-t.C:
		return nil
	}
}

// withKnobs returns a copy of desc whose handlers apply the test knobs
// inside the server's interceptors, so knobs work on any server the library
// is registered on, and the interceptors see the injected failures.
func withKnobs(desc *grpc.ServiceDesc) *grpc.ServiceDesc {
	out := *desc
	out.Methods = make([]grpc.MethodDesc, len(desc.Methods))
	for i, m := range desc.Methods {
		out.Methods[i] = grpc.MethodDesc{MethodName: m.MethodName, Handler: unaryWithKnobs(m.Handler)}
	}
	out.Streams = make([]grpc.StreamDesc, len(desc.Streams))
	for i, s := range desc.Streams {
		out.Streams[i] = s
		out.Streams[i].Handler = streamWithKnobs(s)
	}
	return &out
}

func unaryWithKnobs(h grpc.MethodHandler) grpc.MethodHandler {
	return func(srv any, ctx context.Context, dec func(any) error, outer grpc.UnaryServerInterceptor) (any, error) {
		// The generated handler decodes the request, then calls this
		// interceptor, which runs the server's interceptor (if any) around
		// the knobs around the method.
		return h(srv, ctx, dec, func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			inner := func(ctx context.Context, req any) (any, error) {
				return unaryKnobs(ctx, req, info.FullMethod, handler)
			}
			if outer == nil {
				return inner(ctx, req)
			}
			return outer(ctx, req, info, inner)
		})
	}
}

func unaryKnobs(ctx context.Context, req any, method string, handler grpc.UnaryHandler) (any, error) {
	k, err := readKnobs(ctx, method)
	if err := grpc.SetHeader(ctx, k.header); err != nil {
		return nil, err
	}
	if err := grpc.SetTrailer(ctx, k.trailer); err != nil {
		return nil, err
	}
	if err == nil && k.failSet {
		err = k.fail
	}
	if err != nil {
		// Send the header first, so the failure is not a trailers-only
		// response: the proxy must forward both.
		if herr := grpc.SendHeader(ctx, nil); herr != nil {
			return nil, herr
		}
		return nil, err
	}
	if k.delay > 0 {
		if err := sleep(ctx, k.delay); err != nil {
			return nil, err
		}
	}
	return handler(ctx, req)
}

func streamWithKnobs(desc grpc.StreamDesc) grpc.StreamHandler {
	h := desc.Handler
	countSends := desc.ServerStreams && !desc.ClientStreams
	return func(srv any, ss grpc.ServerStream) error {
		method, _ := grpc.MethodFromServerStream(ss)
		k, err := readKnobs(ss.Context(), method)
		if err := ss.SetHeader(k.header); err != nil {
			return err
		}
		ss.SetTrailer(k.trailer)
		if err == nil && k.fail != nil && (k.failAfter < 0 || (k.failAfter == 0 && countSends)) {
			err = k.fail
		}
		if err != nil {
			if herr := ss.SendHeader(nil); herr != nil {
				return herr
			}
			return err
		}
		ctx, cancel := context.WithCancel(ss.Context())
		defer cancel()
		ks := &knobStream{ServerStream: ss, ctx: ctx, cancel: cancel, k: k, countSends: countSends}
		err = h(srv, ks)
		if injected := ks.injectedError(); injected != nil {
			return injected
		}
		return err
	}
}

// knobStream applies x-demo-delay and x-demo-fail-after to one stream.
// gRPC allows SendMsg and RecvMsg to run in two goroutines at once, hence
// the mutex.
type knobStream struct {
	grpc.ServerStream
	ctx        context.Context
	cancel     context.CancelFunc
	k          knobs
	countSends bool // server streaming: fail-after counts messages sent

	mu         sync.Mutex
	sent       int
	received   int
	headerSent bool
	injected   error
}

func (s *knobStream) Context() context.Context { return s.ctx }

func (s *knobStream) SendHeader(md metadata.MD) error {
	err := s.ServerStream.SendHeader(md)
	if err == nil {
		s.mu.Lock()
		s.headerSent = true
		s.mu.Unlock()
	}
	return err
}

func (s *knobStream) SendMsg(m any) error {
	if s.k.delay > 0 {
		if err := sleep(s.ctx, s.k.delay); err != nil {
			return err
		}
	}
	if err := s.injectedError(); err != nil {
		return err
	}
	if err := s.ServerStream.SendMsg(m); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.headerSent = true
	s.sent++
	if s.countSends && s.k.failAfter >= 0 && s.sent >= s.k.failAfter {
		s.injected = s.k.fail
		s.cancel() // ends a handler waiting for its next message to send
	}
	return nil
}

func (s *knobStream) RecvMsg(m any) error {
	if !s.countSends && s.k.failAfter >= 0 {
		s.mu.Lock()
		reached := s.received >= s.k.failAfter
		sendHeader := reached && !s.headerSent
		if reached {
			s.injected = s.k.fail
			s.headerSent = true
			s.cancel()
		}
		s.mu.Unlock()
		if reached {
			if sendHeader {
				if err := s.ServerStream.SendHeader(nil); err != nil {
					return err
				}
			}
			return s.k.fail
		}
	}
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	s.mu.Lock()
	s.received++
	s.mu.Unlock()
	return nil
}

func (s *knobStream) injectedError() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.injected
}

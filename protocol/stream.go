package protocol

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/frame"
)

// errHeaderSent mirrors grpc-go: headers cannot change once sent.
var errHeaderSent = status.Error(codes.Internal, "transport: the stream is done or WriteHeader was already called")

// Stream is one call an HTTP adapter (REST, WebSocket, gRPC-Web,
// Connect) runs through the chain, seen as the grpc.ServerStream the
// chain and the proxy expect, carrying *frame.Frame messages. What the
// adapters share lives here: request messages are read from Next only
// when the proxy asks for one; header and trailer metadata are collected
// as grpc-go collects them (headers merge until sent, then refuse
// changes); the request side can be stopped before the handler returns;
// and a call that ended reports why (the policy's cause, the deadline,
// the client gone), not how a read failed. What differs between the
// protocols is in the three hooks.
//
// Set the hooks before the stream is dispatched and do not change them
// after. Interceptors may set headers and trailers from other goroutines
// than the proxy's; Stream is safe for that.
type Stream struct {
	// Next yields the next request message, io.EOF after the last one,
	// or the error that ended the request.
	Next func() ([]byte, error)
	// Header is called once, with the header metadata, when the headers
	// are sent: by SendHeader (withMessage false: nothing follows yet,
	// so an adapter that buffers should flush), or just before the first
	// response message (withMessage true).
	Header func(md metadata.MD, withMessage bool)
	// Message writes one response message.
	Message func(data []byte) error
	// NextReportsEnd says that Next words its errors itself, the end of
	// the call included (REST's body reader tells its own read timeout
	// from the call's end). Otherwise an error from Next while the call's
	// context is done is replaced by the call's status (see Status): a
	// read cut short by the end of the call says why, not how.
	NextReportsEnd bool

	ctx    context.Context
	method string
	name   string // the protocol's, in errors

	// recvMu is held while RecvMsg reads, so that StopReceiving can wait
	// for a read in flight to end before the handler returns.
	recvMu    sync.Mutex
	recvEnded bool // Next returned an error; guarded by recvMu

	mu          sync.Mutex
	recvStopped bool // the handler is done with the request
	header      metadata.MD
	headerSent  bool
	trailer     metadata.MD
}

var _ grpc.ServerStream = (*Stream)(nil)

// NewStream returns the stream of a call of method ("/pkg.Service/Method")
// made over protocol p, whose context is ctx with the stream as its
// grpc.ServerTransportStream, so that grpc.SetHeader, grpc.SetTrailer and
// grpc.Method work as for native calls.
func NewStream(ctx context.Context, p Protocol, method string) *Stream {
	s := &Stream{method: method, name: string(p)}
	s.ctx = grpc.NewContextWithServerTransportStream(ctx, transportStream{s})
	return s
}

// Context returns the call's context.
func (s *Stream) Context() context.Context { return s.ctx }

// RecvMsg yields the next request message into m, a *frame.Frame, then
// io.EOF. Once the call's context is done it reports the call's status
// instead (see Status), and once StopReceiving ran, CANCELLED.
func (s *Stream) RecvMsg(m any) error {
	f, ok := m.(*frame.Frame)
	if !ok {
		return status.Errorf(codes.Internal, "%s stream: cannot receive into %T", s.name, m)
	}
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	s.mu.Lock()
	stopped := s.recvStopped
	s.mu.Unlock()
	if s.recvEnded || stopped {
		if err := Status(s.ctx); err != nil {
			return err
		}
		if !s.recvEnded {
			return status.Errorf(codes.Canceled, "%s stream: the HTTP exchange is over", s.name)
		}
		return io.EOF
	}
	data, err := s.Next()
	if err != nil {
		s.recvEnded = true
		if err != io.EOF && !s.NextReportsEnd {
			if cerr := Status(s.ctx); cerr != nil {
				// The read failed because the call ended (a policy, the
				// deadline, the client gone): say why, not how.
				return cerr
			}
		}
		return err
	}
	f.SetBytes(data)
	return nil
}

// Status is the status of a call whose context ctx is done, nil while it
// is not: the cause a policy ended it with when that is a status, a
// deadline as DEADLINE_EXCEEDED whoever set it, else CANCELLED.
func Status(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	cause := context.Cause(ctx)
	if _, ok := status.FromError(cause); ok {
		return cause
	}
	if errors.Is(cause, context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, context.DeadlineExceeded.Error())
	}
	return status.FromContextError(err).Err()
}

// StopReceiving ends the request side before the handler returns: later
// RecvMsg calls fail at once, and a read in flight (the upstream ended
// while the client was still sending) is cut short by a read deadline on
// rc and waited for, since net/http forbids reading the body once the
// handler returned. rc may be nil when the request is not read from an
// HTTP body.
func (s *Stream) StopReceiving(rc *http.ResponseController) {
	s.mu.Lock()
	s.recvStopped = true
	s.mu.Unlock()
	if s.recvMu.TryLock() {
		s.recvMu.Unlock()
		return
	}
	if rc != nil {
		_ = rc.SetReadDeadline(time.Now())
	}
	s.recvMu.Lock()
	//lint:ignore SA2001 waiting for the read in flight to end is the point
	s.recvMu.Unlock()
}

// SendMsg writes m, a *frame.Frame from the proxy, sending the headers
// first if nothing sent them. The frame is consumed: its bytes are
// handed to Message and its buffers released.
func (s *Stream) SendMsg(m any) error {
	f, ok := m.(*frame.Frame)
	if !ok {
		return status.Errorf(codes.Internal, "%s stream: cannot send %T", s.name, m)
	}
	data := f.Bytes()
	f.Free()
	s.sendHeader(true)
	return s.Message(data)
}

// sendHeader calls the Header hook, once.
func (s *Stream) sendHeader(withMessage bool) {
	s.mu.Lock()
	if s.headerSent {
		s.mu.Unlock()
		return
	}
	s.headerSent = true
	md := s.header
	s.mu.Unlock()
	s.Header(md, withMessage)
}

// SetHeader merges md into the response headers, until they are sent.
func (s *Stream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.headerSent {
		return errHeaderSent
	}
	s.header = metadata.Join(s.header, md)
	return nil
}

// SendHeader sends the response headers, merged with md.
func (s *Stream) SendHeader(md metadata.MD) error {
	s.mu.Lock()
	if s.headerSent {
		s.mu.Unlock()
		return errHeaderSent
	}
	s.header = metadata.Join(s.header, md)
	s.mu.Unlock()
	s.sendHeader(false)
	return nil
}

// SetTrailer merges md into the trailers, sent when the call ends.
func (s *Stream) SetTrailer(md metadata.MD) {
	s.mu.Lock()
	s.trailer = metadata.Join(s.trailer, md)
	s.mu.Unlock()
}

// Headers returns the header metadata, and whether it was sent already
// (by SendHeader or with a message).
func (s *Stream) Headers() (md metadata.MD, sent bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header, s.headerSent
}

// Trailers returns the trailer metadata.
func (s *Stream) Trailers() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trailer
}

// Once yields what build returns (the one request message of a unary
// call, or the error building it) when first asked, then io.EOF.
func Once(build func() ([]byte, error)) func() ([]byte, error) {
	done := false
	return func() ([]byte, error) {
		if done {
			return nil, io.EOF
		}
		done = true
		return build()
	}
}

// transportStream is the grpc.ServerTransportStream in the call's context.
type transportStream struct{ s *Stream }

var _ grpc.ServerTransportStream = transportStream{}

func (t transportStream) Method() string                  { return t.s.method }
func (t transportStream) SetHeader(md metadata.MD) error  { return t.s.SetHeader(md) }
func (t transportStream) SendHeader(md metadata.MD) error { return t.s.SendHeader(md) }
func (t transportStream) SetTrailer(md metadata.MD) error {
	t.s.SetTrailer(md)
	return nil
}

package connectproto

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

// serverStream is one Connect call seen as a grpc.ServerStream: request
// messages come from next, read from the HTTP request only when the proxy
// asks for one; response messages and headers go to the call's responder.
// Interceptors may set headers and trailers from other goroutines than
// the proxy's, hence the locks.
type serverStream struct {
	ctx    context.Context
	method string
	next   func() ([]byte, error) // the next request message; io.EOF at the end

	// recvMu is held while RecvMsg runs, so that stopReceiving can wait
	// for a read of the body to end before the handler returns.
	recvMu    sync.Mutex
	recvEnded bool // guarded by recvMu

	mu          sync.Mutex
	recvStopped bool
	header      metadata.MD
	headerSent  bool
	trailer     metadata.MD
	onHeader    func(metadata.MD)       // once, when headers are sent
	onMessage   func(data []byte) error // per response message
}

var _ grpc.ServerStream = (*serverStream)(nil)

// Context returns the call's context: the request's, with metadata, peer,
// deadline, protocol and the transport stream.
func (s *serverStream) Context() context.Context { return s.ctx }

// RecvMsg yields the next request message, then io.EOF or the error that
// ended the body.
func (s *serverStream) RecvMsg(m any) error {
	f, ok := m.(*frame.Frame)
	if !ok {
		return status.Errorf(codes.Internal, "connect stream: cannot receive into %T", m)
	}
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	s.mu.Lock()
	stopped := s.recvStopped
	s.mu.Unlock()
	if s.recvEnded || stopped {
		if err := s.ctxStatus(); err != nil {
			return err
		}
		if !s.recvEnded {
			return status.Error(codes.Canceled, "connect stream: the HTTP exchange is over")
		}
		return io.EOF
	}
	data, err := s.next()
	if err != nil {
		s.recvEnded = true
		if err != io.EOF {
			if cerr := s.ctxStatus(); cerr != nil {
				// The read failed because the call ended (deadline,
				// policy, client gone): say why, not how.
				return cerr
			}
		}
		return err
	}
	f.SetBytes(data)
	return nil
}

// ctxStatus is the status of the call's context once it is done, nil
// before: the cause a policy ended it with when that is a status, a
// deadline as DEADLINE_EXCEEDED whoever set it.
func (s *serverStream) ctxStatus() error {
	err := s.ctx.Err()
	if err == nil {
		return nil
	}
	cause := context.Cause(s.ctx)
	if _, ok := status.FromError(cause); ok {
		return cause
	}
	if errors.Is(cause, context.DeadlineExceeded) {
		return status.Error(codes.DeadlineExceeded, context.DeadlineExceeded.Error())
	}
	return status.FromContextError(err).Err()
}

// stopReceiving ends the request side before the handler returns: later
// RecvMsg calls fail at once, and a read in flight (the upstream ended
// while the client was still sending) is cut short by a read deadline and
// waited for, since net/http forbids reading the body once the handler
// returned.
func (s *serverStream) stopReceiving(rc *http.ResponseController) {
	s.mu.Lock()
	s.recvStopped = true
	s.mu.Unlock()
	if s.recvMu.TryLock() {
		s.recvMu.Unlock()
		return
	}
	_ = rc.SetReadDeadline(time.Now())
	s.recvMu.Lock()
	//lint:ignore SA2001 waiting for the read in flight to end is the point
	s.recvMu.Unlock()
}

// once yields what build returns when first asked, then io.EOF.
func once(build func() ([]byte, error)) func() ([]byte, error) {
	done := false
	return func() ([]byte, error) {
		if done {
			return nil, io.EOF
		}
		done = true
		return build()
	}
}

// SendMsg takes one response frame from the proxy; the frame's buffers
// are released once its bytes are copied out.
func (s *serverStream) SendMsg(m any) error {
	f, ok := m.(*frame.Frame)
	if !ok {
		return status.Errorf(codes.Internal, "connect stream: cannot send %T", m)
	}
	data := f.Bytes()
	f.Free()
	s.sendHeaderIfNeeded()
	return s.onMessage(data)
}

func (s *serverStream) sendHeaderIfNeeded() {
	s.mu.Lock()
	if s.headerSent {
		s.mu.Unlock()
		return
	}
	s.headerSent = true
	md := s.header
	s.mu.Unlock()
	s.onHeader(md)
}

// SetHeader merges md into the response headers, until they are sent.
func (s *serverStream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.headerSent {
		return errHeaderSent
	}
	s.header = metadata.Join(s.header, md)
	return nil
}

// SendHeader sends the response headers, merged with md.
func (s *serverStream) SendHeader(md metadata.MD) error {
	s.mu.Lock()
	if s.headerSent {
		s.mu.Unlock()
		return errHeaderSent
	}
	s.header = metadata.Join(s.header, md)
	s.mu.Unlock()
	s.sendHeaderIfNeeded()
	return nil
}

// SetTrailer merges md into the trailers, sent when the call ends.
func (s *serverStream) SetTrailer(md metadata.MD) {
	s.mu.Lock()
	s.trailer = metadata.Join(s.trailer, md)
	s.mu.Unlock()
}

// headers returns the header metadata and whether it was sent already.
func (s *serverStream) headers() (metadata.MD, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header, s.headerSent
}

func (s *serverStream) trailers() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trailer
}

// transportStream is the grpc.ServerTransportStream in the call's
// context, so that grpc.SetHeader, grpc.SetTrailer and grpc.Method work
// for Connect calls as they do for native ones.
type transportStream struct{ s *serverStream }

var _ grpc.ServerTransportStream = transportStream{}

func (t transportStream) Method() string                  { return t.s.method }
func (t transportStream) SetHeader(md metadata.MD) error  { return t.s.SetHeader(md) }
func (t transportStream) SendHeader(md metadata.MD) error { return t.s.SendHeader(md) }
func (t transportStream) SetTrailer(md metadata.MD) error {
	t.s.SetTrailer(md)
	return nil
}

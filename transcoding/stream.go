package transcoding

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

// restStream is one REST call seen as a grpc.ServerStream: its inbound
// messages come from next (the one request of a unary call, or the
// messages of a streamed body, read as they are asked for), and what the
// proxy sends back is handed to a responder that writes HTTP. Header and
// trailer metadata are collected here for the responder. Interceptors may
// touch headers from other goroutines than the proxy's, hence the lock.
type restStream struct {
	ctx    context.Context
	method string
	next   func() ([]byte, error) // the next request message; io.EOF at the end

	// recvMu is held while RecvMsg runs, so that stopReceiving can wait
	// for a read of the body to end before the handler returns.
	recvMu    sync.Mutex
	recvEnded bool // next returned an error; guarded by recvMu

	mu          sync.Mutex
	recvStopped bool // the handler is done with the body
	header      metadata.MD
	headerSent  bool
	trailer     metadata.MD
	onHeader    func(metadata.MD)       // called once, when headers are sent
	onMessage   func(data []byte) error // called per response message
}

var _ grpc.ServerStream = (*restStream)(nil)

// Context returns the call's context: the HTTP request's, with metadata,
// peer, deadline, protocol and the transport stream.
func (s *restStream) Context() context.Context { return s.ctx }

// RecvMsg yields the next request message, then io.EOF (or the error that
// ended the body). After the end, it reports the context's error once the
// call's context is done.
func (s *restStream) RecvMsg(m any) error {
	f, ok := m.(*frame.Frame)
	if !ok {
		return status.Errorf(codes.Internal, "rest stream: cannot receive into %T", m)
	}
	s.recvMu.Lock()
	defer s.recvMu.Unlock()
	s.mu.Lock()
	stopped := s.recvStopped
	s.mu.Unlock()
	if s.recvEnded || stopped {
		if err := s.ctx.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		if !s.recvEnded {
			return status.Error(codes.Canceled, "rest stream: the HTTP exchange is over")
		}
		return io.EOF
	}
	data, err := s.next()
	if err != nil {
		s.recvEnded = true
		return err
	}
	f.SetBytes(data)
	return nil
}

// stopReceiving ends the request side before the handler returns: later
// RecvMsg calls fail at once, and a read of the body in flight (the
// upstream ended while the client was still sending) is cut short by a
// read deadline and waited for, since net/http forbids reading the body
// once the handler returned.
func (s *restStream) stopReceiving(rc *http.ResponseController) {
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

// once yields what build returns (the request message, or the error
// building it), when first asked, then io.EOF.
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

// SendMsg takes one response frame from the proxy. The frame is consumed:
// its bytes are copied out and its buffers released.
func (s *restStream) SendMsg(m any) error {
	f, ok := m.(*frame.Frame)
	if !ok {
		return status.Errorf(codes.Internal, "rest stream: cannot send %T", m)
	}
	data := f.Bytes()
	f.Free()
	s.sendHeaderIfNeeded()
	return s.onMessage(data)
}

func (s *restStream) sendHeaderIfNeeded() {
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
func (s *restStream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.headerSent {
		return errHeaderSent
	}
	s.header = metadata.Join(s.header, md)
	return nil
}

// SendHeader sends the response headers, merged with md.
func (s *restStream) SendHeader(md metadata.MD) error {
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
func (s *restStream) SetTrailer(md metadata.MD) {
	s.mu.Lock()
	s.trailer = metadata.Join(s.trailer, md)
	s.mu.Unlock()
}

// headers returns the header metadata; sent reports whether SendHeader
// (or a message) sent it already.
func (s *restStream) headers() (md metadata.MD, sent bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header, s.headerSent
}

func (s *restStream) trailers() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trailer
}

// transportStream is the grpc.ServerTransportStream in the call's context,
// so that grpc.SetHeader, grpc.SetTrailer and grpc.Method work for REST
// calls as they do for native ones.
type transportStream struct{ s *restStream }

var _ grpc.ServerTransportStream = transportStream{}

func (t transportStream) Method() string                  { return t.s.method }
func (t transportStream) SetHeader(md metadata.MD) error  { return t.s.SetHeader(md) }
func (t transportStream) SendHeader(md metadata.MD) error { return t.s.SendHeader(md) }
func (t transportStream) SetTrailer(md metadata.MD) error {
	t.s.SetTrailer(md)
	return nil
}

// errNoResponse is a unary call that ended OK without a message, which a
// gRPC client would call a protocol violation too.
var errNoResponse = errors.New("upstream ended a unary call without a response message")

package grpcweb

import (
	"context"
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

// webStream is one gRPC-Web call seen as a grpc.ServerStream: RecvMsg
// reads the next request message from the body when asked, SendMsg
// writes a response message through the responder, and header and
// trailer metadata are collected for it. Interceptors may touch headers
// from other goroutines than the proxy's, hence the lock.
type webStream struct {
	ctx    context.Context
	method string
	next   func() ([]byte, error) // the next request message, io.EOF at the end
	encode func([]byte) ([]byte, error)
	rs     *responder

	// recvMu is held while RecvMsg reads, so that stopReceiving can wait
	// for a read in flight to end before the handler returns.
	recvMu    sync.Mutex
	recvEnded bool // guarded by recvMu

	mu          sync.Mutex
	recvStopped bool
	header      metadata.MD
	headerSent  bool
	trailer     metadata.MD
	sentAny     bool // a response message was written
}

var _ grpc.ServerStream = (*webStream)(nil)

// Context is the call's: the request's, with metadata, peer, deadline,
// protocol and the transport stream.
func (s *webStream) Context() context.Context { return s.ctx }

// RecvMsg yields the next request message, then io.EOF or the error that
// ended the body.
func (s *webStream) RecvMsg(m any) error {
	f, ok := m.(*frame.Frame)
	if !ok {
		return status.Errorf(codes.Internal, "grpc-web stream: cannot receive into %T", m)
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
			return status.Error(codes.Canceled, "grpc-web stream: the HTTP exchange is over")
		}
		return io.EOF
	}
	data, err := s.next()
	if err != nil {
		s.recvEnded = true
		if err != io.EOF {
			if ctxErr := s.ctx.Err(); ctxErr != nil {
				// The read failed because the call ended (a policy's
				// deadline, the client gone): that is the call's status.
				return status.FromContextError(ctxErr).Err()
			}
			if _, ok := status.FromError(err); !ok {
				return status.Errorf(codes.Canceled, "grpc-web: read request: %v", err)
			}
		}
		return err
	}
	f.SetBytes(data)
	return nil
}

// stopReceiving ends the request side before the handler returns: later
// RecvMsg calls fail at once, and a read in flight is cut short by a read
// deadline and waited for, since net/http forbids reading the body once
// the handler returned.
func (s *webStream) stopReceiving(rc *http.ResponseController) {
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

// SendMsg writes one response frame from the proxy. The frame is
// consumed: its bytes are copied out and its buffers released.
func (s *webStream) SendMsg(m any) error {
	f, ok := m.(*frame.Frame)
	if !ok {
		return status.Errorf(codes.Internal, "grpc-web stream: cannot send %T", m)
	}
	data := f.Bytes()
	f.Free()
	if s.encode != nil {
		var err error
		if data, err = s.encode(data); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.headerSent, s.sentAny = true, true
	s.mu.Unlock()
	return s.rs.message(data, s.headers)
}

// SetHeader merges md into the response headers, until they are sent.
func (s *webStream) SetHeader(md metadata.MD) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.headerSent {
		return errHeaderSent
	}
	s.header = metadata.Join(s.header, md)
	return nil
}

// SendHeader sends the response headers, merged with md.
func (s *webStream) SendHeader(md metadata.MD) error {
	s.mu.Lock()
	if s.headerSent {
		s.mu.Unlock()
		return errHeaderSent
	}
	s.headerSent = true
	s.header = metadata.Join(s.header, md)
	hdr := s.header
	s.mu.Unlock()
	s.rs.header(hdr)
	return nil
}

// SetTrailer merges md into the trailers, sent when the call ends.
func (s *webStream) SetTrailer(md metadata.MD) {
	s.mu.Lock()
	s.trailer = metadata.Join(s.trailer, md)
	s.mu.Unlock()
}

func (s *webStream) headers() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.header
}

func (s *webStream) trailers() metadata.MD {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.trailer
}

// transportStream is the grpc.ServerTransportStream in the call's context,
// so that grpc.SetHeader, grpc.SetTrailer and grpc.Method work for
// gRPC-Web calls as for native ones.
type transportStream struct{ s *webStream }

var _ grpc.ServerTransportStream = transportStream{}

func (t transportStream) Method() string                  { return t.s.method }
func (t transportStream) SetHeader(md metadata.MD) error  { return t.s.SetHeader(md) }
func (t transportStream) SendHeader(md metadata.MD) error { return t.s.SendHeader(md) }
func (t transportStream) SetTrailer(md metadata.MD) error {
	t.s.SetTrailer(md)
	return nil
}

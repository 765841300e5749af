package transcoding

import (
	"context"
	"errors"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/server/frame"
)

// errHeaderSent mirrors grpc-go: headers cannot change once sent.
var errHeaderSent = status.Error(codes.Internal, "transport: the stream is done or WriteHeader was already called")

// restStream is one REST call seen as a grpc.ServerStream: the request
// message is its only inbound message, and what the proxy sends back is
// handed to a responder that writes HTTP. Header and trailer metadata are
// collected here for the responder. Interceptors may touch headers from
// other goroutines than the proxy's, hence the lock.
type restStream struct {
	ctx    context.Context
	method string

	mu         sync.Mutex
	request    []byte // marshalled request, nil once received
	received   bool
	header     metadata.MD
	headerSent bool
	trailer    metadata.MD
	onHeader   func(metadata.MD)       // called once, when headers are sent
	onMessage  func(data []byte) error // called per response message
}

var _ grpc.ServerStream = (*restStream)(nil)

// Context returns the call's context: the HTTP request's, with metadata,
// peer, deadline, protocol and the transport stream.
func (s *restStream) Context() context.Context { return s.ctx }

// RecvMsg yields the request, once, then io.EOF: REST carries one request
// message. Once the call's context ends it reports the context's error.
func (s *restStream) RecvMsg(m any) error {
	s.mu.Lock()
	if s.received {
		s.mu.Unlock()
		if err := s.ctx.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		return io.EOF
	}
	s.received = true
	req := s.request
	s.request = nil
	s.mu.Unlock()
	f, ok := m.(*frame.Frame)
	if !ok {
		return status.Errorf(codes.Internal, "rest stream: cannot receive into %T", m)
	}
	f.SetBytes(req)
	return nil
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

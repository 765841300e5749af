package protocol_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/frame"
	"github.com/sluice-dev/sluice/protocol"
)

// recorder collects what a Stream's hooks were given.
type recorder struct {
	headers  []metadata.MD
	withMsg  []bool
	messages []string
}

func newStream(ctx context.Context, next func() ([]byte, error)) (*protocol.Stream, *recorder) {
	r := &recorder{}
	s := protocol.NewStream(ctx, protocol.REST, "/pkg.Svc/Method")
	s.Next = next
	s.Header = func(md metadata.MD, withMessage bool) {
		r.headers = append(r.headers, md)
		r.withMsg = append(r.withMsg, withMessage)
	}
	s.Message = func(data []byte) error {
		r.messages = append(r.messages, string(data))
		return nil
	}
	return s, r
}

func send(t *testing.T, s *protocol.Stream, msg string) {
	t.Helper()
	var f frame.Frame
	f.SetBytes([]byte(msg))
	if err := s.SendMsg(&f); err != nil {
		t.Fatal(err)
	}
}

func TestStreamHeaders(t *testing.T) {
	s, r := newStream(context.Background(), protocol.Once(func() ([]byte, error) { return nil, nil }))
	// Through the context, as interceptors set them.
	if err := grpc.SetHeader(s.Context(), metadata.Pairs("a", "1")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetHeader(metadata.Pairs("b", "2")); err != nil {
		t.Fatal(err)
	}
	if m, ok := grpc.Method(s.Context()); !ok || m != "/pkg.Svc/Method" {
		t.Errorf("grpc.Method = %q, %v", m, ok)
	}
	send(t, s, "one")
	send(t, s, "two")
	if len(r.headers) != 1 || !r.withMsg[0] || r.headers[0].Get("a")[0] != "1" || r.headers[0].Get("b")[0] != "2" {
		t.Fatalf("Header hook got %v (with message %v), want a=1 b=2 once, with the first message", r.headers, r.withMsg)
	}
	if len(r.messages) != 2 || r.messages[0] != "one" || r.messages[1] != "two" {
		t.Errorf("messages %q", r.messages)
	}
	if err := s.SetHeader(metadata.Pairs("c", "3")); status.Code(err) != codes.Internal {
		t.Errorf("SetHeader after the headers were sent: %v, want INTERNAL", err)
	}
	if err := s.SendHeader(nil); status.Code(err) != codes.Internal {
		t.Errorf("SendHeader after the headers were sent: %v, want INTERNAL", err)
	}
	s.SetTrailer(metadata.Pairs("t", "1"))
	_ = grpc.SetTrailer(s.Context(), metadata.Pairs("t", "2"))
	if got := s.Trailers().Get("t"); len(got) != 2 {
		t.Errorf("trailers %q, want both", got)
	}
	if md, sent := s.Headers(); !sent || len(md) != 2 {
		t.Errorf("Headers() = %v, %v", md, sent)
	}
}

func TestStreamSendHeaderAlone(t *testing.T) {
	s, r := newStream(context.Background(), nil)
	if err := s.SendHeader(metadata.Pairs("a", "1")); err != nil {
		t.Fatal(err)
	}
	send(t, s, "one")
	if len(r.headers) != 1 || r.withMsg[0] {
		t.Fatalf("Header hook calls: %d, with message %v; want one, alone", len(r.headers), r.withMsg)
	}
}

func TestStreamRecv(t *testing.T) {
	s, _ := newStream(context.Background(), protocol.Once(func() ([]byte, error) { return []byte("req"), nil }))
	var f frame.Frame
	if err := s.RecvMsg(&f); err != nil || string(f.Bytes()) != "req" {
		t.Fatalf("first RecvMsg: %q, %v", f.Bytes(), err)
	}
	if err := s.RecvMsg(&f); err != io.EOF {
		t.Fatalf("second RecvMsg: %v, want io.EOF", err)
	}
	if err := s.RecvMsg(&f); err != io.EOF {
		t.Fatalf("RecvMsg after the end: %v, want io.EOF", err)
	}
	if err := s.RecvMsg(new(int)); status.Code(err) != codes.Internal {
		t.Errorf("RecvMsg into an int: %v, want INTERNAL", err)
	}
}

// A read that fails because the call ended reports why the call ended,
// unless the adapter words the end itself (NextReportsEnd).
func TestStreamRecvAfterTheEnd(t *testing.T) {
	for _, reports := range []bool{false, true} {
		ctx, cancel := context.WithCancelCause(context.Background())
		cause := status.Error(codes.ResourceExhausted, "stalled")
		s, _ := newStream(ctx, func() ([]byte, error) {
			cancel(cause)
			return nil, errors.New("read: connection closed")
		})
		s.NextReportsEnd = reports
		err := s.RecvMsg(new(frame.Frame))
		if want := map[bool]string{false: cause.Error(), true: "read: connection closed"}[reports]; err == nil || err.Error() != want {
			t.Errorf("NextReportsEnd %v: RecvMsg = %v, want %q", reports, err, want)
		}
		// And from then on, the call's status.
		if err := s.RecvMsg(new(frame.Frame)); status.Code(err) != codes.ResourceExhausted {
			t.Errorf("NextReportsEnd %v: later RecvMsg = %v, want the cause", reports, err)
		}
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now())
	defer cancel()
	s, _ := newStream(ctx, func() ([]byte, error) { return nil, errors.New("broken") })
	if err := s.RecvMsg(new(frame.Frame)); status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("past deadline: %v, want DEADLINE_EXCEEDED", err)
	}
}

// StopReceiving waits for a read in flight, and later reads fail.
func TestStreamStopReceiving(t *testing.T) {
	release := make(chan struct{})
	reading := make(chan struct{})
	s, _ := newStream(context.Background(), func() ([]byte, error) {
		close(reading)
		<-release
		return []byte("late"), nil
	})
	recvDone := make(chan error, 1)
	go func() { recvDone <- s.RecvMsg(new(frame.Frame)) }()
	<-reading
	stopped := make(chan struct{})
	go func() {
		s.StopReceiving(nil)
		close(stopped)
	}()
	select {
	case <-stopped:
		t.Fatal("StopReceiving returned while a read was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(release)
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("StopReceiving did not return once the read ended")
	}
	if err := <-recvDone; err != nil {
		t.Fatalf("the read in flight: %v", err)
	}
	if err := s.RecvMsg(new(frame.Frame)); status.Code(err) != codes.Canceled {
		t.Errorf("RecvMsg after StopReceiving: %v, want CANCELLED", err)
	}
}

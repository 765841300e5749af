package deadline_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/interceptors/deadline"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

var bidi = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

func startStreamLimits(t *testing.T) (*gatewaytest.Echo, *grpc.ClientConn) {
	t.Helper()
	d, err := deadline.New(deadline.WithRules(
		deadline.Rule{Methods: []string{"test.Echo.Idle"}, Limits: deadline.Limits{IdleTimeout: idleTimeout}},
		deadline.Rule{Methods: []string{"test.Echo.Long"}, Limits: deadline.Limits{MaxStreamDuration: 400 * time.Millisecond}},
	))
	if err != nil {
		t.Fatal(err)
	}
	up := gatewaytest.StartEcho(t)
	gw := gatewaytest.StartGateway(t, gatewaytest.Route(up.Addr, "*"), d.StreamServerInterceptor())
	return up, gatewaytest.Dial(t, gw.Addr)
}

// ping sends v and waits for its echo.
func ping(s grpc.ClientStream, v string) error {
	if err := s.SendMsg(wrapperspb.String(v)); err != nil {
		return err
	}
	return s.RecvMsg(new(wrapperspb.StringValue))
}

// idleTimeout is the idle timeout of test.Echo.Idle: long enough that a
// ping every 50ms keeps the stream busy however loaded the machine (at
// 300ms, one slow round trip cut a busy stream).
const idleTimeout = 2 * time.Second

// A stream that stays busy outlives its idle timeout; once no message
// crosses it for that long, it ends with CANCELLED and the upstream call is
// cancelled too.
func TestIdleTimeout(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	up, cc := startStreamLimits(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s, err := cc.NewStream(ctx, bidi, "/test.Echo/Idle")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var quiet time.Time // when the last echo arrived: the silence starts then
	for {
		if err := ping(s, "busy"); err != nil {
			t.Fatalf("a busy stream was cut after %v: %v", time.Since(start), err)
		}
		quiet = time.Now()
		if time.Since(start) >= 2*idleTimeout { // busy all along
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	err = s.RecvMsg(new(wrapperspb.StringValue))
	if st := status.Convert(err); st.Code() != codes.Canceled {
		t.Fatalf("idle stream ended with %v, want CANCELLED", err)
	}
	// The gateway saw the last echo a little before the client did, so its
	// silence began a little earlier; the slack below covers that.
	if d := time.Since(quiet); d < idleTimeout-100*time.Millisecond || d > 10*idleTimeout {
		t.Errorf("idle stream cut after %v of silence, want about %v", d, idleTimeout)
	}
	waitEnded(t, up)
}

// A stream may not outlive its maximum duration, busy or not: it ends
// with DEADLINE_EXCEEDED, and the upstream had that duration as its
// deadline.
func TestMaxStreamDuration(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	up, cc := startStreamLimits(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := cc.NewStream(ctx, bidi, "/test.Echo/Long")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		err = ping(s, "busy")
		if err != nil {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("the stream outlived its maximum duration by far")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if status.Code(err) != codes.DeadlineExceeded && !errors.Is(err, context.DeadlineExceeded) {
		// SendMsg may see the end first (io.EOF); the status is in RecvMsg.
		err = s.RecvMsg(new(wrapperspb.StringValue))
	}
	if status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("long stream ended with %v, want DEADLINE_EXCEEDED", err)
	}
	if d := time.Since(start); d < 350*time.Millisecond {
		t.Errorf("stream cut after %v, before its 400ms", d)
	}
	if dl := up.Last().Deadline; dl <= 0 || dl > 400*time.Millisecond {
		t.Errorf("upstream saw deadline %v, want the 400ms stream duration", dl)
	}
	waitEnded(t, up)
}

func waitEnded(t *testing.T, up *gatewaytest.Echo) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if ended := up.Ended(); len(ended) == 1 && ended[0] != nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the upstream call did not end with its context: %v", up.Ended())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

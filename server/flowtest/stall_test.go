package flowtest_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/interceptors/flow"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// TestStallCutsClientAndCancelsUpstream: a client that stops reading is
// cut after the send-stall timeout, the upstream stream is cancelled, the
// client learns why once it reads again, and nothing leaks.
func TestStallCutsClientAndCancelsUpstream(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	const stall = 200 * time.Millisecond
	up := startUpstream(t)
	fc, err := flow.New(flow.WithSendStallTimeout(stall))
	if err != nil {
		t.Fatal(err)
	}
	callErr := make(chan error, 1)
	record := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		err := h(srv, ss)
		callErr <- err
		return err
	}
	addr := gatewaytest.StartGateway(t, gatewaytest.Route(up.addr, "*"), record, fc.StreamServerInterceptor()).Addr
	cc := gatewaytest.Dial(t, addr, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := cc.NewStream(ctx, anyStream, "/flow.Test/Endless")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CloseSend(); err != nil {
		t.Fatal(err)
	}
	if err := s.RecvMsg(new(wrapperspb.BytesValue)); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now() // the client reads nothing from here on

	select {
	case err := <-up.ended:
		waited := time.Since(stopped)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("upstream call ended with %v, want context.Canceled", err)
		}
		// The stalled send began as the windows filled, a little before
		// the client's last read returned.
		if waited < stall/2 {
			t.Errorf("upstream cancelled %v after the client stopped, well before the %v stall timeout", waited, stall)
		}
		t.Logf("upstream cancelled %v after the client stopped reading (stall timeout %v)", waited.Round(time.Millisecond), stall)
	case <-time.After(5 * time.Second):
		t.Fatal("upstream call not cancelled 5s after the client stopped reading")
	}
	select {
	case err := <-callErr:
		if st := status.Convert(err); st.Code() != codes.DeadlineExceeded || !strings.Contains(st.Message(), "send stalled") {
			t.Errorf("gateway ended the call with %v, want DEADLINE_EXCEEDED send stalled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("gateway call still running")
	}

	// Reading again drains what the windows held, then the status.
	var last error
	for range 1000 {
		if last = s.RecvMsg(new(wrapperspb.BytesValue)); last != nil {
			break
		}
	}
	if st := status.Convert(last); st.Code() != codes.DeadlineExceeded || !strings.Contains(st.Message(), "send stalled") {
		t.Errorf("client saw %v, want DEADLINE_EXCEEDED send stalled", last)
	}
}

// TestSlowReaderIsNotCut: a reader that is slow but keeps reading is never
// cut, even when the whole call lasts several stall timeouts. The reader
// pauses 10ms between messages, a hundredth of the stall timeout, so that
// a loaded machine's scheduling gaps cannot look like a stall.
func TestSlowReaderIsNotCut(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	const stall = time.Second
	up := startUpstream(t)
	fc, err := flow.New(flow.WithSendStallTimeout(stall))
	if err != nil {
		t.Fatal(err)
	}
	addr := gatewaytest.StartGateway(t, gatewaytest.Route(up.addr, "*"), fc.StreamServerInterceptor()).Addr
	cc := gatewaytest.Dial(t, addr, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	begin := time.Now()
	readAll(t, cc, up, 300, 10*time.Millisecond) // >= 3s, 3 stall timeouts
	if d := time.Since(begin); d < 2*stall {
		t.Fatalf("the call took %v: too fast to show anything", d)
	}
}

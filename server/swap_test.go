package server_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/grpc"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// SetDispatcher swaps the path of new native calls (a configuration
// reload): a call in flight finishes on the dispatcher it started with,
// new calls take the new one, and Drain on the old one returns only once
// its last call ended.
func TestSetDispatcherDrainsTheOld(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	oldUp, newUp := gatewaytest.StartEcho(t), gatewaytest.StartEcho(t)
	entered, release := make(chan struct{}), make(chan struct{})
	hold := func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		if info.FullMethod == "/test.Echo/Hold" {
			close(entered)
			<-release
		}
		return h(srv, ss)
	}
	old := gatewaytest.NewGateway(t, gatewaytest.Route(oldUp.Addr, "test.*"), hold)
	old.Start(t)
	next := gatewaytest.NewGateway(t, gatewaytest.Route(newUp.Addr, "test.*"))
	cc := gatewaytest.Dial(t, old.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	held := make(chan error, 1)
	go func() {
		_, _, err := gatewaytest.Call(ctx, cc, "/test.Echo/Hold", "held")
		held <- err
	}()
	<-entered
	old.Gateway.SetDispatcher(next.Dispatcher)
	if _, _, err := gatewaytest.Call(ctx, cc, "/test.Echo/New", "new"); err != nil {
		t.Fatal(err)
	}
	if n := len(newUp.Calls()); n != 1 {
		t.Errorf("the new dispatcher's upstream got %d calls, want the one made after the swap", n)
	}
	short, cancelShort := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancelShort()
	if err := old.Dispatcher.Drain(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Drain with a call in flight: %v, want it to wait (DeadlineExceeded)", err)
	}
	close(release)
	if err := <-held; err != nil {
		t.Errorf("the call in flight across the swap: %v", err)
	}
	if err := old.Dispatcher.Drain(ctx); err != nil {
		t.Errorf("Drain once the call ended: %v", err)
	}
	if n := len(oldUp.Calls()); n != 1 {
		t.Errorf("the old dispatcher's upstream got %d calls, want the held one", n)
	}
}

package protocol_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/protocol"
)

// A context the policies derive from an endable one ends it, with a
// deadline shown as such, once EndWhenDone sees it done; stop undoes that.
func TestEndWhenDone(t *testing.T) {
	t.Parallel()
	t.Run("deadline", func(t *testing.T) {
		t.Parallel()
		call := protocol.EndableContext(context.Background())
		policy, cancel := context.WithTimeout(call, time.Millisecond)
		defer cancel()
		defer protocol.EndWhenDone(policy)()
		select {
		case <-call.Done():
		case <-time.After(10 * time.Second):
			t.Fatal("the call was not ended")
		}
		if !errors.Is(call.Err(), context.DeadlineExceeded) {
			t.Errorf("ended call's Err = %v, want DeadlineExceeded", call.Err())
		}
	})
	t.Run("cancel", func(t *testing.T) {
		t.Parallel()
		call := protocol.EndableContext(context.Background())
		policy, cancel := context.WithCancel(call)
		defer protocol.EndWhenDone(policy)()
		cancel()
		<-call.Done()
		if !errors.Is(call.Err(), context.Canceled) {
			t.Errorf("ended call's Err = %v, want Canceled", call.Err())
		}
	})
	t.Run("stopped", func(t *testing.T) {
		t.Parallel()
		call := protocol.EndableContext(context.Background())
		policy, cancel := context.WithCancel(call)
		protocol.EndWhenDone(policy)()
		cancel()
		if call.Err() != nil {
			t.Errorf("a stopped watch ended the call: %v", call.Err())
		}
	})
	t.Run("no end recorded", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		stop := protocol.EndWhenDone(ctx)
		cancel()
		stop()
	})
	t.Run("custom end", func(t *testing.T) {
		t.Parallel()
		got := make(chan error, 1)
		ctx, cancel := context.WithCancelCause(protocol.WithEnd(context.Background(), func(cause error) { got <- cause }))
		defer protocol.EndWhenDone(ctx)()
		errStall := errors.New("stall")
		cancel(errStall)
		select {
		case cause := <-got:
			if !errors.Is(cause, errStall) {
				t.Errorf("end got cause %v, want the policy's", cause)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("end was not called")
		}
	})
}

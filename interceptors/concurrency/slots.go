package concurrency

import "github.com/sluice-dev/sluice/interceptors/callkey"

// slots is a counting semaphore: a buffered channel whose length is the
// number of slots taken. Taking a free slot is one non-blocking send, and
// waiters queue in the channel in FIFO order, so a queue timeout needs no
// lock of its own.
type slots struct {
	ch chan struct{}
}

func newSlots(n int) *slots { return &slots{ch: make(chan struct{}, n)} }

func (s *slots) tryTake() bool {
	select {
	case s.ch <- struct{}{}:
		return true
	default:
		return false
	}
}

func (s *slots) put() { <-s.ch }

// newKeyedSlots returns per-key slots of limit each: a key's slots exist
// while calls hold or wait for them, so the map never grows past the calls
// in flight.
func newKeyedSlots(limit int) *callkey.Map[slots] {
	return callkey.NewMap(func() slots { return slots{ch: make(chan struct{}, limit)} })
}

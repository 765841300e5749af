package callkey_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sluice-dev/sluice/interceptors/callkey"
)

func TestMapSharesAValuePerKey(t *testing.T) {
	t.Parallel()
	made := 0
	m := callkey.NewMap(func() *int { made++; return new(int) })
	a1, a2, b := m.Acquire("a"), m.Acquire("a"), m.Acquire("b")
	if a1 != a2 || a1.Value != a2.Value {
		t.Error("two references to one key got different entries")
	}
	if a1.Value == b.Value {
		t.Error("two keys share a value")
	}
	if made != 2 || m.Len() != 2 {
		t.Errorf("made %d values, %d keys; want 2, 2", made, m.Len())
	}
	m.Release(a1)
	if m.Len() != 2 {
		t.Errorf("a key with a reference left was dropped: %d keys", m.Len())
	}
	m.Release(a2)
	m.Release(b)
	if m.Len() != 0 {
		t.Errorf("%d keys after every release, want 0", m.Len())
	}
	if again := m.Acquire("a"); again.Value == a1.Value {
		t.Error("a key dropped and acquired again kept its old value")
	}
}

// TestMapConcurrent acquires and releases many keys from many goroutines
// (run it with -race): while a key is held its value is the one every
// holder sees, and when all let go the map is empty, however many
// distinct keys went through it.
func TestMapConcurrent(t *testing.T) {
	t.Parallel()
	type counter struct{ holders atomic.Int64 }
	m := callkey.NewMap(func() *counter { return new(counter) })
	const goroutines, rounds, keys = 8, 2000, 50
	var wg sync.WaitGroup
	errs := make(chan string, goroutines)
	for g := range goroutines {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				key := strconv.Itoa((g*rounds + i) % keys)
				if i%7 == 0 {
					key = "unique-" + strconv.Itoa(g) + "-" + strconv.Itoa(i) // a key seen once
				}
				e := m.Acquire(key)
				if e.Value.holders.Add(1) < 1 {
					errs <- "holder count below one"
					return
				}
				e.Value.holders.Add(-1)
				m.Release(e)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := m.Len(); n != 0 {
		t.Errorf("%d keys left after every release, want 0", n)
	}
}

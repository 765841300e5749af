package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"go.uber.org/fx"
)

// gcHeadroom is the garbage the collector lets accumulate between two
// cycles, at least: GOGC=100 lets the heap grow by the live heap only,
// and sluice's live heap is small (the contracts, the buffers of calls
// in flight), so at 3,000 calls/s the collector ran many times a second
// and took about 15% of the gateway's CPU. With 16 MiB of headroom the
// gateway's CPU per call fell by about 15% on native gRPC and 20-25% on
// REST, and REST's p99 by a third, for 25-35 MiB more RSS under load (34
// to 57-69 MiB); 64 MiB gained no more CPU for 110-150 MiB more RSS
// (docs/benchmarks.md, issue 16). A large live heap (Google's APIs) keeps
// GOGC=100's proportion, and a container's memory limit (setMemoryLimit)
// still bounds the heap whatever this allows.
const gcHeadroom = 16 << 20

// gcRetuneInterval is how often the live heap is read again: it grows
// with the calls in flight and with contract reloads.
const gcRetuneInterval = 5 * time.Second

// gcPercentFor is the GOGC that lets a heap whose live part is live grow
// by max(live, gcHeadroom) before the next cycle.
func gcPercentFor(live uint64) int {
	const floor, ceiling = 100, 100_000
	if live == 0 {
		return floor
	}
	p := gcHeadroom * 100 / live
	return int(min(max(p, floor), ceiling))
}

// liveHeap reads the heap the last collection found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// gcTuner keeps GOGC at gcPercentFor(the live heap) while sluice serves,
// unless the operator set GOGC, which then stays as it is.
type gcTuner struct {
	logger  *slog.Logger
	percent int // the GOGC set last; 0 before the first
	stop    chan struct{}
	done    chan struct{}
}

func newGCTuner(logger *slog.Logger) *gcTuner {
	return &gcTuner{logger: logger, stop: make(chan struct{}), done: make(chan struct{})}
}

// retune sets GOGC for the current live heap when it moved by more than
// a tenth from what was set.
func (t *gcTuner) retune() {
	p := gcPercentFor(liveHeap())
	if t.percent != 0 && p*10 >= t.percent*9 && p*10 <= t.percent*11 {
		return
	}
	debug.SetGCPercent(p)
	if t.percent == 0 {
		t.logger.Debug("garbage collector tuned", "gogc", p, "headroom_bytes", gcHeadroom)
	}
	t.percent = p
}

func (t *gcTuner) run() {
	defer close(t.done)
	tick := time.NewTicker(gcRetuneInterval)
	defer tick.Stop()
	for {
		select {
		case <-t.stop:
			return
		case <-tick.C:
			t.retune()
		}
	}
}

// startGCTuner runs the tuner for the app's lifetime, unless GOGC is set.
func startGCTuner(lc fx.Lifecycle, logger *slog.Logger, getenv func(string) string) {
	if getenv("GOGC") != "" {
		return
	}
	t := newGCTuner(logger)
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error {
			t.retune()
			go t.run()
			return nil
		},
		OnStop: func(context.Context) error {
			close(t.stop)
			<-t.done
			return nil
		},
	})
}

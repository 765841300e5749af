package main

import (
	"context"
	"log/slog"
	"runtime/debug"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"
	"go.uber.org/goleak"
)

func TestGCPercentFor(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{1 << 20, 1600},  // 1 MiB live: 16 MiB of headroom
		{4 << 20, 400},   // 4 MiB: 16 MiB
		{16 << 20, 100},  // 16 MiB: GOGC=100 gives as much
		{200 << 20, 100}, // Google's APIs: GOGC=100's proportion
		{100, 100_000},   // capped
	} {
		if got := gcPercentFor(c.live); got != c.want {
			t.Errorf("gcPercentFor(%d) = %d, want %d", c.live, got, c.want)
		}
	}
}

// The tuner sets GOGC while the app runs, stops with it, and leaves an
// operator's GOGC alone.
func TestGCTuner(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	logger := slog.New(slog.DiscardHandler)

	withEnv := func(k string) string {
		if k == "GOGC" {
			return "50"
		}
		return ""
	}
	debug.SetGCPercent(50)
	app := fxtest.New(t, fx.Invoke(func(lc fx.Lifecycle) { startGCTuner(lc, logger, withEnv) }))
	app.RequireStart()
	if got := debug.SetGCPercent(50); got != 50 {
		t.Errorf("with GOGC set, the tuner changed it to %d", got)
	}
	app.RequireStop()

	noEnv := func(string) string { return "" }
	debug.SetGCPercent(37) // a value the tuner never sets
	app = fxtest.New(t, fx.Invoke(func(lc fx.Lifecycle) { startGCTuner(lc, logger, noEnv) }))
	app.RequireStart()
	if got := debug.SetGCPercent(-1); got == 37 || got < 100 {
		t.Errorf("GOGC %d while running, want the tuner's (at least 100)", got)
	}
	if err := app.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

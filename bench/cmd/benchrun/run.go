package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// errFailedCells reports that some cells could not be measured or saw
// request errors; the report is still written.
var errFailedCells = errors.New("some cells failed")

// sample is one measurement of one cell.
type sample struct {
	System      string  `json:"system"`
	Workload    string  `json:"workload"`
	Mode        string  `json:"mode"`
	Rep         int     `json:"rep"`
	Concurrency int     `json:"concurrency,omitempty"`
	Rate        float64 `json:"rate,omitempty"`
	OK          int     `json:"ok"`
	Errors      int     `json:"errors"`
	ErrorSample string  `json:"error_sample,omitempty"`
	Seconds     float64 `json:"seconds"`
	RPS         float64 `json:"rps"`
	P50ms       float64 `json:"p50_ms"`
	P99ms       float64 `json:"p99_ms"`
	P999ms      float64 `json:"p999_ms"`
	// GatewayCPU is the gateway process's user+system CPU seconds per
	// 10,000 calls; nil for direct (no gateway).
	GatewayCPU  *float64 `json:"gateway_cpu_s_per_10k,omitempty"`
	UpstreamCPU float64  `json:"upstream_cpu_s_per_10k"`
	// PeakRSSMiB is the gateway's VmHWM during this measurement.
	PeakRSSMiB *float64 `json:"gateway_peak_rss_mib,omitempty"`
	Failure    string   `json:"failure,omitempty"`
}

type bench struct {
	o       options
	plan    plan
	tools   tools
	servers servers
	bases   map[string]string // gateway name -> http://addr
	samples []sample
	rates   map[string]float64 // workload -> calibrated fixed rate
	log     func(format string, args ...any)
}

func runBench(ctx context.Context, o options) error {
	start := time.Now()
	p := newPlan(o.quick)
	if o.reps > 0 {
		p.reps = o.reps
	}
	p.modes = slices.DeleteFunc(p.modes, func(m mode) bool { return !selected(o.modes, m.name) })
	ctx, cancel := context.WithTimeout(ctx, p.deadline)
	defer cancel()
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	machine := describeMachine(o)
	srv, err := startServers(o, tmp, true)
	if err != nil {
		return err
	}
	defer srv.stop()
	sd, err := newSeeder(srv["upstream"].addr)
	if err != nil {
		return err
	}
	defer sd.close()
	if err := sd.seed(ctx); err != nil {
		return fmt.Errorf("seed the upstream: %w", err)
	}
	ws, err := workloads(tmp, sd)
	if err != nil {
		return err
	}
	ws = slices.DeleteFunc(ws, func(w *workload) bool { return !selected(o.workloads, w.name) })
	measured := slices.DeleteFunc(slices.Clone(systems), func(s system) bool {
		return s.name != "direct" && !selected(o.systems, s.name)
	})
	b := &bench{
		o: o, plan: p, servers: srv,
		tools: tools{ghzBin: filepath.Join(o.bin, "ghz"), h2loadBin: o.h2load, protoset: filepath.Join(o.root, "gen/descriptors/demo.binpb"), tmp: tmp},
		bases: map[string]string{},
		rates: map[string]float64{},
		log:   func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) },
	}
	for name, pr := range srv {
		b.bases[name] = "http://" + pr.addr
	}
	b.log("bench: seeded; measuring %d workloads x %d systems x %d loads x %d repetitions", len(ws), len(measured), len(p.modes), p.reps)

	warmed := map[string]bool{}
	for rep := range p.reps {
		for _, w := range ws {
			for _, m := range p.modes {
				if !w.runs(m) {
					continue
				}
				if m.rate && b.rates[w.name] == 0 && o.rate > 0 {
					b.rates[w.name] = o.rate
				}
				if m.rate && b.rates[w.name] == 0 {
					b.rates[w.name] = b.calibrate(w.name)
				}
				for _, sys := range measured {
					if !w.has(sys.proto) {
						continue
					}
					if err := ctx.Err(); err != nil {
						return fmt.Errorf("run stopped after %s: %w", time.Since(start).Round(time.Second), err)
					}
					key := sys.name + "/" + w.name
					if !warmed[key] {
						warmed[key] = true
						_, _ = b.drive(ctx, sys, w, load{concurrency: 32, duration: p.warmup})
					}
					s := b.measure(ctx, rep, sys, w, m)
					b.log("  rep %d %-16s %-11s %-4s %8.0f/s p50 %7.2fms p99 %7.2fms errors %d %s",
						rep+1, sys.name, w.name, m.name, s.RPS, s.P50ms, s.P99ms, s.Errors, s.Failure)
					b.samples = append(b.samples, s)
				}
			}
		}
	}
	machine.LoadAvgEnd = loadAvg()
	rep := newReport(b, ws, machine, time.Since(start))
	md := rep.markdown()
	fmt.Print(md)
	if err := rep.write(o.out); err != nil {
		return err
	}
	passed, failed := rep.counts()
	fmt.Printf("\nresults: %s\n", rep.paths)
	fmt.Printf("bench: %d passed, %d failed\n", passed, failed)
	if failed > 0 {
		return errFailedCells
	}
	return nil
}

// calibrate picks the fixed rate of a workload: a share of the slowest
// system's closed-loop throughput at concurrency 32 in the first
// repetition, rounded to two significant digits, so every system is below
// saturation at the same rate.
func (b *bench) calibrate(workload string) float64 {
	slowest := math.Inf(1)
	for _, s := range b.samples {
		if s.Workload == workload && s.Mode == "c32" && s.Rep == 0 && s.Failure == "" {
			slowest = min(slowest, s.RPS)
		}
	}
	if math.IsInf(slowest, 1) {
		return 10
	}
	return max(roundSignificant(slowest*b.plan.rateFraction, 2), 1)
}

func roundSignificant(v float64, digits int) float64 {
	if v <= 0 {
		return 0
	}
	p := math.Pow(10, float64(digits)-math.Ceil(math.Log10(v)))
	return math.Round(v*p) / p
}

// drive runs one load of w against sys.
func (b *bench) drive(ctx context.Context, sys system, w *workload, l load) (result, error) {
	switch sys.proto {
	case protoGRPC:
		return b.tools.ghz(ctx, b.servers[sys.server].addr, w, l)
	case protoWebH1, protoWebH2C:
		return b.tools.grpcWeb(ctx, b.bases[sys.server], sys.proto == protoWebH1, w, l)
	case protoConnect:
		return b.tools.connect(ctx, b.bases[sys.server], w, l)
	default:
		return b.tools.h2load(ctx, b.bases[sys.server], sys.proto == protoH1, w, l)
	}
}

// measure runs one cell, reading the gateway's and the upstream's CPU
// around it and the gateway's peak RSS during it.
func (b *bench) measure(ctx context.Context, rep int, sys system, w *workload, m mode) sample {
	s := sample{System: sys.name, Workload: w.name, Mode: m.name, Rep: rep}
	l := load{concurrency: m.concurrency, duration: b.plan.duration}
	if m.rate {
		l = load{rate: b.rates[w.name], duration: b.plan.rateDuration}
		s.Rate = l.rate
	} else {
		s.Concurrency = m.concurrency
	}
	if w.before != nil {
		if err := w.before(ctx); err != nil {
			s.Failure = "prepare: " + err.Error()
			return s
		}
	}
	up := b.servers["upstream"]
	var gw *proc
	if sys.server != "upstream" {
		gw = b.servers[sys.server]
		_ = resetPeakRSS(gw.pid())
	}
	g0, u0 := cpuOf(gw), cpuOf(up)
	r, err := b.drive(ctx, sys, w, l)
	g1, u1 := cpuOf(gw), cpuOf(up)
	if err != nil {
		s.Failure = err.Error()
		return s
	}
	s.OK, s.Errors, s.ErrorSample = r.ok, r.errors, r.errSample
	s.Seconds = r.elapsed.Seconds()
	if s.Seconds > 0 {
		s.RPS = float64(r.ok) / s.Seconds
	}
	sortDurations(r.latencies)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	s.P50ms, s.P99ms, s.P999ms = ms(percentile(r.latencies, 0.5)), ms(percentile(r.latencies, 0.99)), ms(percentile(r.latencies, 0.999))
	calls := float64(r.ok + r.errors)
	if calls == 0 {
		s.Failure = "no call completed"
		return s
	}
	s.UpstreamCPU = (u1 - u0).Seconds() / calls * 10_000
	if gw != nil {
		cpu := (g1 - g0).Seconds() / calls * 10_000
		s.GatewayCPU = &cpu
		if hwm, err := peakRSS(gw.pid()); err == nil {
			mib := float64(hwm) / (1 << 20)
			s.PeakRSSMiB = &mib
		}
	}
	return s
}

func cpuOf(p *proc) time.Duration {
	if p == nil {
		return 0
	}
	d, _ := cpuTime(p.pid())
	return d
}

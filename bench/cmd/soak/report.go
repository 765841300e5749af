package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// sample is one reading of a gateway.
type sample struct {
	at         time.Duration // since the load started
	rss        uint64
	goroutines int // -1 when the admin port did not answer
}

// sampler reads each gateway's RSS and goroutines every two seconds.
type sampler struct {
	e  *env
	mu sync.Mutex
	by [2][]sample
}

func newSampler(e *env) *sampler { return &sampler{e: e} }

func (s *sampler) run(ctx context.Context) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for i, g := range s.e.gateways {
			rss, ok := g.rss()
			if !ok {
				continue // down (gateway 2 between SIGTERM and restart)
			}
			n, ok := goroutines(ctx, s.e.admins[i])
			if !ok {
				n = -1
			}
			s.mu.Lock()
			s.by[i] = append(s.by[i], sample{at: time.Since(s.e.start), rss: rss, goroutines: n})
			s.mu.Unlock()
		}
	}
}

// report is what the soak found.
type report struct {
	elapsed   time.Duration
	o         options
	counts    map[string]map[string]int
	expected  map[string]int
	lag       map[string]time.Duration
	unexp     map[string]int
	samples   []string
	faults    []string
	memory    [2]memStats
	window    time.Duration
	memFailed bool
	// goroutinesFailed: gateway 1's goroutines in the last window more
	// than twice those of the second window, plus 50.
	goroutinesFailed bool
}

type memStats struct {
	samples                int
	earlyRSS, lateRSS, max float64 // MiB
	earlyG, lateG          float64
	maxG                   int
}

func buildReport(e *env, l *load, s *sampler, elapsed time.Duration) *report {
	r := &report{elapsed: elapsed, o: e.o}
	l.mu.Lock()
	r.counts, r.expected, r.unexp, r.samples, r.lag = l.counts, l.expected, l.unexp, l.samples, l.lag
	l.mu.Unlock()
	e.faults.mu.Lock()
	r.faults = slices.Clone(e.faults.lines)
	e.faults.mu.Unlock()

	// The windows: the second one (warm-up excluded) and the last one, a
	// minute each in a 10-minute run, a fifth of shorter runs.
	r.window = min(time.Minute, elapsed/5)
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.by {
		var m memStats
		var early, late, earlyG, lateG []float64
		for _, x := range s.by[i] {
			mib := float64(x.rss) / (1 << 20)
			m.max = max(m.max, mib)
			m.maxG = max(m.maxG, x.goroutines)
			switch {
			case x.at >= r.window && x.at < 2*r.window:
				early = append(early, mib)
				earlyG = append(earlyG, float64(x.goroutines))
			case x.at >= elapsed-r.window:
				late = append(late, mib)
				lateG = append(lateG, float64(x.goroutines))
			}
		}
		m.samples = len(s.by[i])
		m.earlyRSS, m.lateRSS, m.earlyG, m.lateG = mean(early), mean(late), mean(earlyG), mean(lateG)
		r.memory[i] = m
	}
	// Only gateway 1 runs throughout; gateway 2 restarts every round.
	m := r.memory[0]
	if m.earlyRSS == 0 || m.lateRSS == 0 || m.lateRSS > m.earlyRSS*(1+r.o.maxGrowth/100)+16 {
		r.memFailed = true
	}
	// Goroutines: a leak of one per call would show as thousands.
	if m.earlyG > 0 && m.lateG > 2*m.earlyG+50 {
		r.goroutinesFailed = true
	}
	return r
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	var s float64
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

func (r *report) ok() bool { return len(r.unexp) == 0 && !r.memFailed && !r.goroutinesFailed }

func (r *report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n# sluice soak: %v of load at %d calls/s, two gateways, faults every %v\n\n", r.elapsed.Round(time.Second), r.o.rate, r.o.cycle)

	fmt.Fprintf(&b, "## Calls by protocol and outcome\n\n")
	outcomes := map[string]bool{}
	for _, m := range r.counts {
		for o := range m {
			outcomes[o] = true
		}
	}
	cols := slices.Sorted(maps.Keys(outcomes))
	fmt.Fprintf(&b, "| protocol | total | %s |\n|---|---:|%s\n", strings.Join(cols, " | "), strings.Repeat("---:|", len(cols)))
	total := 0
	for _, p := range slices.Sorted(maps.Keys(r.counts)) {
		n := 0
		var cells []string
		for _, o := range cols {
			n += r.counts[p][o]
			cells = append(cells, fmt.Sprint(r.counts[p][o]))
		}
		total += n
		fmt.Fprintf(&b, "| %s | %d | %s |\n", p, n, strings.Join(cells, " | "))
	}
	fmt.Fprintf(&b, "\n%d calls in all.\n\n", total)

	fmt.Fprintf(&b, "## Expected errors (RESOURCE_EXHAUSTED; UNAVAILABLE or no answer during an outage + %v)\n\n", r.o.grace)
	if len(r.expected) == 0 {
		b.WriteString("none\n")
	}
	for _, k := range slices.Sorted(maps.Keys(r.expected)) {
		fmt.Fprintf(&b, "- %s: %d\n", k, r.expected[k])
	}
	for _, k := range slices.Sorted(maps.Keys(r.lag)) {
		if k != "limit" {
			fmt.Fprintf(&b, "- %s: the last such error ended %v after it was back\n", k, r.lag[k].Round(10*time.Millisecond))
		}
	}
	fmt.Fprintf(&b, "\n## Unexpected errors\n\n")
	if len(r.unexp) == 0 {
		b.WriteString("none\n")
	}
	for _, k := range slices.Sorted(maps.Keys(r.unexp)) {
		fmt.Fprintf(&b, "- %s: %d\n", k, r.unexp[k])
	}
	if len(r.samples) > 0 {
		b.WriteString("\nFirst ones in full:\n\n")
		for _, s := range r.samples {
			fmt.Fprintf(&b, "    %s\n", s)
		}
	}

	fmt.Fprintf(&b, "\n## Memory and goroutines (sampled every 2s; windows of %v)\n\n", r.window)
	b.WriteString("| gateway | samples | RSS 2nd window (MiB) | RSS last window (MiB) | RSS max (MiB) | goroutines 2nd window | goroutines last window | goroutines max |\n|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for i, m := range r.memory {
		note := ""
		if i == 1 {
			note = " (restarted every round)"
		}
		fmt.Fprintf(&b, "| gateway-%d%s | %d | %.1f | %.1f | %.1f | %.0f | %.0f | %d |\n", i+1, note, m.samples, m.earlyRSS, m.lateRSS, m.max, m.earlyG, m.lateG, m.maxG)
	}
	m := r.memory[0]
	fmt.Fprintf(&b, "\nGateway 1 RSS: %.1f -> %.1f MiB (limit %.1f MiB: +%.0f%% + 16 MiB): ", m.earlyRSS, m.lateRSS, m.earlyRSS*(1+r.o.maxGrowth/100)+16, r.o.maxGrowth)
	if r.memFailed {
		b.WriteString("GROWTH\n")
	} else {
		b.WriteString("flat\n")
	}
	fmt.Fprintf(&b, "Gateway 1 goroutines: %.0f -> %.0f (limit 2x + 50): ", m.earlyG, m.lateG)
	if r.goroutinesFailed {
		b.WriteString("GROWTH\n")
	} else {
		b.WriteString("flat\n")
	}

	fmt.Fprintf(&b, "\n## Faults injected\n\n")
	for _, f := range r.faults {
		fmt.Fprintf(&b, "    %s\n", f)
	}
	if r.ok() {
		b.WriteString("\nRESULT: PASS (no unexpected error, flat memory and goroutines)\n")
	} else {
		b.WriteString("\nRESULT: FAIL\n")
	}
	return b.String()
}

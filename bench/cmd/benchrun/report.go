package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// machineInfo describes where the figures were measured.
type machineInfo struct {
	CPU          string  `json:"cpu"`
	Cores        int     `json:"cores"`
	MemoryGiB    float64 `json:"memory_gib"`
	Kernel       string  `json:"kernel"`
	Go           string  `json:"go"`
	H2load       string  `json:"h2load"`
	GHZ          string  `json:"ghz"`
	LoadAvgStart string  `json:"loadavg_start"`
	LoadAvgEnd   string  `json:"loadavg_end"`
}

func describeMachine(o options) machineInfo {
	m := machineInfo{Cores: runtime.NumCPU(), Go: runtime.Version(), LoadAvgStart: loadAvg()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %f kB", &kb); err == nil {
			m.MemoryGiB = math.Round(kb/(1<<20)*10) / 10
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	version := func(argv ...string) string {
		out, _ := exec.Command(argv[0], argv[1:]...).CombinedOutput()
		return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
	}
	m.H2load = version(o.h2load, "--version")
	m.GHZ = "ghz " + ghzVersion(o.root)
	return m
}

// ghzVersion is the ghz version pinned in bench/tools/go.mod (a binary
// built by go install reports "dev").
func ghzVersion(root string) string {
	b, err := os.ReadFile(filepath.Join(root, "bench/tools/go.mod"))
	if err != nil {
		return "(unknown version)"
	}
	for line := range strings.Lines(string(b)) {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "github.com/bojand/ghz" {
			return f[1]
		}
	}
	return "(unknown version)"
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// row is the median of one cell over the repetitions.
type row struct {
	Workload    string   `json:"workload"`
	Mode        string   `json:"mode"`
	System      string   `json:"system"`
	Rate        float64  `json:"rate,omitempty"`
	RPS         float64  `json:"rps"`
	P50ms       float64  `json:"p50_ms"`
	P99ms       float64  `json:"p99_ms"`
	P999ms      float64  `json:"p999_ms"`
	GatewayCPU  *float64 `json:"gateway_cpu_s_per_10k,omitempty"`
	UpstreamCPU float64  `json:"upstream_cpu_s_per_10k"`
	RSSMinMiB   *float64 `json:"gateway_peak_rss_mib_min,omitempty"`
	RSSMaxMiB   *float64 `json:"gateway_peak_rss_mib_max,omitempty"`
	Errors      int      `json:"errors"`
	Failures    int      `json:"failed_measurements"`
	Reps        int      `json:"repetitions"`
}

// ratio compares two systems on one workload and load.
type ratio struct {
	Workload string  `json:"workload"`
	Mode     string  `json:"mode"`
	System   string  `json:"system"`
	Versus   string  `json:"versus"`
	CPU      float64 `json:"gateway_cpu,omitempty"`
	P50      float64 `json:"p50"`
	P99      float64 `json:"p99"`
	RPS      float64 `json:"rps"`
}

// target is one of issue 8's targets, evaluated on this run.
type target struct {
	Name     string  `json:"name"`
	Workload string  `json:"workload"`
	Measured float64 `json:"measured"`
	Limit    float64 `json:"limit"`
	Met      bool    `json:"met"`
	// Floor is, for latency targets against direct, what a bare TCP relay
	// (tcp-relay) costs over direct in the same cell: the part of the
	// ratio any extra process on the path pays, before HTTP/2 or gRPC.
	Floor float64 `json:"floor,omitempty"`
	// FrameFloor is what h2-relay, a frame-level HTTP/2 relay with no
	// policies (bench/cmd/h2relay), costs over direct in the same cell:
	// the floor of a gateway that terminates HTTP/2 (issue 16's fast path).
	FrameFloor float64 `json:"frame_floor,omitempty"`
}

type report struct {
	Date      time.Time   `json:"date"`
	Command   string      `json:"command"`
	Quick     bool        `json:"quick"`
	Partial   string      `json:"partial,omitempty"` // the selection, when only part was measured
	Duration  string      `json:"duration"`
	Machine   machineInfo `json:"machine"`
	Plan      planInfo    `json:"plan"`
	Workloads []wlInfo    `json:"workloads"`
	Rows      []row       `json:"rows"`
	Ratios    []ratio     `json:"ratios"`
	Targets   []target    `json:"targets"`
	Samples   []sample    `json:"samples"`
	paths     string
	units     map[string]string
}

type planInfo struct {
	Repetitions  int                `json:"repetitions"`
	Duration     string             `json:"closed_loop_duration"`
	RateDuration string             `json:"fixed_rate_duration"`
	Warmup       string             `json:"warmup"`
	Rates        map[string]float64 `json:"fixed_rates"`
}

type wlInfo struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	Unit  string `json:"unit"`
}

func newReport(b *bench, ws []*workload, m machineInfo, took time.Duration) *report {
	r := &report{
		Date: time.Now().UTC().Truncate(time.Second), Command: b.o.command, Quick: b.o.quick,
		Duration: took.Round(time.Second).String(), Machine: m, Samples: b.samples,
		Plan: planInfo{
			Repetitions: b.plan.reps, Duration: b.plan.duration.String(), RateDuration: b.plan.rateDuration.String(),
			Warmup: b.plan.warmup.String(), Rates: b.rates,
		},
		units: map[string]string{},
	}
	var sel []string
	for _, f := range []struct{ name, v string }{{"systems", b.o.systems}, {"workloads", b.o.workloads}, {"modes", b.o.modes}, {"sluice-config", b.o.sluiceConfig}} {
		if f.v != "" {
			sel = append(sel, f.name+"="+f.v)
		}
	}
	if b.o.rate > 0 {
		sel = append(sel, fmt.Sprintf("rate=%g", b.o.rate))
	}
	r.Partial = strings.Join(sel, " ")
	for _, w := range ws {
		r.Workloads = append(r.Workloads, wlInfo{w.name, w.title, w.unit})
		r.units[w.name] = w.unit
		for _, md := range b.plan.modes {
			if !w.runs(md) {
				continue
			}
			for _, sys := range systems {
				if w.has(sys.proto) && (sys.name == "direct" || selected(b.o.systems, sys.name)) {
					r.Rows = append(r.Rows, summarize(b.samples, w.name, md.name, sys.name))
				}
			}
		}
	}
	r.compare()
	return r
}

func summarize(samples []sample, workload, mode, system string) row {
	rw := row{Workload: workload, Mode: mode, System: system}
	var rps, p50, p99, p999, gw, upc, rss []float64
	for _, s := range samples {
		if s.Workload != workload || s.Mode != mode || s.System != system {
			continue
		}
		rw.Reps++
		rw.Rate = s.Rate
		rw.Errors += s.Errors
		if s.Failure != "" {
			rw.Failures++
			continue
		}
		rps, p50, p99, p999 = append(rps, s.RPS), append(p50, s.P50ms), append(p99, s.P99ms), append(p999, s.P999ms)
		upc = append(upc, s.UpstreamCPU)
		if s.GatewayCPU != nil {
			gw = append(gw, *s.GatewayCPU)
		}
		if s.PeakRSSMiB != nil {
			rss = append(rss, *s.PeakRSSMiB)
		}
	}
	rw.RPS, rw.P50ms, rw.P99ms, rw.P999ms, rw.UpstreamCPU = median(rps), median(p50), median(p99), median(p999), median(upc)
	if len(gw) > 0 {
		v := median(gw)
		rw.GatewayCPU = &v
	}
	if len(rss) > 0 {
		lo, hi := slices.Min(rss), slices.Max(rss)
		rw.RSSMinMiB, rw.RSSMaxMiB = &lo, &hi
	}
	return rw
}

// median of v; zero for none.
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

func (r *report) find(workload, mode, system string) (row, bool) {
	for _, rw := range r.Rows {
		if rw.Workload == workload && rw.Mode == mode && rw.System == system && rw.Failures < rw.Reps {
			return rw, true
		}
	}
	return row{}, false
}

// compare fills the ratios (headline) and evaluates the targets.
func (r *report) compare() {
	pairs := [][2]string{
		{"sluice-rest-h1", "grpc-gateway-h1"}, {"sluice-rest-h2c", "grpc-gateway-h2c"},
		{"sluice-grpc", "direct"}, {"grpc-proxy", "direct"}, {"sluice-grpc", "grpc-proxy"},
		{"tcp-relay", "direct"}, {"h2-relay", "direct"}, {"sluice-grpc", "tcp-relay"}, {"h2-relay", "grpc-proxy"},
		{"sluice-rest-h2c", "direct"}, {"grpc-gateway-h2c", "direct"},
		{"sluice-connect-h2c", "sluice-grpc"},
		{"sluice-grpcweb-h1", "sluice-grpc"}, {"sluice-grpcweb-h2c", "sluice-grpc"},
	}
	div := func(a, b float64) float64 {
		if b == 0 {
			return 0
		}
		return a / b
	}
	seen := map[string]bool{}
	for _, rw := range r.Rows {
		key := rw.Workload + "/" + rw.Mode
		if seen[key] {
			continue
		}
		seen[key] = true
		for _, p := range pairs {
			a, ok1 := r.find(rw.Workload, rw.Mode, p[0])
			b, ok2 := r.find(rw.Workload, rw.Mode, p[1])
			if !ok1 || !ok2 {
				continue
			}
			q := ratio{Workload: rw.Workload, Mode: rw.Mode, System: p[0], Versus: p[1],
				P50: div(a.P50ms, b.P50ms), P99: div(a.P99ms, b.P99ms), RPS: div(a.RPS, b.RPS)}
			if a.GatewayCPU != nil && b.GatewayCPU != nil {
				q.CPU = div(*a.GatewayCPU, *b.GatewayCPU)
			}
			r.Ratios = append(r.Ratios, q)
		}
	}
	for _, q := range r.Ratios {
		if q.Mode != "rate" {
			continue
		}
		switch {
		case q.Versus == "grpc-gateway-h1" || q.Versus == "grpc-gateway-h2c":
			r.Targets = append(r.Targets,
				target{Name: q.System + " gateway CPU/request ≤ 0.7× " + q.Versus, Workload: q.Workload, Measured: q.CPU, Limit: 0.7, Met: q.CPU <= 0.7},
				target{Name: q.System + " p99 ≤ " + q.Versus + " at the same rate", Workload: q.Workload, Measured: q.P99, Limit: 1, Met: q.P99 <= 1})
		case q.Versus == "sluice-grpc":
			// Issue 12: gRPC-Web and Connect cost the gateway about what
			// native gRPC does (proto payloads pass through as frames).
			r.Targets = append(r.Targets,
				target{Name: q.System + " gateway CPU/request ≤ 1.2× sluice-grpc", Workload: q.Workload, Measured: q.CPU, Limit: 1.2, Met: q.CPU <= 1.2})
		case q.System == "sluice-grpc" && q.Versus == "direct":
			t := target{Name: "sluice-grpc p50 ≤ 1.3× direct", Workload: q.Workload, Measured: q.P50, Limit: 1.3, Met: q.P50 <= 1.3}
			for _, f := range r.Ratios {
				if f.Workload == q.Workload && f.Mode == q.Mode && f.Versus == "direct" {
					switch f.System {
					case "tcp-relay":
						t.Floor = f.P50
					case "h2-relay":
						t.FrameFloor = f.P50
					}
				}
			}
			r.Targets = append(r.Targets, t)
		}
	}
}

// counts are the cells that passed and failed. A cell fails when it could
// not be measured, or when sluice or the upstream itself (direct) answered
// a call with an error; request errors of the gateways sluice is compared
// with are shown in the table but are theirs, not the harness's.
func (r *report) counts() (passed, failed int) {
	for _, rw := range r.Rows {
		ours := rw.System == "direct" || strings.HasPrefix(rw.System, "sluice-")
		if rw.Failures > 0 || rw.Reps == 0 || (ours && rw.Errors > 0) {
			failed++
		} else {
			passed++
		}
	}
	return passed, failed
}

func (r *report) write(dir string) error {
	stamp := r.Date.Format("20060102T150405Z")
	if r.Quick {
		stamp += "-quick"
	}
	partial := r.Partial != ""
	if partial {
		stamp += "-partial"
	}
	j, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	md := []byte(r.markdown())
	var paths []string
	files := map[string][]byte{stamp + ".json": j, stamp + ".md": md}
	if !partial {
		// latest.* is always a whole run.
		files["latest.json"], files["latest.md"] = j, md
	}
	for name, b := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
		if !strings.HasPrefix(name, "latest") {
			paths = append(paths, p)
		}
	}
	slices.Sort(paths)
	r.paths = strings.Join(paths, ", ")
	return nil
}

func (r *report) markdown() string {
	var b strings.Builder
	m := r.Machine
	fmt.Fprintf(&b, "\n## sluice side-by-side benchmark, %s\n\n", r.Date.Format(time.RFC3339))
	fmt.Fprintf(&b, "- Command: `%s`%s, took %s\n", r.Command, map[bool]string{true: " (quick mode: figures prove the harness only)", false: ""}[r.Quick], r.Duration)
	if r.Partial != "" {
		fmt.Fprintf(&b, "- Partial run: %s\n", r.Partial)
	}
	fmt.Fprintf(&b, "- Machine: %s, %d cores, %.1f GiB, Linux %s, %s; load average %s at start, %s at end\n",
		m.CPU, m.Cores, m.MemoryGiB, m.Kernel, m.Go, m.LoadAvgStart, m.LoadAvgEnd)
	fmt.Fprintf(&b, "- Load generators (on the same cores): %s (gRPC), %s (REST); every process on loopback\n", m.GHZ, m.H2load)
	fmt.Fprintf(&b, "- Each cell: warm-up, then %d repetition(s) of %s closed-loop or %s at a fixed rate; medians shown\n",
		r.Plan.Repetitions, r.Plan.Duration, r.Plan.RateDuration)
	fmt.Fprintf(&b, "- Gateway CPU = the gateway process's utime+stime (/proc/PID/stat) per 10,000 calls; peak RSS = its VmHWM during the cell (min–max over repetitions)\n\n")

	fmt.Fprintf(&b, "### Targets (fixed-rate loads)\n\n| target | workload | measured | limit | | bare TCP hop (tcp-relay ÷ direct) | frame-level HTTP/2 hop (h2-relay ÷ direct) |\n|---|---|---:|---:|---|---:|---:|\n")
	times := func(v float64) string {
		if v == 0 {
			return ""
		}
		return fmt.Sprintf("%.2f×", v)
	}
	for _, t := range r.Targets {
		fmt.Fprintf(&b, "| %s | %s | %.2f× | %.1f× | %s | %s | %s |\n", t.Name, t.Workload, t.Measured, t.Limit, map[bool]string{true: "met", false: "**missed**"}[t.Met], times(t.Floor), times(t.FrameFloor))
	}
	fmt.Fprintf(&b, "\n### Ratios (system ÷ versus, same run)\n\n| workload | load | system | versus | gateway CPU | p50 | p99 | throughput |\n|---|---|---|---|---:|---:|---:|---:|\n")
	for _, q := range r.Ratios {
		cpu := "—"
		if q.CPU != 0 {
			cpu = fmt.Sprintf("%.2f×", q.CPU)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %.2f× | %.2f× | %.2f× |\n", q.Workload, r.modeLabel(q.Workload, q.Mode), q.System, q.Versus, cpu, q.P50, q.P99, q.RPS)
	}
	fmt.Fprintf(&b, "\n### All cells (medians)\n\n")
	for _, w := range r.Workloads {
		fmt.Fprintf(&b, "- `%s`: %s (one call = one %s)\n", w.Name, w.Title, w.Unit)
	}
	fmt.Fprintf(&b, "\n| workload | load | system | calls/s | p50 ms | p99 ms | p99.9 ms | gateway CPU s/10k | upstream CPU s/10k | gateway peak RSS MiB | errors |\n|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, rw := range r.Rows {
		gw, rss := "—", "—"
		if rw.GatewayCPU != nil {
			gw = fmt.Sprintf("%.3f", *rw.GatewayCPU)
		}
		if rw.RSSMinMiB != nil {
			rss = fmt.Sprintf("%.0f–%.0f", *rw.RSSMinMiB, *rw.RSSMaxMiB)
		}
		errs := fmt.Sprint(rw.Errors)
		if rw.Errors > 0 {
			errs = fmt.Sprintf("%d (%s)", rw.Errors, r.errorSample(rw))
		}
		if rw.Failures > 0 {
			errs += fmt.Sprintf(" (%d/%d failed)", rw.Failures, rw.Reps)
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %.2f | %.2f | %.2f | %s | %.3f | %s | %s |\n",
			rw.Workload, r.modeLabel(rw.Workload, rw.Mode), rw.System, rw.RPS, rw.P50ms, rw.P99ms, rw.P999ms, gw, rw.UpstreamCPU, rss, errs)
	}
	return b.String()
}

func (r *report) errorSample(rw row) string {
	for _, s := range r.Samples {
		if s.Workload == rw.Workload && s.Mode == rw.Mode && s.System == rw.System && s.ErrorSample != "" {
			return s.ErrorSample
		}
	}
	return "?"
}

func (r *report) modeLabel(workload, mode string) string {
	if mode == "rate" {
		return fmt.Sprintf("%g/s", r.Plan.Rates[workload])
	}
	return mode
}

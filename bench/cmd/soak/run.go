package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

const (
	librarySvc = "sluice.demo.library.v1.LibraryService"
	apiKey     = "k-soak-0123456789"
)

// env is everything the soak runs: Redis, the upstream, two gateways.
type env struct {
	o        options
	work     string
	descPath string // the descriptor set the gateways load, rewritten to reload
	redis    *proc
	upstream *proc
	gateways [2]*proc
	admins   [2]string
	start    time.Time
	outages  *outages
	faults   *faultLog
}

// outage is a time a component was down: from its fault until it was
// back (zero while it still is).
type outage struct {
	what       string // "upstream", "redis", "gateway-1", "gateway-2"
	start, end time.Time
}

// outages is the record classify reads.
type outages struct {
	mu   sync.Mutex
	list []*outage
}

func (o *outages) begin(what string) *outage {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := &outage{what: what, start: time.Now()}
	o.list = append(o.list, out)
	return out
}

func (o *outages) end(out *outage) {
	o.mu.Lock()
	defer o.mu.Unlock()
	out.end = time.Now()
}

// overlaps reports whether a call from start to end overlapped an outage
// of what, counting grace after the outage ended, and if so how long after
// the component was back the call ended (0 if it ended before).
func (o *outages) overlaps(what string, start, end time.Time, grace time.Duration) (time.Duration, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, out := range o.list {
		if out.what != what {
			continue
		}
		if !out.end.IsZero() && start.After(out.end.Add(grace)) {
			continue
		}
		if end.Before(out.start) {
			continue
		}
		if out.end.IsZero() || end.Before(out.end) {
			return 0, true
		}
		return end.Sub(out.end), true
	}
	return 0, false
}

// faultLog is the list of injected faults, for the report.
type faultLog struct {
	mu    sync.Mutex
	start time.Time
	lines []string
}

func (f *faultLog) add(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := fmt.Sprintf("%7.1fs  ", time.Since(f.start).Seconds()) + fmt.Sprintf(format, args...)
	f.lines = append(f.lines, line)
	fmt.Fprintln(os.Stderr, "soak:", line)
}

func run(ctx context.Context, o options) (ok bool, err error) {
	work := o.work
	if work == "" {
		var err error
		if work, err = os.MkdirTemp("", "sluice-soak-"); err != nil {
			return false, err
		}
		// A temporary work directory goes when the run passed; its logs
		// stay for a failed one.
		defer func() {
			if ok {
				_ = os.RemoveAll(work)
			} else {
				fmt.Fprintln(os.Stderr, "soak: logs and configurations kept in", work)
			}
		}()
	}
	if err = os.MkdirAll(work, 0o755); err != nil {
		return false, err
	}
	e := &env{o: o, work: work, start: time.Now(), outages: &outages{}}
	e.faults = &faultLog{start: e.start}
	defer e.stopAll()
	if err := e.setUp(); err != nil {
		return false, err
	}
	fmt.Fprintf(os.Stderr, "soak: %v of load at %d calls/s, work directory %s\n", o.duration, o.rate, work)

	load := newLoad(e)
	if err := load.dial(); err != nil {
		return false, err
	}
	defer load.close()
	samples := newSampler(e)

	runCtx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	e.start = time.Now()
	e.faults.start = e.start
	var wg sync.WaitGroup
	wg.Go(func() { load.run(runCtx) })
	wg.Go(func() { samples.run(runCtx) })
	wg.Go(func() { e.inject(runCtx) })
	wg.Wait()
	elapsed := time.Since(e.start)

	r := buildReport(e, load, samples, elapsed)
	text := r.String()
	fmt.Print(text)
	if err := os.MkdirAll(o.out, 0o755); err == nil {
		name := filepath.Join(o.out, "soak-"+time.Now().UTC().Format("20060102T150405Z")+".txt")
		if err := os.WriteFile(name, []byte(text), 0o644); err == nil {
			fmt.Fprintln(os.Stderr, "soak: report written to", name)
		}
	}
	return r.ok(), nil
}

// setUp writes the configurations and starts Redis, the upstream and both
// gateways.
func (e *env) setUp() error {
	addr := func() string {
		a, err := freeAddr()
		if err != nil {
			panic(err)
		}
		return a
	}
	desc, err := os.ReadFile(e.o.desc)
	if err != nil {
		return fmt.Errorf("descriptor set: %w", err)
	}
	e.descPath = filepath.Join(e.work, "api.binpb")
	if err := os.WriteFile(e.descPath, desc, 0o644); err != nil {
		return err
	}
	redisAddr, upstreamAddr := addr(), addr()
	_, redisPort, _ := cutLast(redisAddr, ":")
	e.redis = &proc{name: "redis", addr: redisAddr, logPath: filepath.Join(e.work, "redis.log"),
		argv: []string{e.o.redis, "--bind", "127.0.0.1", "--port", redisPort, "--save", "", "--appendonly", "no"}}
	e.upstream = &proc{name: "upstream", addr: upstreamAddr, logPath: filepath.Join(e.work, "upstream.log"),
		argv: []string{e.o.bin, "demo-upstream", "--listen", upstreamAddr}}
	for i := range e.gateways {
		listen, admin := addr(), addr()
		cfg := filepath.Join(e.work, fmt.Sprintf("gateway-%d.yaml", i+1))
		if err := os.WriteFile(cfg, []byte(gatewayConfig(listen, admin, e.descPath, upstreamAddr, redisAddr)), 0o644); err != nil {
			return err
		}
		e.admins[i] = admin
		e.gateways[i] = &proc{name: fmt.Sprintf("gateway-%d", i+1), addr: listen, ready: "http://" + admin + "/readyz",
			logPath: filepath.Join(e.work, fmt.Sprintf("gateway-%d.log", i+1)),
			argv:    []string{e.o.bin, "serve", "--config", cfg}}
	}
	for _, p := range []*proc{e.redis, e.upstream, e.gateways[0], e.gateways[1]} {
		if err := p.start(); err != nil {
			return err
		}
	}
	return nil
}

func (e *env) stopAll() {
	for _, p := range []*proc{e.gateways[0], e.gateways[1], e.upstream, e.redis} {
		if p != nil {
			_, _ = p.stop(15 * time.Second)
		}
	}
}

func cutLast(s, sep string) (string, string, bool) {
	for i := len(s) - len(sep); i >= 0; i-- {
		if s[i:i+len(sep)] == sep {
			return s[:i], s[i+len(sep):], true
		}
	}
	return s, "", false
}

// gatewayConfig is the configuration of one gateway, as users write one:
// API keys and authorization with anonymous reads, deadlines 2s/5s, a
// gateway-wide concurrency limit, a global rate limit on writes in Redis
// (fail open) and a local one on reads per client address.
func gatewayConfig(listen, admin, desc, upstream, redis string) string {
	return fmt.Sprintf(`listen: %s
admin: %s
admin_pprof: true
descriptor_sets: [%s]
contracts:
  refresh_interval: 5s
upstreams:
  - name: library
    target: %s
    methods: ["sluice.demo.library.v1.*"]
log:
  level: warn
server:
  shutdown_grace: 5s
limits:
  max_in_flight: 200
policy:
  authn:
    api_keys:
      keys:
        - {name: soak, hash: "sha256:%x", scopes: [library.write]}
  authz:
    default: deny
    rules:
      - methods: ["%[6]s.Get*", "%[6]s.List*", "%[6]s.ExportBooks"]
        access: anonymous
      - methods: ["sluice.demo.library.v1"]
        access: authenticated
        scopes: [library.write]
  deadline:
    default: 2s
    max: 5s
rate_limits:
  redis:
    address: %[7]s
    on_error: open
  limits:
    - {name: writes, methods: ["%[6]s.Create*"], key: global, rate: 50, burst: 50, global: true}
    - {name: reads, methods: ["%[6]s.Get*", "%[6]s.List*"], key: client_ip, rate: 5000, burst: 5000}
`, listen, admin, desc, upstream, sha256.Sum256([]byte(apiKey)), librarySvc, redis)
}

// inject runs rounds of faults, one per cycle, until ctx ends. Each round:
// the upstream is killed (SIGKILL) and restarted 5s later; Redis likewise;
// contracts are reloaded (the descriptor set rewritten, which both
// gateways notice by polling, and SIGHUP to gateway 1); gateway 2 is
// stopped with SIGTERM and started again 2s after it exited. Gateway 1
// runs throughout, so its memory tells whether the gateway leaks.
func (e *env) inject(ctx context.Context) {
	cycle := e.o.cycle
	if cycle > e.o.duration {
		cycle = e.o.duration
	}
	at := func(frac float64) time.Duration { return time.Duration(float64(cycle) * frac) }
	for round := 0; ; round++ {
		base := time.Duration(round) * cycle
		// A round starts only if it fits before the end, leaving time for
		// the last recovery to show in the load.
		if base+cycle > e.o.duration {
			return
		}
		steps := []struct {
			at time.Duration
			do func()
		}{
			{at(0.10), func() { e.outage(ctx, e.upstream, "upstream", syscall.SIGKILL, 5*time.Second) }},
			{at(0.35), func() { e.outage(ctx, e.redis, "redis", syscall.SIGKILL, 5*time.Second) }},
			{at(0.55), func() { e.reloadContracts() }},
			{at(0.65), func() { e.outage(ctx, e.gateways[1], "gateway-2", syscall.SIGTERM, 2*time.Second) }},
		}
		for _, s := range steps {
			if !sleepUntil(ctx, e.start.Add(base+s.at)) {
				return
			}
			s.do()
		}
	}
}

// outage stops p with sig, waits down, and starts it again.
func (e *env) outage(ctx context.Context, p *proc, what string, sig syscall.Signal, down time.Duration) {
	out := e.outages.begin(what)
	if sig == syscall.SIGKILL {
		p.kill()
		e.faults.add("%s killed (SIGKILL)", what)
	} else {
		took, err := p.stop(30 * time.Second)
		e.faults.add("%s stopped by SIGTERM, exited after %v (err: %v)", what, took.Round(time.Millisecond), err)
	}
	select {
	case <-ctx.Done():
	case <-time.After(down):
	}
	if err := p.start(); err != nil {
		e.faults.add("%s restart FAILED: %v", what, err)
		return
	}
	e.outages.end(out)
	e.faults.add("%s back", what)
}

// reloadContracts rewrites the descriptor set (same contents, new file:
// a reload the gateways must take without a dropped call) and sends
// SIGHUP to gateway 1.
func (e *env) reloadContracts() {
	b, err := os.ReadFile(e.descPath)
	if err == nil {
		tmp := e.descPath + ".tmp"
		if err = os.WriteFile(tmp, b, 0o644); err == nil {
			err = os.Rename(tmp, e.descPath)
		}
	}
	e.faults.add("descriptor set rewritten (err: %v)", err)
	e.faults.add("gateway-1 SIGHUP (contract reload; err: %v)", e.gateways[0].signal(syscall.SIGHUP))
}

func sleepUntil(ctx context.Context, t time.Time) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Until(t)):
		return true
	}
}

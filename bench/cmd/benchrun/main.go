// Command benchrun is the side-by-side benchmark of bench/run.sh. It
// starts one demo upstream, sluice and the gateways it is compared with,
// seeds the upstream, drives every (system, workload, load) cell with ghz
// (gRPC) or h2load (REST over HTTP/1.1 and h2c), and reads each gateway's
// CPU and peak memory from /proc, so the load generator's cost is never
// counted. It prints a markdown table and writes it, with the raw samples,
// as JSON under the results directory.
//
// With -profile it instead runs `sluice serve` with its profiles on the
// admin port (admin_pprof) under a fixed load and prints the top of its
// CPU and allocation profiles.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

func main() {
	var o options
	flag.BoolVar(&o.quick, "quick", false, "one short repetition without the 256 concurrency load: proves the harness works")
	flag.BoolVar(&o.profile, "profile", false, "profile sluice (CPU and allocations) under load instead of comparing")
	flag.StringVar(&o.root, "root", ".", "`dir`ectory of the sluice repository")
	flag.StringVar(&o.bin, "bin", ".bin/bench", "`dir`ectory with the built sluice, grpcgateway, grpcproxy, tcprelay, h2relay and ghz")
	flag.StringVar(&o.h2load, "h2load", "h2load", "h2load `binary`")
	flag.StringVar(&o.out, "out", "bench/results", "`dir`ectory for the JSON and markdown results")
	flag.StringVar(&o.command, "command", "bench/run.sh", "the command line to record in the report")
	flag.StringVar(&o.systems, "systems", "", "comma-separated `names` of the systems to measure (default: all); direct is always measured, as the floor")
	flag.StringVar(&o.workloads, "workloads", "", "comma-separated `names` of the workloads to measure (default: all)")
	flag.StringVar(&o.modes, "modes", "", "comma-separated load `names` to measure: c32, c256, rate (default: the plan's)")
	flag.IntVar(&o.reps, "reps", 0, "repetitions (default: the plan's)")
	flag.Float64Var(&o.rate, "rate", 0, "fixed rate in `calls/s` for every workload (default: calibrated from the c32 loads)")
	flag.StringVar(&o.sluiceConfig, "sluice-config", "", "YAML `file` sluice serves with (its upstream address written as $UPSTREAM), to measure a setting")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	if o.profile {
		err = runProfile(ctx, o)
	} else {
		err = runBench(ctx, o)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "benchrun: %v\n", err)
		if errors.Is(err, errFailedCells) {
			os.Exit(1)
		}
		fmt.Println("bench: 0 passed, 1 failed")
		os.Exit(1)
	}
}

type options struct {
	quick, profile         bool
	root, bin, h2load, out string
	command                string
	// Selections for measuring one lever: empty means everything.
	systems, workloads, modes string
	reps                      int
	rate                      float64
	sluiceConfig              string
}

// selected reports whether name is in the comma-separated list (an empty
// list selects everything).
func selected(list, name string) bool {
	if list == "" {
		return true
	}
	for _, n := range strings.Split(list, ",") {
		if strings.TrimSpace(n) == name {
			return true
		}
	}
	return false
}

// plan is how long and how often each cell is measured.
type plan struct {
	reps         int
	duration     time.Duration // a closed-loop measurement
	rateDuration time.Duration // a fixed-rate measurement: longer, for p99.9
	warmup       time.Duration
	modes        []mode
	rateFraction float64 // fixed rate = this share of the slowest system's c32 throughput
	deadline     time.Duration
}

// mode is one way of loading a system: closed loop at a concurrency, or a
// fixed rate below saturation.
type mode struct {
	name        string
	concurrency int
	rate        bool
}

func newPlan(quick bool) plan {
	if quick {
		return plan{
			// Fixed-rate cells last 2s: a 10,000-message stream can take
			// over a second on a busy machine, and a cell in which no
			// call completed fails the run.
			reps: 1, duration: 500 * time.Millisecond, rateDuration: 2 * time.Second, warmup: 300 * time.Millisecond,
			modes:        []mode{{"c32", 32, false}, {"rate", 0, true}},
			rateFraction: 0.4, deadline: 4 * time.Minute,
		}
	}
	return plan{
		reps: 3, duration: 1500 * time.Millisecond, rateDuration: 2500 * time.Millisecond, warmup: time.Second,
		modes:        []mode{{"c32", 32, false}, {"c256", 256, false}, {"rate", 0, true}},
		rateFraction: 0.4, deadline: 14 * time.Minute,
	}
}

type protocol int

const (
	protoGRPC protocol = iota
	protoH1
	protoH2C
	protoWebH1   // gRPC-Web over HTTP/1.1
	protoWebH2C  // gRPC-Web over cleartext HTTP/2
	protoConnect // the Connect protocol, proto codec, over h2c
)

// system is what a cell measures: a server process reached over one
// protocol.
type system struct {
	name   string
	server string // the process: upstream, sluice, grpcproxy, tcprelay, h2relay, grpcgateway
	proto  protocol
}

// systems, in table order. direct has no gateway: its gateway columns are
// empty and it is the floor the others are compared with.
var systems = []system{
	{"direct", "upstream", protoGRPC},
	{"sluice-grpc", "sluice", protoGRPC},
	{"sluice-grpcweb-h1", "sluice", protoWebH1},
	{"sluice-grpcweb-h2c", "sluice", protoWebH2C},
	{"sluice-connect-h2c", "sluice", protoConnect},
	{"grpc-proxy", "grpcproxy", protoGRPC},
	{"tcp-relay", "tcprelay", protoGRPC},
	{"h2-relay", "h2relay", protoGRPC},
	{"sluice-rest-h1", "sluice", protoH1},
	{"grpc-gateway-h1", "grpcgateway", protoH1},
	{"sluice-rest-h2c", "sluice", protoH2C},
	{"grpc-gateway-h2c", "grpcgateway", protoH2C},
}

// servers are the running processes by name.
type servers map[string]*proc

func (s servers) stop() {
	for _, name := range []string{"sluice", "grpcproxy", "tcprelay", "h2relay", "grpcgateway", "upstream"} {
		if p := s[name]; p != nil {
			p.stop()
		}
	}
}

// startServers starts the demo upstream and, when gateways is set, every
// gateway in front of it.
func startServers(o options, logDir string, gateways bool) (servers, error) {
	bin := func(name string) string { return filepath.Join(o.bin, name) }
	s := servers{}
	up, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := startProc("upstream", up, filepath.Join(logDir, "upstream.log"), bin("sluice"), "demo-upstream", "--listen", up)
	if err != nil {
		return nil, err
	}
	s["upstream"] = p
	if !gateways {
		return s, nil
	}
	// A setting under measurement: the file with the upstream's address
	// filled in.
	var sluiceConfig string
	if o.sluiceConfig != "" {
		b, err := os.ReadFile(o.sluiceConfig)
		if err != nil {
			s.stop()
			return nil, err
		}
		sluiceConfig = filepath.Join(logDir, "sluice.yaml")
		if err := os.WriteFile(sluiceConfig, []byte(strings.ReplaceAll(string(b), "$UPSTREAM", up)), 0o644); err != nil {
			s.stop()
			return nil, err
		}
	}
	specs := []struct {
		name string
		argv func(addr string) []string
	}{
		{"sluice", func(addr string) []string {
			// The per-call access log is at info; the other gateways log
			// nothing per call, so sluice runs at warn.
			argv := []string{bin("sluice"), "serve", "--listen", addr, "--admin", "off",
				"--descriptor-set", filepath.Join(o.root, "gen/descriptors/demo.binpb"), "--log-level", "warn"}
			if sluiceConfig != "" {
				return append(argv, "--config", sluiceConfig)
			}
			return append(argv, "--upstream", "sluice.demo.library.v1.*="+up)
		}},
		{"grpcproxy", func(addr string) []string { return []string{bin("grpcproxy"), "--listen", addr, "--upstream", up} }},
		{"grpcgateway", func(addr string) []string { return []string{bin("grpcgateway"), "--listen", addr, "--upstream", up} }},
		{"tcprelay", func(addr string) []string { return []string{bin("tcprelay"), "--listen", addr, "--upstream", up} }},
		{"h2relay", func(addr string) []string { return []string{bin("h2relay"), "--listen", addr, "--upstream", up} }},
	}
	for _, sp := range specs {
		addr, err := freeAddr()
		if err != nil {
			s.stop()
			return nil, err
		}
		p, err := startProc(sp.name, addr, filepath.Join(logDir, sp.name+".log"), sp.argv(addr)...)
		if err != nil {
			s.stop()
			return nil, err
		}
		s[sp.name] = p
	}
	return s, nil
}

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// runProfile runs `sluice serve` as the harness does, with its admin
// server and admin_pprof on, in front of a seeded demo upstream; drives
// the three calls the targets are about (REST GET and POST over HTTP/1.1,
// gRPC GetBook) at concurrency 32 while it takes a CPU profile through
// /debug/pprof/profile; then saves the allocation profile and prints the
// top of both. What is profiled is the gateway users run, its whole
// interceptor chain included.
func runProfile(ctx context.Context, o options) error {
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "sluice-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	srv, err := startServers(o, tmp, false)
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
		return err
	}
	ws, err := workloads(tmp, sd)
	if err != nil {
		return err
	}
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	admin, err := freeAddr()
	if err != nil {
		return err
	}
	cfg := filepath.Join(tmp, "sluice-profile.yaml")
	if err := os.WriteFile(cfg, []byte("admin_pprof: true\n"), 0o644); err != nil {
		return err
	}
	sluiceBin := filepath.Join(o.bin, "sluice")
	gw, err := startProc("sluice", addr, filepath.Join(tmp, "sluice.log"), sluiceBin, "serve", "--config", cfg,
		"--listen", addr, "--admin", admin, "--upstream", "sluice.demo.library.v1.*="+srv["upstream"].addr,
		"--descriptor-set", filepath.Join(o.root, "gen/descriptors/demo.binpb"), "--log-level", "warn")
	if err != nil {
		return err
	}
	defer gw.stop()
	t := tools{ghzBin: filepath.Join(o.bin, "ghz"), h2loadBin: o.h2load, protoset: filepath.Join(o.root, "gen/descriptors/demo.binpb"), tmp: tmp}
	byName := map[string]*workload{}
	for _, w := range ws {
		byName[w.name] = w
	}
	steps := []struct {
		w    string
		grpc bool
	}{{"unary-small", false}, {"rest-post", false}, {"unary-small", true}}
	l := load{concurrency: 32, duration: 5 * time.Second}

	cpuProf, memProf := filepath.Join(o.out, "sluice-cpu.pprof"), filepath.Join(o.out, "sluice-allocs.pprof")
	seconds := int(l.duration/time.Second)*len(steps) + 1
	cpuDone := make(chan error, 1)
	go func() {
		cpuDone <- fetch(ctx, "http://"+admin+"/debug/pprof/profile?seconds="+strconv.Itoa(seconds), cpuProf, time.Duration(seconds+30)*time.Second)
	}()
	for _, step := range steps {
		w := byName[step.w]
		if w.before != nil {
			if err := w.before(ctx); err != nil {
				return err
			}
		}
		var r result
		if step.grpc {
			r, err = t.ghz(ctx, addr, w, l)
		} else {
			r, err = t.h2load(ctx, "http://"+addr, true, false, w, l)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "profile load %s (grpc=%v): %d ok, %d errors\n", step.w, step.grpc, r.ok, r.errors)
	}
	if err := <-cpuDone; err != nil {
		return fmt.Errorf("CPU profile: %w", err)
	}
	if err := fetch(ctx, "http://"+admin+"/debug/pprof/allocs", memProf, 30*time.Second); err != nil {
		return fmt.Errorf("allocation profile: %w", err)
	}
	for _, p := range []struct{ file, kind string }{{cpuProf, ""}, {memProf, "-sample_index=alloc_space"}} {
		args := []string{"tool", "pprof", "-nodecount=30", "-top"}
		if p.kind != "" {
			args = append(args, p.kind)
		}
		args = append(args, sluiceBin, p.file)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		fmt.Printf("\n$ go %v\n", args)
		if err := cmd.Run(); err != nil {
			return err
		}
	}
	fmt.Printf("\nprofiles: %s %s (go tool pprof -http=: %s %s)\n", cpuProf, memProf, sluiceBin, cpuProf)
	fmt.Println("bench: 1 passed, 0 failed")
	return nil
}

// fetch saves what url answers in file.
func fetch(ctx context.Context, url, file string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("GET %s: %s: %s", url, res.Status, b)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// runProfile runs sluice in-process (sluiceprof) in front of a seeded
// demo upstream, drives the three calls the targets are about (REST GET
// and POST over HTTP/1.1, gRPC GetBook) at concurrency 32, and prints the
// top of the CPU and allocation profiles it wrote.
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
	cpuProf, memProf := filepath.Join(o.out, "sluice-cpu.pprof"), filepath.Join(o.out, "sluice-allocs.pprof")
	addr, err := freeAddr()
	if err != nil {
		return err
	}
	prof, err := startProc("sluiceprof", addr, filepath.Join(tmp, "sluiceprof.log"), filepath.Join(o.bin, "sluiceprof"),
		"--listen", addr, "--upstream", srv["upstream"].addr, "--descriptor-set", filepath.Join(o.root, "gen/descriptors/demo.binpb"),
		"--cpuprofile", cpuProf, "--memprofile", memProf)
	if err != nil {
		return err
	}
	t := tools{ghzBin: filepath.Join(o.bin, "ghz"), h2loadBin: o.h2load, protoset: filepath.Join(o.root, "gen/descriptors/demo.binpb"), tmp: tmp}
	byName := map[string]*workload{}
	for _, w := range ws {
		byName[w.name] = w
	}
	l := load{concurrency: 32, duration: 5 * time.Second}
	for _, step := range []struct {
		w    string
		grpc bool
	}{{"unary-small", false}, {"rest-post", false}, {"unary-small", true}} {
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
			r, err = t.h2load(ctx, "http://"+addr, true, w, l)
		}
		if err != nil {
			prof.stop()
			return err
		}
		fmt.Fprintf(os.Stderr, "profile load %s (grpc=%v): %d ok, %d errors\n", step.w, step.grpc, r.ok, r.errors)
	}
	prof.stop() // SIGTERM: sluiceprof writes its profiles while stopping
	for _, p := range []struct{ file, kind string }{{cpuProf, "-top"}, {memProf, "-sample_index=alloc_space"}} {
		args := []string{"tool", "pprof", "-nodecount=30"}
		if p.kind == "-top" {
			args = append(args, "-top")
		} else {
			args = append(args, "-top", p.kind)
		}
		args = append(args, filepath.Join(o.bin, "sluiceprof"), p.file)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		fmt.Printf("\n$ go %v\n", args)
		if err := cmd.Run(); err != nil {
			return err
		}
	}
	fmt.Printf("\nprofiles: %s %s (go tool pprof -http=: %s %s)\n", cpuProf, memProf, filepath.Join(o.bin, "sluiceprof"), cpuProf)
	fmt.Println("bench: 1 passed, 0 failed")
	return nil
}

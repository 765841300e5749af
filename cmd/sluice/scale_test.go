package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"
)

// maxCorpusRSS bounds the resident memory of `sluice serve` once Google's
// APIs are loaded. The target is 256 MiB (docs/benchmarks.md, "Scale:
// Google's APIs", has the figures); the bound is generous, so that only a
// regression in what is kept fails it, never the machine. It was 1.09 GiB.
const maxCorpusRSS = 400 << 20

// TestCorporaServeMemory measures `sluice serve` on Google's APIs, as a
// gateway replica runs: the real binary, routes only (no upstream is
// needed to load contracts), its RSS read from /proc once it listens and
// its live heap from its own admin pprof endpoint, next to the same on a
// contract of 10 bindings, for the cost per binding; and the wall time of
// `sluice routes` on the corpus. It logs the figures (run it with -v;
// SLUICE_HEAP_PROFILE=FILE also saves the corpus' heap profile for `go
// tool pprof`) and fails only when the RSS exceeds maxCorpusRSS: timings
// are reported, never checked. It skips without the corpus (`make
// corpora`) and under the race detector (gigabytes); `make test` runs it
// without. Not parallel: it would measure other tests' load.
func TestCorporaServeMemory(t *testing.T) {
	corpus := filepath.Join("../../scripts/corpora/out", "googleapis.binpb")
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("corpus %s not built; run scripts/corpora/build.sh (make corpora): %v", corpus, err)
	}
	if raceEnabled {
		t.Skip("Google's corpus is not read under the race detector (memory); `make test` runs this test without it")
	}
	bindings := countBindings(t, corpus)

	small := measureServe(t, writeTenBindings(t), "")
	big := measureServe(t, corpus, os.Getenv("SLUICE_HEAP_PROFILE"))
	perBinding := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(bindings-10) }
	t.Logf("10 bindings:     load %v, RSS %.1f MiB, heap in use %.1f MiB (live %.1f MiB)",
		small.load.Round(time.Millisecond), mib(small.rss), mib(small.heapInuse), mib(small.heapAlloc))
	t.Logf("Google's APIs (%d bindings): load %v, RSS %.1f MiB, heap in use %.1f MiB (live %.1f MiB), peak RSS %.1f MiB",
		bindings, big.load.Round(time.Millisecond), mib(big.rss), mib(big.heapInuse), mib(big.heapAlloc), mib(big.peakRSS))
	t.Logf("per binding over the 10-binding contract: %.0f B of live heap, %.0f B of RSS",
		perBinding(small.heapAlloc, big.heapAlloc), perBinding(small.rss, big.rss))

	start := time.Now()
	if out, err := exec.Command(sluiceBin, "routes", "--descriptor-set", corpus).CombinedOutput(); err != nil {
		t.Fatalf("sluice routes: %v\n%.2000s", err, out)
	}
	t.Logf("sluice routes on Google's APIs: %v wall", time.Since(start).Round(time.Millisecond))

	if big.rss > maxCorpusRSS {
		t.Errorf("RSS after loading Google's APIs is %.1f MiB, over the bound of %d MiB", mib(big.rss), maxCorpusRSS>>20)
	}
}

// serveFigures are what measureServe reads from a gateway that has loaded
// its contracts.
type serveFigures struct {
	load                 time.Duration // from exec to "gateway listening"
	rss, peakRSS         uint64        // VmRSS and VmHWM
	heapAlloc, heapInuse uint64        // after a collection
}

// measureServe starts `sluice serve` on the descriptor set, waits until
// it and its admin server listen (for minutes: a loaded machine is slow, and only memory is
// checked), reads its memory, and stops it. With profile set, it saves
// the heap profile there.
func measureServe(t *testing.T, set, profile string) serveFigures {
	t.Helper()
	cfg := writeConfig(t, "admin_pprof: true\n")
	start := time.Now()
	cmd := exec.Command(sluiceBin, "serve", "--config", cfg, "--descriptor-set", set,
		"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--log-level", "info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	listening := make(chan string, 1) // the admin address, once both servers listen
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		admin, gateway := "", false
		for sc.Scan() {
			var line struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &line) != nil {
				continue
			}
			switch line.Msg {
			case "admin listening":
				admin = line.Addr
			case "gateway listening":
				gateway = true
			default:
				continue
			}
			if admin != "" && gateway {
				listening <- admin
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		_ = cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	var f serveFigures
	var admin string
	select {
	case admin = <-listening:
		f.load = time.Since(start)
	case <-exited:
		t.Fatalf("sluice serve --descriptor-set %s exited before listening", set)
	case <-time.After(5 * time.Minute):
		t.Fatalf("sluice serve --descriptor-set %s did not listen within 5 minutes", set)
	}
	f.rss, f.peakRSS = procMemory(t, cmd.Process.Pid)
	stats := get(t, "http://"+admin+"/debug/pprof/heap?gc=1&debug=1")
	f.heapAlloc, f.heapInuse = memStat(t, stats, "HeapAlloc"), memStat(t, stats, "HeapInuse")
	if profile != "" {
		if err := os.WriteFile(profile, get(t, "http://"+admin+"/debug/pprof/heap?gc=1"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// writeTenBindings writes a descriptor set of one file whose service has
// 10 methods, each with one GET binding, and returns its path.
func writeTenBindings(t *testing.T) string {
	t.Helper()
	str := descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum()
	file := &descriptorpb.FileDescriptorProto{
		Name:       proto.String("scale/v1/scale.proto"),
		Package:    proto.String("scale.v1"),
		Syntax:     proto.String("proto3"),
		Dependency: []string{"google/api/annotations.proto"},
		MessageType: []*descriptorpb.DescriptorProto{
			{Name: proto.String("GetThingRequest"), Field: []*descriptorpb.FieldDescriptorProto{{
				Name: proto.String("name"), JsonName: proto.String("name"), Number: proto.Int32(1),
				Type: str, Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(),
			}}},
			{Name: proto.String("Thing")},
		},
	}
	svc := &descriptorpb.ServiceDescriptorProto{Name: proto.String("ScaleService")}
	for i := range 10 {
		opts := &descriptorpb.MethodOptions{}
		proto.SetExtension(opts, annotations.E_Http, &annotations.HttpRule{
			Pattern: &annotations.HttpRule_Get{Get: fmt.Sprintf("/v1/{name=things%d/*}", i)},
		})
		svc.Method = append(svc.Method, &descriptorpb.MethodDescriptorProto{
			Name:       proto.String(fmt.Sprintf("GetThing%d", i)),
			InputType:  proto.String(".scale.v1.GetThingRequest"),
			OutputType: proto.String(".scale.v1.Thing"),
			Options:    opts,
		})
	}
	file.Service = []*descriptorpb.ServiceDescriptorProto{svc}
	raw, err := proto.Marshal(&descriptorpb.FileDescriptorSet{File: []*descriptorpb.FileDescriptorProto{file}})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "ten.binpb")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// procMemory reads a process's resident set size and its peak.
func procMemory(t *testing.T, pid int) (rss, peak uint64) {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc to read memory from: %v", err)
	}
	kib := func(key string) uint64 {
		for _, line := range strings.Split(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, key+":"); ok {
				n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					t.Fatalf("/proc/%d/status: %s: %v", pid, line, err)
				}
				return n << 10
			}
		}
		t.Fatalf("/proc/%d/status has no %s", pid, key)
		return 0
	}
	return kib("VmRSS"), kib("VmHWM")
}

// memStat reads one runtime.MemStats figure ("# HeapAlloc = 123") from a
// text heap profile.
func memStat(t *testing.T, profile []byte, name string) uint64 {
	t.Helper()
	for _, line := range strings.Split(string(profile), "\n") {
		if v, ok := strings.CutPrefix(line, "# "+name+" = "); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				t.Fatalf("heap profile: %s: %v", line, err)
			}
			return n
		}
	}
	t.Fatalf("heap profile has no %s", name)
	return 0
}

func get(t *testing.T, url string) []byte {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, %v", url, res.StatusCode, err)
	}
	return body
}

func mib(n uint64) float64 { return float64(n) / (1 << 20) }

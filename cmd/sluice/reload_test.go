package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/demo"
)

func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func getStatus(client *http.Client, url string) (int, error) {
	res, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, res.Body)
	_ = res.Body.Close()
	return res.StatusCode, nil
}

// Contracts reload 20 times (SIGHUP) while REST calls run: none fails. A
// broken contract offered at reload is refused and the old routes keep
// serving. Both file sources: a descriptor set rewritten as a deploy
// would, and .proto files edited back and forth (an HTTP binding added
// and removed; the watcher reloads on the edits too).
func TestReloadUnderLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T) reloadSource
	}{
		{"descriptor set", func(t *testing.T) reloadSource {
			set := filepath.Join(t.TempDir(), "api.binpb")
			copyFile(t, "../../gen/descriptors/demo.binpb", set)
			return reloadSource{
				args:    []string{"--descriptor-set", set},
				rewrite: func(int) { copyFile(t, "../../gen/descriptors/demo.binpb", set) },
				breakIt: func() {
					if err := os.WriteFile(set, []byte("not a descriptor set"), 0o600); err != nil {
						t.Fatal(err)
					}
				},
			}
		}},
		{"proto files", func(t *testing.T) reloadSource {
			root := copyProtoTree(t)
			file := filepath.Join(root, demoProtoFile)
			return reloadSource{
				args: []string{"--proto", root},
				rewrite: func(i int) {
					copyFile(t, "../../proto/"+demoProtoFile, file)
					if i%2 == 1 {
						editProto(t, file, addShelfBinding)
					}
				},
				breakIt: func() { editProto(t, file, func(s string) string { s, _ = breakProto(s); return s }) },
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			testReloadUnderLoad(t, tc.setup(t))
		})
	}
}

// reloadSource is a contract file source the reload test drives: its
// flags, how to rewrite it before reload i (1-based), and how to break it.
type reloadSource struct {
	args    []string
	rewrite func(i int)
	breakIt func()
}

func testReloadUnderLoad(t *testing.T, src reloadSource) {
	upstream := startDemoUpstream(t)
	cfgPath := writeConfig(t, "admin: \"\"\ncontracts:\n  refresh_interval: 0s\n")
	p := startSluice(t, append([]string{"serve", "--config", cfgPath, "--listen", "127.0.0.1:0",
		"--upstream", "sluice.demo.library.v1.*=" + upstream}, src.args...)...)
	addr := p.waitLog(t, "gateway listening", "addr")
	url := "http://" + addr + "/v1/" + demo.SeedBookMobyDick

	var calls, failures atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, err := getStatus(client, url)
				calls.Add(1)
				if err != nil || code != http.StatusOK {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("status %d, error %v", code, err))
				}
			}
		}()
	}

	reloads := func() int { return strings.Count(p.log(), `"msg":"SIGHUP: reloading contracts"`) }
	for i := 1; i <= 20; i++ {
		src.rewrite(i)
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for reloads() < i {
			if time.Now().After(deadline) {
				t.Fatalf("reload %d not seen", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond) // let calls run on the new snapshot
	}

	// A broken contract is refused; the old routes keep serving.
	src.breakIt()
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(p.log(), "contracts reload refused") {
		if time.Now().After(deadline) {
			t.Fatal("the broken contract was not refused")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()

	if n := failures.Load(); n != 0 {
		t.Errorf("%d of %d calls failed during reloads; first: %v", n, calls.Load(), firstFailure.Load())
	}
	if calls.Load() < 100 {
		t.Errorf("only %d calls ran during the reloads; the load was too light to show anything", calls.Load())
	}
	if code, err := getStatus(http.DefaultClient, url); err != nil || code != http.StatusOK {
		t.Errorf("after the refused reload: %d %v, want the old routes serving", code, err)
	}
	t.Logf("%d REST calls, 0 failed, across 20 reloads and 1 refused reload", calls.Load())
}

// An upstream's contracts come from its server reflection: with no
// descriptor set, its annotated methods are served over REST once it
// answers, which may be after sluice started.
func TestContractsFromReflection(t *testing.T) {
	t.Parallel()
	// Reserve a port for an upstream that does not run yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	upstreamAddr := ln.Addr().String()
	ln.Close()

	cfgPath := writeConfig(t, fmt.Sprintf(`admin: ""
contracts:
  refresh_interval: 1s
upstreams:
  - name: library
    target: %s
    methods: ["sluice.demo.library.v1"]
    reflection: true
`, upstreamAddr))
	p := startSluice(t, "serve", "--config", cfgPath, "--listen", "127.0.0.1:0")
	addr := p.waitLog(t, "gateway listening", "addr")
	url := "http://" + addr + "/v1/" + demo.SeedBookMobyDick

	if code, err := getStatus(http.DefaultClient, url); err != nil || code != http.StatusNotFound {
		t.Fatalf("before the upstream runs: %d %v, want 404 (no contracts yet)", code, err)
	}

	lib := demo.NewLibrary()
	srv := demo.NewServer(lib)
	uln, err := net.Listen("tcp", upstreamAddr)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(uln) }()
	t.Cleanup(func() { lib.Close(); srv.Stop(); <-done })

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for {
		code, err := getStatus(http.DefaultClient, url)
		if err == nil && code == http.StatusOK {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("REST route never appeared after the upstream started: last %d %v", code, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

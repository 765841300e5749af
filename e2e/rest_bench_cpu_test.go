//go:build unix

package e2e_test

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/metrics"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/transcoding"
)

// The gateway-alone benchmark runs the gateway in a child process (this
// test binary, re-executed into TestGatewayProcess), so that its CPU and
// allocations can be read apart from the client's and the upstream's,
// which stay in the benchmark process.
const (
	envGateway  = "SLUICE_E2E_GATEWAY"
	envUpstream = "SLUICE_E2E_UPSTREAM"
)

// gatewayUsage is one reading of the gateway process's counters.
type gatewayUsage struct {
	cpu    time.Duration // user+system CPU of the process (getrusage)
	user   time.Duration // runtime/metrics /cpu/classes/user:cpu-seconds
	allocs uint64        // runtime/metrics /gc/heap/allocs:objects
}

func readUsage() gatewayUsage {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	s := []metrics.Sample{{Name: "/cpu/classes/user:cpu-seconds"}, {Name: "/gc/heap/allocs:objects"}}
	metrics.Read(s)
	return gatewayUsage{
		cpu:    time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
		user:   time.Duration(s[0].Value.Float64() * float64(time.Second)),
		allocs: s[1].Value.Uint64(),
	}
}

// TestGatewayProcess is not a test: it is the child process of
// BenchmarkRESTGatewayCPU. It serves one gateway, prints its base URL, and
// answers each line on stdin with a reading of its counters until stdin
// closes.
func TestGatewayProcess(t *testing.T) {
	kind := os.Getenv(envGateway)
	if kind == "" {
		t.Skip("the child process of BenchmarkRESTGatewayCPU")
	}
	var base string
	for _, gw := range restGateways {
		if gw.name == kind {
			base = gw.start(t, os.Getenv(envUpstream))
		}
	}
	if kind == compressedGateway {
		base = startSluice(t, os.Getenv(envUpstream), transcoding.WithCompression(0, "zstd", "gzip"))
	}
	if base == "" {
		t.Fatalf("unknown gateway %q", kind)
	}
	fmt.Printf("BASE %s\n", base)
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		u := readUsage()
		fmt.Printf("USAGE %d %d %d\n", u.cpu, u.user, u.allocs)
	}
}

// gatewayProcess is a running child gateway.
type gatewayProcess struct {
	base  string
	stdin io.WriteCloser
	out   *bufio.Scanner
}

func startGatewayProcess(b *testing.B, kind, upstream string) *gatewayProcess {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestGatewayProcess$", "-test.bench=^$", "-test.count=1")
	cmd.Env = append(os.Environ(), envGateway+"="+kind, envUpstream+"="+upstream)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = stdin.Close()
		done := make(chan struct{})
		go func() { _, _ = io.Copy(io.Discard, stdout); _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	p := &gatewayProcess{stdin: stdin, out: bufio.NewScanner(stdout)}
	p.base = p.line(b, "BASE ")
	return p
}

// line returns the rest of the next output line starting with prefix.
func (p *gatewayProcess) line(b *testing.B, prefix string) string {
	b.Helper()
	for p.out.Scan() {
		if rest, ok := strings.CutPrefix(p.out.Text(), prefix); ok {
			return rest
		}
	}
	b.Fatalf("gateway process ended before printing %q: %v", prefix, p.out.Err())
	return ""
}

func (p *gatewayProcess) usage(b *testing.B) gatewayUsage {
	b.Helper()
	if _, err := io.WriteString(p.stdin, "\n"); err != nil {
		b.Fatal(err)
	}
	var u gatewayUsage
	var cpu, user int64
	if _, err := fmt.Sscanf(p.line(b, "USAGE "), "%d %d %d", &cpu, &user, &u.allocs); err != nil {
		b.Fatal(err)
	}
	u.cpu, u.user = time.Duration(cpu), time.Duration(user)
	return u
}

// BenchmarkRESTGatewayCPU is BenchmarkRESTUnary with the gateway in a
// child process. Besides ns/op (latency, end to end) it reports what the
// gateway process alone spent per call: gw-cpu-ns/op (user+system CPU from
// getrusage: the figure to compare), gw-user-ns/op (runtime/metrics'
// /cpu/classes/user estimate, which counts processor time held by Go code
// including time blocked in system calls, so it reads higher) and
// gw-allocs/op (heap objects allocated). The benchmark process's own
// allocs/op are the client's and the upstream's. Run with a fixed
// -benchtime such as 3000x: the readings are taken once per run.
func BenchmarkRESTGatewayCPU(b *testing.B) {
	for _, call := range restCalls {
		for _, gw := range restGateways {
			b.Run(gw.name+"/"+call.name, func(b *testing.B) {
				p := startGatewayProcess(b, gw.name, startDemo(b))
				do := restCaller(b, newClient(b), p.base, call.method, call.path, call.body)
				do()
				b.ReportAllocs()
				before := p.usage(b)
				b.ResetTimer()
				n := 0
				for b.Loop() {
					do()
					n++
				}
				b.StopTimer()
				after := p.usage(b)
				b.ReportMetric(float64(after.cpu-before.cpu)/float64(n), "gw-cpu-ns/op")
				b.ReportMetric(float64(after.user-before.user)/float64(n), "gw-user-ns/op")
				b.ReportMetric(float64(after.allocs-before.allocs)/float64(n), "gw-allocs/op")
			})
		}
	}
}

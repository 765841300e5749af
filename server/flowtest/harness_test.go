// Package flowtest_test holds the end-to-end tests of streaming
// backpressure, stall and concurrency limits (issue 6): real gateways on
// loopback, real grpc-go clients and upstreams.
//
// Memory is measured in a gateway of its own process (testdata/gateway),
// built once by TestMain: in one process the clients' and upstreams'
// buffers would share the heap with the gateway's and blur the figure.
// Set SLUICE_FLOW_LONG=1 for the full volumes of the issue (1 GiB
// streams, 10,000 idle streams); the default run uses smaller ones and
// asserts the same bounds.
package flowtest_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// gatewayBin is the path of the built testdata/gateway, or "" when the
// build failed (buildErr says why).
var (
	gatewayBin string
	buildErr   error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "flowtest")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin := filepath.Join(dir, "gateway")
	out, err := exec.Command("go", "build", "-o", bin, "./testdata/gateway").CombinedOutput()
	if err != nil {
		buildErr = fmt.Errorf("build testdata/gateway: %v\n%s", err, out)
	} else {
		gatewayBin = bin
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func long() bool { return os.Getenv("SLUICE_FLOW_LONG") != "" }

// gatewayProc is a gateway running in its own process.
type gatewayProc struct {
	addr string
	in   io.WriteCloser
	out  *bufio.Scanner
	cmd  *exec.Cmd
}

// startGatewayProc runs testdata/gateway in front of upstream with the
// given flags; it is stopped when the test ends.
func startGatewayProc(t *testing.T, upstream string, flags ...string) *gatewayProc {
	t.Helper()
	if gatewayBin == "" {
		t.Fatal(buildErr)
	}
	cmd := exec.Command(gatewayBin, append([]string{"-upstream", upstream}, flags...)...)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gatewayProc{in: in, out: bufio.NewScanner(stdout), cmd: cmd}
	t.Cleanup(func() {
		_ = in.Close()
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	if _, err := fmt.Sscanf(g.line(t), "addr %s", &g.addr); err != nil {
		t.Fatalf("gateway did not start: %v", err)
	}
	return g
}

func (g *gatewayProc) line(t *testing.T) string {
	t.Helper()
	if !g.out.Scan() {
		t.Fatalf("gateway process ended: %v", g.out.Err())
	}
	return g.out.Text()
}

// ask sends command and returns the heap figure and goroutine count of
// the answer.
func (g *gatewayProc) ask(t *testing.T, command string) (heap int64, goroutines int) {
	t.Helper()
	if _, err := fmt.Fprintln(g.in, command); err != nil {
		t.Fatal(err)
	}
	l := g.line(t)
	if _, err := fmt.Sscanf(l, command+" %d goroutines %d", &heap, &goroutines); err != nil {
		t.Fatalf("answer %q to %s: %v", l, command, err)
	}
	return heap, goroutines
}

// upstream is a test service "flow.Test" with methods that stream as fast
// as they can, read slowly, or hold a call open.
type upstream struct {
	addr string

	sent     atomic.Int64 // messages sent by Download and Endless
	received atomic.Int64 // messages read by Upload
	active   atomic.Int64 // Hold calls in progress
	maxAct   atomic.Int64 // most Hold calls at once
	release  chan struct{}
	ended    chan error // ctx.Err() of each Endless and Hold call when it ends, if someone listens
	readTick time.Duration
}

const msgSize = 64 << 10

func startUpstream(t testing.TB) *upstream {
	t.Helper()
	u := &upstream{release: make(chan struct{}), ended: make(chan error, 100000), readTick: time.Millisecond}
	u.addr = gatewaytest.StartUpstream(t, u.handle, grpc.MaxConcurrentStreams(1<<20))
	return u
}

func (u *upstream) handle(_ any, ss grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(ss)
	ctx := ss.Context()
	switch method {
	case "/flow.Test/Download": // request: the number of messages
		req := new(wrapperspb.Int64Value)
		if err := ss.RecvMsg(req); err != nil {
			return err
		}
		msg := wrapperspb.Bytes(make([]byte, msgSize))
		for range req.GetValue() {
			if err := ss.SendMsg(msg); err != nil {
				return err
			}
			u.sent.Add(1)
		}
		return nil
	case "/flow.Test/Endless":
		msg := wrapperspb.Bytes(make([]byte, msgSize))
		for {
			if err := ss.SendMsg(msg); err != nil {
				u.ended <- ctx.Err()
				return err
			}
			u.sent.Add(1)
		}
	case "/flow.Test/Upload": // reads one message per readTick
		tick := time.NewTicker(u.readTick)
		defer tick.Stop()
		n := int64(0)
		for {
			<-tick.C
			if err := ss.RecvMsg(new(wrapperspb.BytesValue)); err != nil {
				if errors.Is(err, io.EOF) {
					return ss.SendMsg(wrapperspb.Int64(n))
				}
				return err
			}
			n++
			u.received.Add(1)
		}
	case "/flow.Test/Hold": // sends headers, then waits for release or the end of the call
		if err := ss.SendHeader(metadata.Pairs("x-held", "1")); err != nil {
			return err
		}
		n := u.active.Add(1)
		for {
			m := u.maxAct.Load()
			if n <= m || u.maxAct.CompareAndSwap(m, n) {
				break
			}
		}
		defer u.active.Add(-1)
		select {
		case <-u.release:
			return ss.SendMsg(wrapperspb.String("released"))
		case <-ctx.Done():
			u.ended <- ctx.Err()
			return ctx.Err()
		}
	}
	return fmt.Errorf("unknown method %s", method)
}

var anyStream = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

func mib(b int64) string { return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20)) }

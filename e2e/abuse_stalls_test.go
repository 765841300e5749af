package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/interceptors/authn"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// Tests of issue 17 items being fixed elsewhere; each is skipped until its
// fix lands (the lead un-skips it when merging). Without the skip each
// fails on main as the issue describes: checked before committing them,
// TestAbuseStalledRESTBodies (without the two new keys, which main's
// strict parser rejects) left all 50 connections open after 20s and grew
// the gateway's RSS by 355 MiB; TestAbuseStalledRESTBodiesH2C with 30
// streams instead of 300 left every stream open and grew the RSS by 214
// MiB; TestAbuseStalledUnaryGRPC saw no stalled stream ended after 20s.

// stallRSSBound is how much the gateway's RSS may grow while bodies stall
// against max_buffered_bytes 32 MiB: the budget, as much again that the
// Go heap may reach before a collection (GOGC=100), and 32 MiB for
// buffers, stacks and the runtime. It was 64 MiB, and runs on a loaded
// machine measured 55.6 MiB: too close to be a bound for failure only.
// Unbounded, 50 stalled bodies grew it by 355 MiB.
const stallRSSBound = 96 << 20

// TestAbuseStalledRESTBodies: 50 HTTP/1.1 connections announce 4 MiB
// bodies to an admitted REST method and stall after 4,000,000 bytes. Each
// must be answered or closed within rest.body_read_timeout (checked with a
// generous bound), the gateway's RSS may grow by at most stallRSSBound meanwhile,
// and a normal call made meanwhile succeeds. The gateway is the real
// binary with a configuration file, so that the RSS is the gateway's own.
func TestAbuseStalledRESTBodies(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	p := startSluiceProcess(t, `
rest:
  body_read_timeout: 2s
  max_buffered_bytes: 32MiB # the default
`)
	const conns, announced, sent = 50, 4 << 20, 4000000
	base := p.rss(t)

	var wg sync.WaitGroup
	results := make([]string, conns)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = stallBody(p.addr, announced, sent)
		}()
	}
	// Sample the RSS while the bodies stall, and make a normal call.
	peak := base
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if r := p.rss(t); r > peak {
				peak = r
			}
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
	time.Sleep(500 * time.Millisecond) // let the bodies arrive; not an assertion
	if code := p.get(t, "/v1/"+demo.SeedShelfClassics); code != http.StatusOK {
		t.Errorf("a normal call while %d bodies stall: HTTP %d", conns, code)
	}
	wg.Wait()
	close(stop)
	<-sampled

	for i, r := range results {
		if strings.HasPrefix(r, "stalled") {
			t.Errorf("connection %d: %s", i, r)
		}
	}
	t.Logf("first answer: %s", results[0])
	growth := int64(peak) - int64(base)
	t.Logf("RSS %d -> peak %d bytes: %.1f MiB for %d stalled 4 MiB bodies", base, peak, float64(growth)/(1<<20), conns)
	if growth > stallRSSBound {
		t.Errorf("RSS grew by %d MiB (%d -> %d bytes) with %d stalled 4 MiB bodies, want at most %d MiB", growth>>20, base, peak, conns, stallRSSBound>>20)
	}
	if code := p.get(t, "/v1/"+demo.SeedShelfClassics); code != http.StatusOK {
		t.Errorf("a normal call after the attack: HTTP %d", code)
	}
}

// TestAbuseStalledRESTBodiesH2C: the same over one h2c connection, 300
// REST streams that announce 4 MiB bodies and stop after 4,000,000 bytes
// (or when the gateway stops granting flow-control window). Every stream
// must be answered or reset within rest.body_read_timeout (checked with a
// generous bound) and the RSS may grow by at most stallRSSBound. Before the fix
// one such connection took the gateway from 43 MB to 2.1 GB (issue 17).
func TestAbuseStalledRESTBodiesH2C(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	p := startSluiceProcess(t, `
rest:
  body_read_timeout: 2s
  max_buffered_bytes: 32MiB # the default
`)
	const streams, announced, sent = 300, 4 << 20, 4000000
	base := p.rss(t)
	h := dialH2(t, p.addr)
	chunk := bytes.Repeat([]byte("a"), sent)
	ids := make([]uint32, streams)
	var wg sync.WaitGroup
	for i := range ids {
		id, err := h.open(false, restHeaders(p.addr, "POST", "/v1/shelves", "content-type", "application/json",
			"x-api-key", apiKeyCI, "content-length", strconv.Itoa(announced))...)
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		ids[i] = id
		wg.Go(func() { _ = h.data(id, chunk, false) }) // stops when the gateway stops reading
	}
	peak := base
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-time.After(100 * time.Millisecond):
		}
		peak = max(peak, p.rss(t))
	}
	deadline := time.Now().Add(abuseWait)
	for i, id := range ids {
		r, ok := h.waitBy(id, deadline)
		if !ok {
			t.Errorf("stream %d: neither answered nor reset within %v", i, abuseWait)
		} else if i == 0 {
			t.Logf("first stream: %v", r)
		}
		peak = max(peak, p.rss(t))
	}
	growth := int64(peak) - int64(base)
	t.Logf("RSS %d -> peak %d bytes: %.1f MiB for %d stalled 4 MiB bodies on one h2c connection", base, peak, float64(growth)/(1<<20), streams)
	if growth > stallRSSBound {
		t.Errorf("RSS grew by %d MiB (%d -> %d bytes) with %d stalled 4 MiB bodies on one h2c connection, want at most %d MiB", growth>>20, base, peak, streams, stallRSSBound>>20)
	}
	if code := p.get(t, "/v1/"+demo.SeedShelfClassics); code != http.StatusOK {
		t.Errorf("a normal call after the attack: HTTP %d", code)
	}
}

// stallBody sends a CreateShelf request announcing a body of announced
// bytes, sends sent of them and stops; it returns how the gateway ended
// the request, or "stalled ..." when it did not within abuseWait.
func stallBody(addr string, announced, sent int) string {
	c, err := net.DialTimeout("tcp", addr, abuseWait)
	if err != nil {
		return "dial: " + err.Error()
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(abuseWait))
	head := fmt.Sprintf("POST /v1/shelves HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nX-Api-Key: %s\r\nContent-Length: %d\r\n\r\n", addr, apiKeyCI, announced)
	body := append([]byte(`{"shelf":{"displayName":"`), bytes.Repeat([]byte("a"), sent)...)[:sent]
	if _, err := io.WriteString(c, head); err != nil {
		return "refused early: " + err.Error()
	}
	if _, err := c.Write(body); err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "stalled: the gateway neither read the body nor closed the connection"
		}
		return "closed while sending: " + err.Error()
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return fmt.Sprintf("stalled: no answer and still open after %v", abuseWait)
		}
		return "closed: " + err.Error()
	}
	_ = resp.Body.Close()
	return "answered " + resp.Status
}

// TestAbuseStalledUnaryGRPC: 200 unary calls whose request announces 1000
// bytes, sends 10 and never ends, against limits.max_in_flight 200 and
// deadlines of 2s by default and 5s at most. Every one must be ended on
// the wire with DEADLINE_EXCEEDED and RST_STREAM (within a generous
// bound), and a normal call made meanwhile must succeed once they are.
func TestAbuseStalledUnaryGRPC(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startAbuseGateway(t, abuseOptions{maxInFlight: 200})
	const stalled = 200
	h := dialH2(t, g.addr)
	frag := grpcMessage(false, make([]byte, 1000))[:5+10]
	ids := make([]uint32, 0, stalled)
	for range stalled {
		id, err := h.open(false, grpcHeaders(g.addr, svcPrefix+"GetShelf")...)
		if err == nil {
			err = h.write(func() error { return h.fr.WriteData(id, false, frag) })
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// Every stalled call holds its slot before the normal call is made:
	// over its own connection it could otherwise overtake stalled streams
	// still in flight on the wire and take one of their slots.
	for wait := time.Now().Add(abuseWait); g.chain.InFlight() < stalled; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(wait) {
			t.Fatalf("only %d of %d stalled calls in flight after %v", g.chain.InFlight(), stalled, abuseWait)
		}
	}

	// A normal call, retried while the limit refuses it, succeeds
	// before the attacker gives up (it never does).
	lib := libraryv1.NewLibraryServiceClient(g.conn)
	deadline := time.Now().Add(abuseWait)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), abuseWait)
		_, err := lib.GetShelf(ctx, &libraryv1.GetShelfRequest{Name: demo.SeedShelfClassics})
		cancel()
		if err == nil {
			break
		}
		if status.Code(err) != codes.ResourceExhausted || time.Now().After(deadline) {
			t.Fatalf("a normal call while %d calls stall: %v", stalled, err)
		}
		time.Sleep(100 * time.Millisecond)
	}

	for _, id := range ids {
		r, ok := h.waitRST(id) // all but the first have their time by then
		if !ok {
			t.Fatalf("stream %d: not ended and reset within %v: %v", id, abuseWait, r)
		}
		if r.grpcStatus != strconv.Itoa(int(codes.DeadlineExceeded)) {
			t.Errorf("stream %d: %v, want grpc-status 4 (DEADLINE_EXCEEDED)", id, r)
		}
	}
	g.healthy(t)
}

// waitRST waits up to abuseWait for stream id to be reset by the server,
// whether or not trailers came first.
func (h *h2Conn) waitRST(id uint32) (h2Result, bool) {
	deadline := time.Now().Add(abuseWait)
	for {
		r, ok := h.wait(id)
		if ok && r.rst != nil {
			return r, true
		}
		if !ok || time.Now().After(deadline) || h.isClosed() {
			return r, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestAbuseRapidResetREST: HEADERS then RST_STREAM 20,000 times on a
// connection whose first request was REST. Whether one reset stream gets
// as far as an upstream call is a race between its handler and the
// RST_STREAM (net/http starts no handler for a stream reset before it
// ran); what bounds the total is the gateway's reset guard, which closes
// a connection once its handlers saw a few hundred calls abandoned. So the
// upstream calls started stay under 300 however many resets are sent. Before the guard, 2,000 resets
// started 81 to 86 calls and 50,000 started 6,743 (issue 17 item 5); the
// gRPC side starts none (TestAbuseRapidResetGRPC).
func TestAbuseRapidResetREST(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startAbuseGateway(t, abuseOptions{})
	n := abuseCount(20000, 50000)
	h := dialH2(t, g.addr)
	g.prepare(t, h, "rest")
	before := g.started.Load()
	sent := rapidReset(h, n, true, restHeaders(g.addr, "GET", "/v1/"+demo.SeedShelfClassics)...)
	g.settle(t)
	started := g.started.Load() - before
	t.Logf("%d HEADERS+RST_STREAM sent (connection closed by the server: %v); %d calls started upstream", sent, h.isClosed(), started)
	if started > 300 {
		t.Errorf("%d reset REST streams started %d upstream calls, want at most 300", sent, started)
	}
	g.healthy(t)
}

// sluiceProcess is a `sluice serve` process built from this tree.
type sluiceProcess struct {
	addr, admin string
	cmd         *exec.Cmd
}

// startSluiceProcess builds the sluice binary, starts a demo upstream and
// runs `sluice serve` with a configuration as users write it (API keys,
// authorization with anonymous reads, deadlines 2s by default and 20s at
// most, max_in_flight 200)
// plus extra YAML, until the test ends.
func startSluiceProcess(t *testing.T, extra string) *sluiceProcess {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "sluice")
	build := exec.Command("go", "build", "-o", bin, "../cmd/sluice")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	upstream := startDemo(t)
	desc, err := filepath.Abs("../gen/descriptors/demo.binpb")
	if err != nil {
		t.Fatal(err)
	}
	p := &sluiceProcess{addr: freeAddr(t), admin: freeAddr(t)}
	cfg := fmt.Sprintf(`listen: %s
admin: %s
admin_pprof: true
descriptor_sets: [%s]
upstreams:
  - name: library
    target: %s
    methods: ["sluice.demo.library.v1.*"]
log:
  level: error
limits:
  max_in_flight: 200
policy:
  authn:
    api_keys:
      keys:
        - {name: ci-bot, hash: "%s", scopes: [library.write]}
  authz:
    default: deny
    rules:
      - methods: ["%s.Get*", "%s.List*"]
        access: anonymous
      - methods: ["sluice.demo.library.v1"]
        access: authenticated
        scopes: [library.write]
  deadline:
    default: 2s
    max: 20s # what p.get asks for: see there
%s`, p.addr, p.admin, desc, upstream, authn.HashAPIKey(apiKeyCI), librarySvc, librarySvc, extra)
	path := filepath.Join(dir, "sluice.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	p.cmd = exec.Command(bin, "serve", "--config", path)
	p.cmd.Stdout, p.cmd.Stderr = &logs, &logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(abuseWait):
			_ = p.cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("sluice log:\n%s", logs.String())
		}
	})
	deadline := time.Now().Add(abuseWait)
	for {
		resp, err := http.Get("http://" + p.admin + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("sluice never became ready: %v\n%s", err, logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// rss returns the process's resident set size in bytes.
func (p *sluiceProcess) rss(t *testing.T) uint64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc/PID/status")
	return 0
}

// get makes one REST GET on a fresh connection and returns its status.
// The call asks for a deadline of abuseWait, not the default 2s: what the
// tests check is that the gateway serves it while under attack, not how
// fast, which on a loaded 2-core machine (the attack itself takes a core)
// can exceed 2s and made this an HTTP 504.
func (p *sluiceProcess) get(t *testing.T, path string) int {
	t.Helper()
	tr := &http.Transport{DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr, Timeout: abuseWait + 5*time.Second}
	req, err := http.NewRequest(http.MethodGet, "http://"+p.addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Grpc-Timeout", strconv.Itoa(int(abuseWait/time.Second))+"S")
	resp, err := c.Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

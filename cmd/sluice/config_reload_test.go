package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// reloadConfig is a configuration the whole-configuration reload tests
// write: upstream is the demo upstream's address, origin the one CORS
// origin allowed, and rules the authorization rules after the one that
// opens the demo's reads.
func reloadConfig(listen, upstream, origin, rules string) string {
	demoSet, _ := filepath.Abs("../../gen/descriptors/demo.binpb")
	return fmt.Sprintf(`listen: %s
admin: off
descriptor_sets: [%s]
upstreams:
  - name: library
    target: %s
    methods: [sluice.demo.library.v1]
cors:
  allowed_origins: [%s]
policy:
  authz:
    rules:
%s`, listen, demoSet, upstream, origin, rules)
}

const (
	openReads = `      - methods: [sluice.demo.library.v1.LibraryService.GetBook, sluice.demo.library.v1.LibraryService.ListShelves]
        access: anonymous
`
	denyDelete = `      - methods: [sluice.demo.library.v1.LibraryService.DeleteBook]
        access: deny
`
	denyGetBook = `      - methods: [sluice.demo.library.v1.LibraryService.GetBook]
        access: deny
      - methods: [sluice.demo.library.v1.LibraryService.ListShelves]
        access: anonymous
`
)

// The whole configuration reloads on SIGHUP under load: thousands of REST
// and gRPC calls run while the configuration alternates, every 200ms,
// between two equivalent upstreams, two CORS origins and two sets of
// authorization rules that both let the calls through; none fails. Then:
// an invalid file is refused with its reason and the old configuration
// keeps serving; a change of a restart-only setting is refused naming it;
// and a new policy takes effect (a call that passed is refused).
func TestConfigReloadUnderLoad(t *testing.T) {
	t.Parallel()
	ups := []string{startDemoUpstream(t), startDemoUpstream(t)}
	origins := []string{"https://a.example", "https://b.example"}
	rules := []string{openReads, openReads + denyDelete}
	write := func(path, text string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfgPath := writeConfig(t, reloadConfig("127.0.0.1:0", ups[0], origins[0], rules[0]))
	p := startSluice(t, "serve", "--config", cfgPath)
	addr := p.waitLog(t, "gateway listening", "addr")
	url := "http://" + addr + "/v1/" + demo.SeedBookMobyDick
	cc := gatewaytest.Dial(t, addr)
	lib := libraryv1.NewLibraryServiceClient(cc)

	var restCalls, grpcCalls, failures atomic.Int64
	var firstFailure atomic.Value
	fail := func(what string) {
		failures.Add(1)
		firstFailure.CompareAndSwap(nil, what)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, err := getStatus(client, url)
				restCalls.Add(1)
				if err != nil || code != http.StatusOK {
					fail(fmt.Sprintf("REST: status %d, error %v", code, err))
				}
			}
		}()
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				_, err := lib.GetBook(ctx, &libraryv1.GetBookRequest{Name: demo.SeedBookMobyDick})
				cancel()
				grpcCalls.Add(1)
				if err != nil {
					fail(fmt.Sprintf("gRPC: %v", err))
				}
			}
		}()
	}

	reloaded := func() int { return strings.Count(p.log(), `"msg":"configuration reloaded"`) }
	refused := func() int {
		return strings.Count(p.log(), `"msg":"configuration reload refused; the configuration in use stays"`)
	}
	// reload writes text, signals, and waits for the outcome.
	reload := func(text string, wantReloaded, wantRefused int) {
		t.Helper()
		write(cfgPath, text)
		if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for reloaded() < wantReloaded || refused() < wantRefused {
			if time.Now().After(deadline) {
				t.Fatalf("reload not seen within 20s (%d reloaded, %d refused; want %d, %d)", reloaded(), refused(), wantReloaded, wantRefused)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	const n = 20
	for i := 1; i <= n; i++ {
		reload(reloadConfig("127.0.0.1:0", ups[i%2], origins[i%2], rules[i%2]), i, 0)
		time.Sleep(200 * time.Millisecond)
	}
	// The last reload (n even) left origin a: a preflight from b is not
	// answered as allowed, one from a is.
	for _, tc := range []struct {
		origin string
		allow  bool
	}{{origins[0], true}, {origins[1], false}} {
		req, _ := http.NewRequest(http.MethodOptions, url, nil)
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if got := res.Header.Get("Access-Control-Allow-Origin") == tc.origin; got != tc.allow {
			t.Errorf("preflight from %s after the reloads: allowed %v, want %v", tc.origin, got, tc.allow)
		}
	}

	// Invalid: refused with the reason; the old configuration serves.
	reload("upstreams: [{target: 127.0.0.1:1, methods: [\"not a pattern!\"]}]\n", n, 1)
	if !strings.Contains(p.log(), "invalid configuration") {
		t.Error("the refusal does not give the reason")
	}
	// Restart-only: refused, naming the setting.
	reload(reloadConfig("127.0.0.1:1", ups[0], origins[0], rules[0]), n, 2)
	if !strings.Contains(p.log(), "these settings change only with a restart: listen") {
		t.Errorf("the refusal of a new listen address does not name it")
	}
	time.Sleep(100 * time.Millisecond)
	close(stop)
	wg.Wait()
	if f := failures.Load(); f != 0 {
		t.Errorf("%d of %d calls failed during the reloads; first: %v", f, restCalls.Load()+grpcCalls.Load(), firstFailure.Load())
	}
	if restCalls.Load() < 100 || grpcCalls.Load() < 100 {
		t.Errorf("only %d REST and %d gRPC calls ran during the reloads: too light to show anything", restCalls.Load(), grpcCalls.Load())
	}
	t.Logf("%d REST and %d gRPC calls, %d failed, across %d reloads and 2 refused", restCalls.Load(), grpcCalls.Load(), failures.Load(), n)

	// A changed policy takes effect: GetBook passed, now it is denied.
	reload(reloadConfig("127.0.0.1:0", ups[0], origins[0], denyGetBook), n+1, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := lib.GetBook(ctx, &libraryv1.GetBookRequest{Name: demo.SeedBookMobyDick}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("gRPC GetBook after the policy denied it: %v, want PERMISSION_DENIED", err)
	}
	if code, err := getStatus(http.DefaultClient, url); err != nil || code != http.StatusForbidden {
		t.Errorf("REST GetBook after the policy denied it: %d %v, want 403", code, err)
	}
	if _, err := lib.ListShelves(ctx, &libraryv1.ListShelvesRequest{}); err != nil {
		t.Errorf("ListShelves, still open: %v", err)
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d after the reloads", code)
	}
}

// With `watch: true`, saving the file reloads it without a signal.
func TestConfigWatch(t *testing.T) {
	t.Parallel()
	up := startDemoUpstream(t)
	cfgPath := writeConfig(t, "watch: true\n"+reloadConfig("127.0.0.1:0", up, "https://a.example", openReads))
	p := startSluice(t, "serve", "--config", cfgPath)
	addr := p.waitLog(t, "gateway listening", "addr")
	url := "http://" + addr + "/v1/" + demo.SeedBookMobyDick
	if code, err := getStatus(http.DefaultClient, url); err != nil || code != http.StatusOK {
		t.Fatalf("before the edit: %d %v", code, err)
	}
	if err := os.WriteFile(cfgPath, []byte("watch: true\n"+reloadConfig("127.0.0.1:0", up, "https://a.example", denyGetBook)), 0o600); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, err := getStatus(http.DefaultClient, url)
		if err == nil && code == http.StatusForbidden {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the saved policy was not applied within 20s: %d %v", code, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(p.log(), "configuration file changed: reloading") {
		t.Error("the reload was not logged as caused by the file")
	}
}

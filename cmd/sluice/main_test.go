package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/fx"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/config"
	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/upstream/outlier"
)

var sluiceBin string

func TestMain(m *testing.M) {
	outlier.Register() // as main does, for the apps these tests run in-process
	dir, err := os.MkdirTemp("", "sluice-bin")
	if err != nil {
		panic(err)
	}
	sluiceBin = filepath.Join(dir, "sluice")
	build := exec.Command("go", "build", "-o", sluiceBin, ".")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		panic("build sluice: " + err.Error())
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func TestValidateApp(t *testing.T) {
	t.Parallel()
	cfg := config.Default()
	cfg.Upstreams = append(cfg.Upstreams, demoUpstreamConfig())
	logger := slog.New(slog.DiscardHandler)
	if err := fx.ValidateApp(appOptions(&cfg, logger, demoModule)); err != nil {
		t.Fatal(err)
	}
}

// process is a running sluice binary whose log lines are collected.
type process struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	lines   []map[string]any
	raw     strings.Builder
	stdout  strings.Builder
	exited  chan struct{}
	exitErr error
}

// admin_pprof serves Go's profiles on the admin port: a short CPU profile
// comes back as a pprof file while the gateway serves.
func TestAdminPprof(t *testing.T) {
	t.Parallel()
	cfgPath := writeConfig(t, "admin_pprof: true\n")
	p := startSluice(t, "serve", "--config", cfgPath, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	admin := p.waitLog(t, "admin listening", "addr")
	waitHTTP(t, "http://"+admin+"/debug/pprof/cmdline", http.StatusOK)
	res, err := http.Get("http://" + admin + "/debug/pprof/profile?seconds=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	// A pprof profile is a gzipped protobuf.
	if res.StatusCode != http.StatusOK || len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
		t.Errorf("CPU profile: %d, %d bytes, want a gzipped profile", res.StatusCode, len(body))
	}
	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d", code)
	}
}

func startSluice(t *testing.T, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(sluiceBin, args...), exited: make(chan struct{})}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stdout = &lockedWriter{mu: &p.mu, w: &p.stdout}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var line map[string]any
			p.mu.Lock()
			p.raw.WriteString(sc.Text() + "\n")
			if json.Unmarshal(sc.Bytes(), &line) == nil {
				p.lines = append(p.lines, line)
			}
			p.mu.Unlock()
		}
		p.exitErr = p.cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("sluice log:\n%s", p.log())
		}
	})
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func (p *process) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.raw.String()
}

// waitLog waits for a log line with the given msg and returns its field.
func (p *process) waitLog(t *testing.T, msg, field string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		for _, l := range p.lines {
			if l["msg"] == msg {
				v, _ := l[field].(string)
				p.mu.Unlock()
				return v
			}
		}
		p.mu.Unlock()
		select {
		case <-p.exited:
			t.Fatalf("sluice exited (%v) before logging %q", p.exitErr, msg)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("sluice did not log %q within 30s", msg)
	return ""
}

func (p *process) stop(t *testing.T) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("sluice did not exit within 30s of SIGTERM")
	}
	var exit *exec.ExitError
	if errors.As(p.exitErr, &exit) {
		return exit.ExitCode()
	}
	return 0
}

// With no contract or upstream flags, serve runs the embedded demo: the
// library API answers through the gateway, reflection lists it, the
// gateway's own health service and readiness endpoint answer, and SIGTERM
// ends the process with 0.
func TestServeEmbeddedDemo(t *testing.T) {
	t.Parallel()
	p := startSluice(t, "serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	addr := p.waitLog(t, "gateway listening", "addr")
	admin := p.waitLog(t, "admin listening", "addr")
	cc := gatewaytest.Dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	books, err := libraryv1.NewLibraryServiceClient(cc).ListBooks(ctx, &libraryv1.ListBooksRequest{Parent: demo.SeedShelfClassics})
	if err != nil {
		t.Fatalf("ListBooks: %v", err)
	}
	if len(books.GetBooks()) == 0 {
		t.Error("ListBooks returned no books from the seeded demo")
	}

	refl, err := reflectionpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := refl.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{ListServices: ""}}); err != nil {
		t.Fatal(err)
	}
	resp, err := refl.Recv()
	if err != nil {
		t.Fatalf("reflection: %v", err)
	}
	var services []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	if !strings.Contains(strings.Join(services, ","), "sluice.demo.library.v1.LibraryService") {
		t.Errorf("reflection lists %v, want the library service", services)
	}
	_ = refl.CloseSend()

	hc, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil || hc.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Errorf("gateway health = %v, %v; want SERVING", hc.GetStatus(), err)
	}

	waitHTTP(t, "http://"+admin+"/readyz", http.StatusOK)
	waitHTTP(t, "http://"+admin+"/healthz", http.StatusOK)
	waitHTTP(t, "http://"+admin+"/debug/pprof/cmdline", http.StatusNotFound) // profiles are opt-in

	// REST/JSON by the contract's google.api.http rules, through the
	// same chain, and errors as google.rpc.Status bodies.
	res, err := http.Get("http://" + addr + "/v1/" + demo.SeedBookMobyDick)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	var book struct {
		Name  string `json:"name"`
		Title string `json:"title"`
	}
	if res.StatusCode != http.StatusOK || json.Unmarshal(body, &book) != nil || book.Name != demo.SeedBookMobyDick || book.Title == "" {
		t.Errorf("GET /v1/%s = %d %s, want the book as JSON", demo.SeedBookMobyDick, res.StatusCode, body)
	}
	res, err = http.Get("http://" + addr + "/v1/shelves/nope")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	_ = res.Body.Close()
	var st struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}
	if res.StatusCode != http.StatusNotFound || json.Unmarshal(body, &st) != nil || st.Code != int(codes.NotFound) {
		t.Errorf("GET /v1/shelves/nope = %d %s, want 404 with a google.rpc.Status body", res.StatusCode, body)
	}

	// The demo policy: reads are open, writes need a token with the
	// library.write scope, over gRPC and REST alike.
	lib := libraryv1.NewLibraryServiceClient(cc)
	_, err = lib.CreateShelf(ctx, &libraryv1.CreateShelfRequest{Shelf: &libraryv1.Shelf{DisplayName: "Poetry"}})
	if status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC write without a token: %v, want UNAUTHENTICATED", err)
	}
	tok, err := exec.Command(sluiceBin, "token").Output()
	if err != nil {
		t.Fatalf("sluice token: %v", err)
	}
	token := strings.TrimSpace(string(tok))
	authed := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+token)
	if _, err := lib.CreateShelf(authed, &libraryv1.CreateShelfRequest{Shelf: &libraryv1.Shelf{DisplayName: "Poetry"}}); err != nil {
		t.Errorf("gRPC write with a demo token: %v", err)
	}
	readOnly, err := exec.Command(sluiceBin, "token", "--scope", "library.read").Output()
	if err != nil {
		t.Fatal(err)
	}
	weak := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+strings.TrimSpace(string(readOnly)))
	if _, err := lib.CreateShelf(weak, &libraryv1.CreateShelfRequest{Shelf: &libraryv1.Shelf{DisplayName: "Poetry"}}); status.Code(err) != codes.PermissionDenied {
		t.Errorf("gRPC write with a token lacking the scope: %v, want PERMISSION_DENIED", err)
	}
	for _, tc := range []struct {
		auth string
		want int
	}{{"", http.StatusUnauthorized}, {"Bearer " + token, http.StatusOK}} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/v1/shelves", strings.NewReader(`{"shelf":{"displayName":"Drama"}}`))
		req.Header.Set("Content-Type", "application/json")
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("REST write (token sent: %v): %d, want %d", tc.auth != "", res.StatusCode, tc.want)
		}
	}

	if code := p.stop(t); code != 0 {
		t.Errorf("exit code %d, want 0", code)
	}
}

func waitHTTP(t *testing.T, url string, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		res, err := http.Get(url)
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == want {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v %v, want %d", url, res, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startDemoUpstream runs the demo library service on loopback for a test.
func startDemoUpstream(t *testing.T) string {
	t.Helper()
	lib := demo.NewLibrary()
	addr := gatewaytest.Serve(t, demo.NewServer(lib))
	t.Cleanup(lib.Close) // runs before the server stops
	return addr
}

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sluice.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// SIGTERM with a server stream in flight: the stream completes within the
// grace period and the process exits 0. A stream that outlives the grace
// period is cut with UNAVAILABLE, and the process still exits 0.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	upstream := startDemoUpstream(t)

	t.Run("stream finishes within grace", func(t *testing.T) {
		t.Parallel()
		cfgPath := writeConfig(t, "admin: \"\"\nserver:\n  shutdown_grace: 10s\n")
		p := startSluice(t, "serve", "--config", cfgPath, "--listen", "127.0.0.1:0", "--upstream", "sluice.demo.library.v1.*="+upstream)
		addr := p.waitLog(t, "gateway listening", "addr")
		cc := gatewaytest.Dial(t, addr)
		ctx := metadata.AppendToOutgoingContext(context.Background(), "x-demo-delay", "300ms")
		stream, err := libraryv1.NewLibraryServiceClient(cc).ExportBooks(ctx, &libraryv1.ExportBooksRequest{Parent: demo.SeedShelfClassics})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("first message: %v", err)
		}
		exited := make(chan int, 1)
		go func() { exited <- p.stop(t) }()
		n := 1
		for {
			_, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("after %d messages: %v, want the stream to complete", n, err)
			}
			n++
		}
		if n < 2 {
			t.Errorf("export sent %d books; the seed has more, so the drain was not exercised", n)
		}
		if code := <-exited; code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
	})

	t.Run("stream outliving grace is cut", func(t *testing.T) {
		t.Parallel()
		cfgPath := writeConfig(t, "admin: \"\"\nserver:\n  shutdown_grace: 1s\n")
		p := startSluice(t, "serve", "--config", cfgPath, "--listen", "127.0.0.1:0", "--upstream", "sluice.demo.library.v1.*="+upstream)
		addr := p.waitLog(t, "gateway listening", "addr")
		cc := gatewaytest.Dial(t, addr)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		stream, err := libraryv1.NewLibraryServiceClient(cc).WatchShelf(ctx, &libraryv1.WatchShelfRequest{Name: demo.SeedShelfClassics})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Header(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		exited := make(chan int, 1)
		go func() { exited <- p.stop(t) }()
		for {
			if _, err := stream.Recv(); err != nil {
				if status.Code(err) != codes.Unavailable {
					t.Errorf("watch ended with %v, want UNAVAILABLE", err)
				}
				break
			}
		}
		if d := time.Since(start); d < 900*time.Millisecond {
			t.Errorf("watch cut after %v, before the 1s grace period", d)
		}
		if code := <-exited; code != 0 {
			t.Errorf("exit code %d, want 0", code)
		}
	})
}

func TestPortInUseFailsStartup(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out, err := exec.Command(sluiceBin, "serve", "--listen", ln.Addr().String(), "--admin", "off").CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("serve on a busy port: %v, want exit 1\n%s", err, out)
	}
	if !strings.Contains(string(out), "listen on "+ln.Addr().String()) || !strings.Contains(string(out), "address already in use") {
		t.Errorf("output does not say which address is in use:\n%s", out)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	cfgPath := writeConfig(t, `listen: "nonsense"
upstreams:
  - target: ""
    methods: ["bad pattern"]
  - target: 127.0.0.1:1
    methodz: ["a.*"]
server:
  max_recv_msg_size: 0
`)
	out, err := exec.Command(sluiceBin, "validate", "--config", cfgPath).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("validate: %v, want exit 1\n%s", err, out)
	}
	for _, want := range []string{"sluice.yaml:1:", "upstreams[0].target", "upstreams[0].methods[0]", "upstreams[1].methodz", "server.max_recv_msg_size"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}

	good := writeConfig(t, "upstreams:\n  - target: 127.0.0.1:50051\n    methods: [\"sluice.demo.*\"]\n")
	if out, err := exec.Command(sluiceBin, "validate", "--config", good).CombinedOutput(); err != nil {
		t.Errorf("validate good config: %v\n%s", err, out)
	}
}

func TestRoutesAndOpenAPICommands(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(sluiceBin, "routes").Output()
	if err != nil {
		t.Fatalf("sluice routes: %v", err)
	}
	for _, want := range []string{"PATCH   /v1/{book.name=shelves/*/books/*}", "/sluice.demo.library.v1.LibraryService/UpdateBook", "additional binding"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("sluice routes lacks %q:\n%s", want, out)
		}
	}
	out, err = exec.Command(sluiceBin, "openapi", "--descriptor-set", "../../gen/descriptors/demo.binpb", "--upstream", "sluice.*=127.0.0.1:1").Output()
	if err != nil {
		t.Fatalf("sluice openapi: %v", err)
	}
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("sluice openapi printed no JSON: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || len(doc.Paths) == 0 {
		t.Errorf("openapi = %q with %d paths, want 3.1.0 with the demo's paths", doc.OpenAPI, len(doc.Paths))
	}
	// The embedded demo's document carries the contract's comments, though
	// the demo runs on its generated (comment-less) descriptors.
	out, err = exec.Command(sluiceBin, "openapi").Output()
	if err != nil {
		t.Fatalf("sluice openapi (demo): %v", err)
	}
	if !strings.Contains(string(out), "The shelf, `shelves/{shelf}`.") {
		t.Error("the demo's OpenAPI document lacks the contract's comments")
	}
}

func TestValidateWarnsAboutAuthzRules(t *testing.T) {
	t.Parallel()
	cfgPath := writeConfig(t, `descriptor_sets: [../../gen/descriptors/demo.binpb]
upstreams:
  - target: 127.0.0.1:50051
    methods: ["sluice.demo.*"]
policy:
  authz:
    rules:
      - {methods: ["sluice.demo.library.v1.LibraryService.Get*"], access: anonymous}
      - {methods: ["acme.v1.Nothing"], access: deny}
`)
	out, err := exec.Command(sluiceBin, "validate", "--config", cfgPath).CombinedOutput()
	if err != nil {
		t.Fatalf("warnings must not fail validation: %v\n%s", err, out)
	}
	for _, want := range []string{"warning: policy.authz.rules[1]", "unreachable", "warning: policy.authz.default", "configuration is valid"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
}

// A configuration that validates but whose contracts do not load stops
// serve with the cause alone, as validate prints it: no dependency
// injection wrapping naming Go functions and files.
func TestServeErrorIsTheCauseAlone(t *testing.T) {
	t.Parallel()
	bad := filepath.Join(t.TempDir(), "api.binpb")
	if err := os.WriteFile(bad, []byte("not a descriptor set"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--descriptor-set", bad, "--upstream", "acme.*=127.0.0.1:1"}
	out, err := exec.Command(sluiceBin, append([]string{"serve", "--listen", "127.0.0.1:0", "--admin", "off"}, args...)...).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("serve with a bad descriptor set: %v, want exit 1\n%s", err, out)
	}
	valOut, _ := exec.Command(sluiceBin, append([]string{"validate"}, args...)...).CombinedOutput()
	cause := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(valOut)), "contracts: "))
	if got, want := strings.TrimSpace(string(out)), "sluice serve: "+cause; got != want {
		t.Errorf("serve printed\n\t%s\nwant\n\t%s", got, want)
	}
	for _, internal := range []string{"could not build", "function", ".go:"} {
		if strings.Contains(string(out), internal) {
			t.Errorf("serve's error shows dependency injection internals (%q):\n%s", internal, out)
		}
	}
}

// `sluice openapi` documents the configured authentication and where the
// API is served: the demo's JWT scheme, anonymous reads with optional
// credentials, writes that need a token, and the listen address.
func TestOpenAPIDocumentsSecurityAndServers(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(sluiceBin, "openapi").Output()
	if err != nil {
		t.Fatalf("sluice openapi: %v", err)
	}
	type op struct {
		Security []map[string][]string `json:"security"`
	}
	var doc struct {
		Servers []struct {
			URL       string         `json:"url"`
			Variables map[string]any `json:"variables"`
		} `json:"servers"`
		Components struct {
			SecuritySchemes map[string]struct {
				Type, Scheme string
			} `json:"securitySchemes"`
		} `json:"components"`
		Paths map[string]map[string]op `json:"paths"`
	}
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "http://127.0.0.1:8080" {
		t.Errorf("servers %+v, want the default listen address", doc.Servers)
	}
	if s := doc.Components.SecuritySchemes["jwt"]; s.Type != "http" || s.Scheme != "bearer" {
		t.Errorf("security schemes %+v, want the demo's JWT bearer", doc.Components.SecuritySchemes)
	}
	get := doc.Paths["/v1/shelves/{shelvesId}/books/{booksId}"]["get"].Security
	if len(get) != 2 || len(get[0]) != 0 || get[1]["jwt"] == nil {
		t.Errorf("GetBook security %v, want [{} {jwt}] (anonymous, token optional)", get)
	}
	post := doc.Paths["/v1/shelves/{shelvesId}/books"]["post"].Security
	if len(post) != 1 || post[0]["jwt"] == nil {
		t.Errorf("CreateBook security %v, want [{jwt}]", post)
	}

	cfgPath := writeConfig(t, "listen: 0.0.0.0:8443\n")
	out, err = exec.Command(sluiceBin, "openapi", "--config", cfgPath, "--descriptor-set", "../../gen/descriptors/demo.binpb",
		"--upstream", "sluice.*=127.0.0.1:1").Output()
	if err != nil {
		t.Fatalf("sluice openapi --config: %v", err)
	}
	doc.Servers = nil
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "http://{host}:8443" || doc.Servers[0].Variables["host"] == nil {
		t.Errorf("servers %+v, want a host variable for a listener on every interface", doc.Servers)
	}

	// Only methods an upstream serves: the others answer 501.
	out, err = exec.Command(sluiceBin, "openapi", "--descriptor-set", "../../gen/descriptors/demo.binpb",
		"--upstream", "sluice.demo.library.v1.LibraryService.ListShelves=127.0.0.1:1").Output()
	if err != nil {
		t.Fatalf("sluice openapi: %v", err)
	}
	doc.Paths = nil
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if _, ok := doc.Paths["/v1/shelves"]["get"]; len(doc.Paths) != 1 || !ok {
		t.Errorf("paths %v, want /v1/shelves alone (the one method an upstream serves)", doc.Paths)
	}

	cfgPath = writeConfig(t, "rest:\n  openapi_servers: [https://api.example.com/library]\n")
	out, err = exec.Command(sluiceBin, "openapi", "--config", cfgPath, "--descriptor-set", "../../gen/descriptors/demo.binpb",
		"--upstream", "sluice.*=127.0.0.1:1").Output()
	if err != nil {
		t.Fatalf("sluice openapi with openapi_servers: %v", err)
	}
	doc.Servers = nil
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "https://api.example.com/library" {
		t.Errorf("servers %+v, want rest.openapi_servers", doc.Servers)
	}
}

// validate builds the policy chain serve would run, so what only
// building finds (here a JWKS file that is not a key set) fails
// validation as it would fail serve.
func TestValidateBuildsThePolicyChain(t *testing.T) {
	t.Parallel()
	jwks := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwks, []byte("not a key set"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfgPath := writeConfig(t, `descriptor_sets: [../../gen/descriptors/demo.binpb]
upstreams:
  - target: 127.0.0.1:50051
    methods: ["sluice.demo.*"]
policy:
  authn:
    jwt:
      jwks_file: `+jwks+`
      issuer: https://issuer.example
      audiences: [api]
  authz:
    rules:
      - {methods: ["sluice.demo.*"], access: authenticated}
`)
	out, err := exec.Command(sluiceBin, "validate", "--config", cfgPath).CombinedOutput()
	if err == nil {
		t.Fatalf("validate accepted a JWKS file serve refuses:\n%s", out)
	}
	if !strings.Contains(string(out), "policy.authn") || !strings.Contains(string(out), "jwks") {
		t.Errorf("validate output does not name the JWKS problem:\n%s", out)
	}
}

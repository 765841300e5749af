package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// demoProtoFile is the demo contract's path below the proto/ root.
const demoProtoFile = "sluice/demo/library/v1/library.proto"

// copyProtoTree copies the repository's proto/ (the demo contract, and
// nothing of third_party/: google/api/* comes from the embedded copies)
// into a new directory and returns it.
func copyProtoTree(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir("../../proto", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel("../../proto", p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		copyFile(t, p, filepath.Join(dst, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// editProto rewrites the file at path with edit applied to its text; edit
// must change it.
func editProto(t *testing.T, path string, edit func(string) string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	text := edit(string(data))
	if text == string(data) {
		t.Fatal("the edit changed nothing")
	}
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// addShelfBinding gives GetShelf a second HTTP binding, the one the demo
// tour adds: /v2/{name=shelves/*}.
func addShelfBinding(text string) string {
	return strings.Replace(text, `option (google.api.http) = {get: "/v1/{name=shelves/*}"};`,
		"option (google.api.http) = {\n      get: \"/v1/{name=shelves/*}\"\n      "+demoTourBinding+"\n    };", 1)
}

// breakProto adds a field of an unknown type to GetShelfRequest and
// returns the text and the "line:column" of the mistake.
func breakProto(text string) (string, string) {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		if l == "message GetShelfRequest {" {
			lines = append(lines[:i+1], append([]string{"  strin oops = 99;"}, lines[i+1:]...)...)
			return strings.Join(lines, "\n"), fmt.Sprintf("%d:3", i+2)
		}
	}
	panic("no GetShelfRequest in the demo contract")
}

// `sluice serve --proto proto/ --upstream ...` serves the demo from its
// sources over gRPC and REST. Under REST load, an edit that adds an HTTP
// binding is served without a restart, and a broken edit is refused with
// its location while the routes in use keep answering; no call fails.
func TestServeFromProtoSources(t *testing.T) {
	t.Parallel()
	upstream := startDemoUpstream(t)
	root := copyProtoTree(t)
	file := filepath.Join(root, demoProtoFile)
	p := startSluice(t, "serve", "--listen", "127.0.0.1:0", "--admin", "off",
		"--proto", root, "--upstream", "sluice.demo.library.v1="+upstream)
	addr := p.waitLog(t, "gateway listening", "addr")
	if d := p.waitLog(t, "compiled .proto files", "duration"); d == "" {
		t.Error("the compilation's duration was not logged")
	}

	cc := gatewaytest.Dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	book, err := libraryv1.NewLibraryServiceClient(cc).GetBook(ctx, &libraryv1.GetBookRequest{Name: demo.SeedBookMobyDick})
	if err != nil || book.GetBook().GetTitle() != "Moby-Dick" {
		t.Fatalf("gRPC GetBook through the gateway: %v, %v", book, err)
	}
	bookURL := "http://" + addr + "/v1/" + demo.SeedBookMobyDick
	waitHTTP(t, bookURL, http.StatusOK)
	v2URL := "http://" + addr + "/v2/" + demo.SeedShelfClassics
	if code, err := getStatus(http.DefaultClient, v2URL); err != nil || code != http.StatusNotFound {
		t.Fatalf("before the edit: GET /v2/...: %d %v, want 404", code, err)
	}

	var calls, failures atomic.Int64
	var firstFailure atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, err := getStatus(client, bookURL)
				calls.Add(1)
				if err != nil || code != http.StatusOK {
					failures.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("status %d, error %v", code, err))
				}
			}
		}()
	}
	stopLoad := sync.OnceFunc(func() { close(stop); wg.Wait() })
	t.Cleanup(stopLoad)

	editProto(t, file, addShelfBinding)
	edited := time.Now()
	// Generous bound, for failure only: the watcher polls every 250ms.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, err := getStatus(http.DefaultClient, v2URL)
		if err == nil && code == http.StatusOK {
			t.Logf("the new binding answered %v after the edit was saved", time.Since(edited).Round(time.Millisecond))
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new binding never answered: last %d %v", code, err)
		}
		time.Sleep(20 * time.Millisecond)
	}

	var at string
	editProto(t, file, func(s string) string { s, at = breakProto(s); return s })
	want := file + ":" + at + ": "
	deadline = time.Now().Add(20 * time.Second)
	for !strings.Contains(p.log(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the broken edit was not refused with its location %q", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(p.log(), "contracts reload refused") {
		t.Error("the broken edit's error was logged, but not as a refused reload")
	}
	for _, u := range []string{bookURL, v2URL} {
		if code, err := getStatus(http.DefaultClient, u); err != nil || code != http.StatusOK {
			t.Errorf("after the refused edit: GET %s: %d %v, want the routes in use answering", u, code, err)
		}
	}
	stopLoad()
	if n := failures.Load(); n != 0 {
		t.Errorf("%d of %d calls failed across the edits; first: %v", n, calls.Load(), firstFailure.Load())
	}
	t.Logf("%d REST calls, 0 failed, across an edit and a refused edit", calls.Load())
}

// sluice validate and serve report every compile error at once, each as
// file:line:column: message; a fixed tree validates.
func TestProtoCompileErrorsAreReported(t *testing.T) {
	t.Parallel()
	root := copyProtoTree(t)
	file := filepath.Join(root, demoProtoFile)
	var at string
	editProto(t, file, func(s string) string { s, at = breakProto(s); return s })
	other := filepath.Join(root, "sluice/demo/library/v1/other.proto")
	if err := os.WriteFile(other, []byte("syntax = \"proto3\";\npackage sluice.demo.library.v1;\n\nimport \"google/api/annotationz.proto\";\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--proto", root, "--upstream", "sluice.demo.library.v1=127.0.0.1:1"}
	for _, cmd := range [][]string{{"validate"}, {"serve", "--listen", "127.0.0.1:0", "--admin", "off"}} {
		out, err := exec.Command(sluiceBin, append(cmd, args...)...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("%s: %v, want exit 1\n%s", cmd[0], err, out)
		}
		for _, want := range []string{
			file + ":" + at + ": ",
			other + ":4:8: could not resolve path \"google/api/annotationz.proto\"",
		} {
			if !strings.Contains(string(out), want) {
				t.Errorf("%s output lacks %q:\n%s", cmd[0], want, out)
			}
		}
	}
	copyFile(t, "../../proto/"+demoProtoFile, file)
	if err := os.Remove(other); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(sluiceBin, append([]string{"validate"}, args...)...).CombinedOutput(); err != nil {
		t.Errorf("validate the fixed tree: %v\n%s", err, out)
	}
}

// routes and openapi read .proto sources as they read the descriptor set
// buf builds from them: the same routes, the same document.
func TestRoutesAndOpenAPIFromProto(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"routes", "openapi"} {
		fromProto, err := exec.Command(sluiceBin, cmd, "--proto", "../../proto", "--upstream", "sluice.*=127.0.0.1:1").Output()
		if err != nil {
			t.Fatalf("%s --proto: %v", cmd, err)
		}
		fromSet, err := exec.Command(sluiceBin, cmd, "--descriptor-set", "../../gen/descriptors/demo.binpb", "--upstream", "sluice.*=127.0.0.1:1").Output()
		if err != nil {
			t.Fatalf("%s --descriptor-set: %v", cmd, err)
		}
		// Only the source's name, and the version the document derives
		// from the contracts and their sources, may differ.
		norm := func(b []byte) string {
			s := strings.NewReplacer("(../../proto)", "(SRC)", "(../../gen/descriptors/demo.binpb)", "(SRC)").Replace(string(b))
			if i := strings.Index(s, `"version": "contracts-`); i >= 0 {
				s = s[:i] + s[i+len(`"version": "contracts-`)+12:]
			}
			return strings.Join(strings.Fields(s), " ")
		}
		if norm(fromProto) != norm(fromSet) {
			t.Errorf("%s from .proto files differs from the descriptor set's:\n%s\n---\n%s", cmd, fromProto, fromSet)
		}
		if cmd == "openapi" && !strings.Contains(string(fromProto), "The shelf, `shelves/{shelf}`.") {
			t.Error("the OpenAPI document from .proto files lacks the contract's comments")
		}
	}
}

// With another source serving, sluice starts though the .proto files do
// not compile, and takes their contracts once they do.
func TestBrokenProtoWithAnotherSource(t *testing.T) {
	t.Parallel()
	upstream := startDemoUpstream(t)
	root := t.TempDir()
	extra := filepath.Join(root, "extra/v1/extra.proto")
	if err := os.MkdirAll(filepath.Dir(extra), 0o755); err != nil {
		t.Fatal(err)
	}
	const good = `syntax = "proto3";
package extra.v1;
import "google/api/annotations.proto";
message PingRequest {}
message PingResponse {}
service Extra {
  rpc Ping(PingRequest) returns (PingResponse) { option (google.api.http) = {get: "/extra/ping"}; }
}
`
	if err := os.WriteFile(extra, []byte(strings.Replace(good, "message PingResponse {}", "message PingResponse { strin x = 1; }", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startSluice(t, "serve", "--listen", "127.0.0.1:0", "--admin", "off",
		"--descriptor-set", "../../gen/descriptors/demo.binpb", "--proto", root,
		"--upstream", "sluice.demo.library.v1="+upstream, "--upstream", "extra.v1="+upstream)
	addr := p.waitLog(t, "gateway listening", "addr")
	if !strings.Contains(p.log(), extra+":5:") {
		t.Errorf("the compile error was not logged with its location")
	}
	waitHTTP(t, "http://"+addr+"/v1/"+demo.SeedBookMobyDick, http.StatusOK)
	if code, err := getStatus(http.DefaultClient, "http://"+addr+"/extra/ping"); err != nil || code != http.StatusNotFound {
		t.Fatalf("before the fix: %d %v, want 404 (no route)", code, err)
	}
	if err := os.WriteFile(extra, []byte(good), 0o600); err != nil {
		t.Fatal(err)
	}
	// Routed now: the demo upstream does not implement it (501).
	waitHTTP(t, "http://"+addr+"/extra/ping", http.StatusNotImplemented)
}

// --proto turns the embedded demo off and replaces the file's roots and
// files (import paths stay).
func TestProtoFlag(t *testing.T) {
	t.Parallel()
	cfgPath := writeConfig(t, "contracts:\n  proto:\n    roots: [../../gen]\n    files: [\"../../proto/**/*.proto\"]\n    import_paths: [../../third_party/googleapis]\n")
	var in inputs
	fs := newFlagSet("serve", io.Discard)
	in.register(fs)
	if err := in.parse(fs, []string{"--config", cfgPath, "--proto", "../../proto", "--proto", "../../proto/" + demoProtoFile}); err != nil {
		t.Fatal(err)
	}
	if in.demo() {
		t.Error("--proto left the embedded demo on")
	}
	cfg, err := in.load()
	if err != nil {
		t.Fatal(err)
	}
	p := cfg.Contracts.Proto
	if !slices.Equal(p.Roots, []string{"../../proto", "../../proto/" + demoProtoFile}) || len(p.Files) != 0 ||
		!slices.Equal(p.ImportPaths, []string{"../../third_party/googleapis"}) {
		t.Errorf("contracts.proto = %+v", p)
	}
	in = inputs{}
	fs = newFlagSet("serve", io.Discard)
	in.register(fs)
	if err := in.parse(fs, []string{"--proto", "../../proto"}); err != nil {
		t.Fatal(err)
	}
	if in.demo() {
		t.Error("--proto alone left the embedded demo on")
	}
}

package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/internal/corpora"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// brokenDemoSet writes the demo's descriptor set with GetShelf's binding
// made unservable (a variable naming no field) and an additional binding
// of GetBook that collides with ListShelves' GET /v1/shelves. With
// alsoDelete, DeleteShelf's binding is made unservable too. It writes to
// path, or to a new file when path is "", and returns the path.
func brokenDemoSet(t *testing.T, path string, alsoDelete bool) string {
	t.Helper()
	raw, err := os.ReadFile("../../gen/descriptors/demo.binpb")
	if err != nil {
		t.Fatal(err)
	}
	var set descriptorpb.FileDescriptorSet
	if err := proto.Unmarshal(raw, &set); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, f := range set.GetFile() {
		for _, s := range f.GetService() {
			for _, m := range s.GetMethod() {
				switch m.GetName() {
				case "GetShelf":
					proto.SetExtension(m.Options, annotations.E_Http, &annotations.HttpRule{
						Pattern: &annotations.HttpRule_Get{Get: "/v1/{nope=shelves/*}"},
					})
					found++
				case "GetBook":
					r := proto.GetExtension(m.Options, annotations.E_Http).(*annotations.HttpRule)
					r.AdditionalBindings = append(r.AdditionalBindings, &annotations.HttpRule{
						Pattern: &annotations.HttpRule_Get{Get: "/v1/shelves"},
					})
					found++
				case "DeleteShelf":
					if alsoDelete {
						proto.SetExtension(m.Options, annotations.E_Http, &annotations.HttpRule{
							Pattern: &annotations.HttpRule_Delete{Delete: "/v1/{gone=shelves/*}"},
						})
					}
				}
			}
		}
	}
	if found != 2 {
		t.Fatalf("found %d of GetShelf and GetBook in the demo set", found)
	}
	out, err := proto.Marshal(&set)
	if err != nil {
		t.Fatal(err)
	}
	if path == "" {
		path = filepath.Join(t.TempDir(), "broken.binpb")
	}
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// A binding sluice cannot serve and a shadowed one do not stop validate,
// routes or serve: each is reported (method, file, reason, winner), the
// other bindings are served, and the method stays reachable over gRPC.
// --strict and rest.strict_routes make them errors.
func TestUnservableBindingsAreReported(t *testing.T) {
	t.Parallel()
	set := brokenDemoSet(t, "", false)
	upstream := startDemoUpstream(t)
	args := []string{"--descriptor-set", set, "--upstream", "sluice.demo.library.v1.*=" + upstream}
	skipped := "GET /v1/{nope=shelves/*} of sluice.demo.library.v1.LibraryService.GetShelf in sluice/demo/library/v1/library.proto"
	shadowed := "GET /v1/shelves of sluice.demo.library.v1.LibraryService.ListShelves in sluice/demo/library/v1/library.proto"
	winner := "GET /v1/shelves of sluice.demo.library.v1.LibraryService.GetBook additional binding 1"

	out, err := exec.Command(sluiceBin, append([]string{"validate"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("validate: %v\n%s", err, out)
	}
	for _, want := range []string{"warning: REST binding " + skipped, "is skipped", `no field "nope"`,
		"warning: REST binding " + shadowed, "is shadowed by " + winner, "configuration is valid"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("validate output lacks %q:\n%s", want, out)
		}
	}
	out, err = exec.Command(sluiceBin, append([]string{"validate", "--strict"}, args...)...).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(string(out), skipped) || !strings.Contains(string(out), shadowed) {
		t.Errorf("validate --strict: %v, want exit 1 naming both bindings\n%s", err, out)
	}
	strictCfg := writeConfig(t, "rest:\n  strict_routes: true\n")
	out, err = exec.Command(sluiceBin, append([]string{"validate", "--config", strictCfg}, args...)...).CombinedOutput()
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Errorf("validate with rest.strict_routes: %v, want exit 1\n%s", err, out)
	}

	out, err = exec.Command(sluiceBin, append([]string{"routes"}, args...)...).Output()
	if err != nil {
		t.Fatalf("routes: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1+19 { // the header, the demo's 18 bindings and the added one
		t.Errorf("routes printed %d lines, want 20:\n%s", len(lines), out)
	}
	for _, want := range []string{"skipped: template /v1/{nope=shelves/*}: variable nope", "shadowed by " + winner} {
		if !strings.Contains(string(out), want) {
			t.Errorf("routes output lacks %q:\n%s", want, out)
		}
	}

	p := startSluice(t, append([]string{"serve", "--listen", "127.0.0.1:0", "--admin", "off"}, args...)...)
	addr := p.waitLog(t, "gateway listening", "addr")
	for _, want := range []string{skipped[:len("GET /v1/{nope=shelves/*}")], "/sluice.demo.library.v1.LibraryService/ListShelves"} {
		if !strings.Contains(p.log(), want) {
			t.Errorf("serve log lacks a warning about %q", want)
		}
	}
	// A reload warns about what the new contracts cannot serve, and serves
	// the new routes: DELETE of a shelf reaches the upstream (404 from it)
	// until the reload leaves DeleteShelf with no route.
	deleteURL := "http://" + addr + "/v1/shelves/no-such-shelf"
	deleteRouted := func() bool {
		t.Helper()
		req, err := http.NewRequest(http.MethodDelete, deleteURL, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		return res.StatusCode == http.StatusNotFound && !strings.Contains(string(body), "no route")
	}
	if !deleteRouted() {
		t.Fatal("DELETE of a shelf is not routed before the reload")
	}
	brokenDemoSet(t, set, true)
	if err := p.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(p.log(), "DELETE /v1/{gone=shelves/*}") {
		if time.Now().After(deadline) {
			t.Fatal("no warning about the binding the reloaded contracts cannot serve")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for deleteRouted() {
		if time.Now().After(deadline) {
			t.Fatal("DELETE of a shelf is still routed after the reload that removed its route")
		}
		time.Sleep(20 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	shelf, err := libraryv1.NewLibraryServiceClient(gatewaytest.Dial(t, addr)).GetShelf(ctx, &libraryv1.GetShelfRequest{Name: demo.SeedShelfClassics})
	if err != nil || shelf.GetShelf().GetName() != demo.SeedShelfClassics {
		t.Errorf("GetShelf over gRPC: %v, %v; want the shelf", shelf, err)
	}
	if code, err := getStatus(http.DefaultClient, "http://"+addr+"/v1/"+demo.SeedBookMobyDick); err != nil || code != http.StatusOK {
		t.Errorf("REST GetBook: %d %v, want 200", code, err)
	}

	strict := startSluice(t, append([]string{"serve", "--config", strictCfg, "--listen", "127.0.0.1:0", "--admin", "off"}, args...)...)
	select {
	case <-strict.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("serve with rest.strict_routes did not exit")
	}
	if !strings.Contains(strict.log(), skipped) {
		t.Errorf("serve with rest.strict_routes: log does not name the skipped binding:\n%s", strict.log())
	}
}

// `sluice routes` on the two corpora of scripts/corpora (Google's APIs,
// grpc-gateway's examples) exits 0 with one row per binding of the
// descriptor set. The sets are built by `make corpora`; the test skips
// without them.
func TestRoutesOnCorpora(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"googleapis.binpb", "grpc-gateway.binpb"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join("../../scripts/corpora/out", name)
			if _, err := os.Stat(path); err != nil {
				t.Skipf("corpus %s not built; run scripts/corpora/build.sh (make corpora): %v", path, err)
			}
			if raceEnabled && name == "googleapis.binpb" {
				t.Skip("Google's corpus is not read under the race detector (memory); `make test` runs this test without it")
			}
			want := countBindings(t, path)
			out, err := exec.Command(sluiceBin, "routes", "--descriptor-set", path).Output()
			if err != nil {
				t.Fatalf("sluice routes: %v", err)
			}
			rows := strings.Count(string(out), "\n") - 1 // the header
			if rows != want {
				t.Errorf("sluice routes printed %d rows, the descriptor set has %d bindings", rows, want)
			}
		})
	}
}

// countBindings counts the google.api.http rules of a descriptor set and
// their additional_bindings, independently of the registry and of
// BuildRoutes.
func countBindings(t *testing.T, path string) int {
	t.Helper()
	n, err := corpora.CountBindings(path)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

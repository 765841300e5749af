//lint:file-ignore SA1019 v1alpha reflection is deprecated, and still what older clients ask: it is tested on purpose.

package main

import (
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	reflectionv1 "google.golang.org/grpc/reflection/grpc_reflection_v1"
	reflectionv1alpha "google.golang.org/grpc/reflection/grpc_reflection_v1alpha"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// grpcurlBin is the grpcurl `make tools` installs; the tests that use it
// are skipped without it.
func grpcurlBin(t *testing.T) string {
	t.Helper()
	bin, err := filepath.Abs("../../.bin/grpcurl")
	if err == nil {
		if _, err = os.Stat(bin); err == nil {
			return bin
		}
	}
	t.Skipf("no grpcurl in .bin (make tools): %v", err)
	return ""
}

func grpcurl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, grpcurlBin(t), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("grpcurl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// The gateway answers server reflection itself, from its contracts (here
// compiled from .proto files), though its upstream serves no reflection
// (it does not even run: reflection never reaches it). grpcurl lists and
// describes the API; grpc-go's v1 and v1alpha clients get a symbol's file
// with every file it imports, transitively; after an edit adds a service,
// reflection lists it without a restart.
func TestGatewayServesReflection(t *testing.T) {
	t.Parallel()
	root := copyProtoTree(t)
	file := filepath.Join(root, demoProtoFile)
	p := startSluice(t, "serve", "--listen", "127.0.0.1:0", "--admin", "off",
		"--proto", root, "--upstream", "sluice.demo.library.v1=127.0.0.1:1")
	addr := p.waitLog(t, "gateway listening", "addr")

	list := grpcurl(t, "-plaintext", addr, "list")
	for _, want := range []string{"sluice.demo.library.v1.LibraryService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !strings.Contains(list, want+"\n") {
			t.Errorf("grpcurl list lacks %s:\n%s", want, list)
		}
	}
	desc := grpcurl(t, "-plaintext", addr, "describe", "sluice.demo.library.v1.LibraryService")
	if !strings.Contains(desc, "rpc GetBook ( .sluice.demo.library.v1.GetBookRequest ) returns ( .sluice.demo.library.v1.GetBookResponse )") {
		t.Errorf("grpcurl describe:\n%s", desc)
	}
	msg := grpcurl(t, "-plaintext", addr, "describe", "sluice.demo.library.v1.Book")
	if !strings.Contains(msg, "message Book {") {
		t.Errorf("grpcurl describe Book:\n%s", msg)
	}

	cc := gatewaytest.Dial(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rc, err := reflectionv1.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(req *reflectionv1.ServerReflectionRequest) *reflectionv1.ServerReflectionResponse {
		t.Helper()
		if err := rc.Send(req); err != nil {
			t.Fatal(err)
		}
		res, err := rc.Recv()
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := ask(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileContainingSymbol{
		FileContainingSymbol: "sluice.demo.library.v1.LibraryService.GetBook"}})
	raw := res.GetFileDescriptorResponse().GetFileDescriptorProto()
	if len(raw) == 0 {
		t.Fatalf("file containing symbol: %v", res)
	}
	// The answer holds the file and every file it imports, transitively:
	// they link on their own.
	set := &descriptorpb.FileDescriptorSet{}
	for _, b := range raw {
		fd := &descriptorpb.FileDescriptorProto{}
		if err := proto.Unmarshal(b, fd); err != nil {
			t.Fatal(err)
		}
		set.File = append(set.File, fd)
	}
	files, err := protodesc.NewFiles(set)
	if err != nil {
		t.Fatalf("the files reflection sent do not link on their own: %v", err)
	}
	for _, want := range []string{demoProtoFile, "google/api/annotations.proto", "google/api/http.proto", "google/protobuf/descriptor.proto"} {
		if _, err := files.FindFileByPath(want); err != nil {
			t.Errorf("file containing symbol: %s missing from the answer", want)
		}
	}
	res = ask(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_FileByFilename{FileByFilename: "no/such.proto"}})
	if codes.Code(res.GetErrorResponse().GetErrorCode()) != codes.NotFound {
		t.Errorf("an unknown file: %v, want NOT_FOUND", res)
	}

	// v1alpha, for older clients.
	ra, err := reflectionv1alpha.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := ra.Send(&reflectionv1alpha.ServerReflectionRequest{MessageRequest: &reflectionv1alpha.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	ares, err := ra.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if !hasService(ares.GetListServicesResponse().GetService(), "sluice.demo.library.v1.LibraryService") {
		t.Errorf("v1alpha list: %v", ares)
	}

	// An edit adds a service: the open stream and grpcurl see it once
	// the contracts reloaded.
	editProto(t, file, func(s string) string {
		return s + "\nservice ReloadProbe {\n  rpc Probe(GetShelfRequest) returns (Shelf);\n}\n"
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		res := ask(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}})
		var names []string
		for _, s := range res.GetListServicesResponse().GetService() {
			names = append(names, s.GetName())
		}
		if strings.Contains(strings.Join(names, " "), "sluice.demo.library.v1.ReloadProbe") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service the edit added was not listed within 20s: %v", names)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out := grpcurl(t, "-plaintext", addr, "describe", "sluice.demo.library.v1.ReloadProbe"); !strings.Contains(out, "rpc Probe") {
		t.Errorf("grpcurl describe after the reload:\n%s", out)
	}
}

func hasService(list []*reflectionv1alpha.ServiceResponse, name string) bool {
	for _, s := range list {
		if s.GetName() == name {
			return true
		}
	}
	return false
}

// Reflection passes the policy chain: authorization rules that do not
// name it close it, and a rule that does opens it.
func TestReflectionUnderAuthz(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		rule string
		want codes.Code
	}{
		{"closed", "", codes.PermissionDenied},
		{"opened", "      - methods: [grpc.reflection]\n        access: anonymous\n", codes.OK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfgPath := writeConfig(t, `admin: off
descriptor_sets: [`+mustAbs(t, "../../gen/descriptors/demo.binpb")+`]
upstreams:
  - target: 127.0.0.1:1
    methods: [sluice.demo.library.v1]
policy:
  authz:
    rules:
      - methods: [sluice.demo.library.v1]
        access: anonymous
`+tc.rule)
			p := startSluice(t, "serve", "--config", cfgPath, "--listen", "127.0.0.1:0")
			addr := p.waitLog(t, "gateway listening", "addr")
			cc := gatewaytest.Dial(t, addr)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			rc, err := reflectionv1.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
			if err != nil {
				t.Fatal(err)
			}
			// A refused stream may end before the request is sent: Send
			// then says io.EOF and Recv has the status.
			if err := rc.Send(&reflectionv1.ServerReflectionRequest{MessageRequest: &reflectionv1.ServerReflectionRequest_ListServices{}}); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			_, err = rc.Recv()
			if status.Code(err) != tc.want {
				t.Errorf("reflection: %v, want %v", err, tc.want)
			}
		})
	}
}

func mustAbs(t *testing.T, path string) string {
	t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	return abs
}

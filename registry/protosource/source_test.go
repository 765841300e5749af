package protosource_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/api/annotations"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/registry/protosource"
)

// writeTree writes files (slash-separated path -> content) under a new
// temporary directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, text := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func compile(t *testing.T, paths []string, opts ...protosource.Option) []*descriptorpb.FileDescriptorProto {
	t.Helper()
	src, err := protosource.New(paths, opts...)
	if err != nil {
		t.Fatal(err)
	}
	files, err := src.Files()
	if err != nil {
		t.Fatalf("compile %v: %v", paths, err)
	}
	return files
}

func names(files []*descriptorpb.FileDescriptorProto) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.GetName())
	}
	slices.Sort(out)
	return out
}

func find(files []*descriptorpb.FileDescriptorProto, name string) *descriptorpb.FileDescriptorProto {
	for _, f := range files {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

// The demo contract compiled from proto/ (its google/api and google/rpc
// imports from the embedded copies, the repository's third_party/ not
// being a root) is the contract `buf build` makes: the same descriptors,
// comments included, and a snapshot with every method and HTTP rule.
func TestCompileDemoContract(t *testing.T) {
	t.Parallel()
	files := compile(t, []string{"../../proto"})
	want := []string{
		"google/api/annotations.proto", "google/api/field_behavior.proto", "google/api/http.proto",
		"google/api/httpbody.proto", "google/rpc/status.proto", "sluice/demo/library/v1/library.proto",
	}
	if got := names(files); !slices.Equal(got, want) {
		t.Errorf("files = %v, want %v", got, want)
	}
	data, err := os.ReadFile("../../gen/descriptors/demo.binpb")
	if err != nil {
		t.Fatal(err)
	}
	built, err := registry.ParseDescriptorSet(data)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range built {
		c := find(files, b.GetName())
		if c == nil {
			if !strings.HasPrefix(b.GetName(), "google/protobuf/") {
				t.Errorf("%s: in buf's set, not compiled", b.GetName())
			}
			continue
		}
		// Positions differ in detail between compilers (buf keeps a few
		// more spans); the contract and its comments may not.
		if diff := cmp.Diff(b, c, protocmp.Transform(), protocmp.IgnoreFields(&descriptorpb.FileDescriptorProto{}, "source_code_info")); diff != "" {
			t.Errorf("%s differs from buf's (-buf +compiled):\n%s", b.GetName(), diff)
		}
		if b.GetSourceCodeInfo() != nil && !slices.Equal(comments(b), comments(c)) {
			t.Errorf("%s: comments differ from buf's", b.GetName())
		}
	}

	src, _ := protosource.New([]string{"../../proto"})
	snap, err := registry.Build(src)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := snap.Method("/sluice.demo.library.v1.LibraryService/GetBook")
	if !ok {
		t.Fatal("GetBook not in the snapshot")
	}
	rule, _ := proto.GetExtension(m.Desc.Options(), annotations.E_Http).(*annotations.HttpRule)
	if rule.GetGet() != "/v1/{name=shelves/*/books/*}" {
		t.Errorf("GetBook's http rule = %v", rule)
	}
}

func comments(f *descriptorpb.FileDescriptorProto) []string {
	var out []string
	for _, l := range f.GetSourceCodeInfo().GetLocation() {
		if c := l.GetLeadingComments() + l.GetTrailingComments(); c != "" {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

const importsEverything = `syntax = "proto3";
package t.v1;
import "google/api/annotations.proto";
import "google/api/field_behavior.proto";
import "google/api/httpbody.proto";
import "google/rpc/code.proto";
import "google/rpc/error_details.proto";
import "google/rpc/status.proto";
import "google/protobuf/timestamp.proto";
message Req { string name = 1 [(google.api.field_behavior) = REQUIRED]; google.rpc.Code code = 2; google.rpc.RetryInfo retry = 3; google.protobuf.Timestamp at = 4; }
service S {
  rpc Get(Req) returns (google.api.HttpBody) { option (google.api.http) = {get: "/v1/{name=things/*}"}; }
  rpc Status(Req) returns (google.rpc.Status);
}
`

// google/api/* and google/rpc/* resolve from the copies sluice embeds,
// protobuf's own files from the binary; a copy of a googleapis file in a
// root wins over the embedded one.
func TestImportsResolve(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{"t/v1/t.proto": importsEverything})
	files := compile(t, []string{dir})
	for _, want := range []string{"google/api/http.proto", "google/rpc/error_details.proto", "t/v1/t.proto"} {
		if find(files, want) == nil {
			t.Errorf("%s missing from %v", want, names(files))
		}
	}
	if find(files, "google/protobuf/timestamp.proto") != nil {
		t.Error("google/protobuf/timestamp.proto returned: the binary's copy is the one used")
	}

	own := `syntax = "proto3";
package google.api;
message HttpBody { string content_type = 1; bytes data = 2; string ours = 99; }
`
	dir = writeTree(t, map[string]string{
		"t/v1/t.proto":                     strings.Replace(importsEverything, "google.api.HttpBody", "google.api.HttpBody", 1),
		"vendor/google/api/httpbody.proto": own,
	})
	files = compile(t, []string{filepath.Join(dir, "t")}, protosource.WithImportPaths(filepath.Join(dir, "vendor")))
	hb := find(files, "google/api/httpbody.proto")
	if hb == nil || len(hb.GetMessageType()) != 1 || len(hb.GetMessageType()[0].GetField()) != 3 {
		t.Errorf("google/api/httpbody.proto is not the import path's own copy: %v", hb)
	}
	if find(files, "v1/t.proto") == nil {
		t.Errorf("files = %v, want v1/t.proto (named relative to its root)", names(files))
	}
}

// Every error at once, each located: file on disk, line and column.
func TestErrorsAreLocated(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{
		"a/v1/a.proto": "syntax = \"proto3\";\npackage a.v1;\nmessage A {\n  strin name = 1;\n}\n",
		"b/v1/b.proto": "syntax = \"proto3\";\npackage b.v1;\nimport \"b/v1/missing.proto\";\nmessage B { int32 x = 1; }\n",
		"d/v1/d.proto": "syntax = \"proto3\";\npackage d.v1;\nmessage D { int32 x = 1; int32 y = 1; }\n",
		"c/v1/c.proto": "syntax = \"proto3\";\npackage c.v1;\nmessage C { int32 x = 1 }\n",
	})
	src, err := protosource.New([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	_, err = src.Files()
	var errs protosource.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error %v (%T), want protosource.Errors", err, err)
	}
	text := err.Error()
	for _, want := range []string{
		filepath.Join(dir, "a/v1/a.proto") + ":4:3: ",
		filepath.Join(dir, "b/v1/b.proto") + ":3:8: ",
		filepath.Join(dir, "c/v1/c.proto") + ":3:25: ",
		filepath.Join(dir, "d/v1/d.proto") + ":3:",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("errors lack %q:\n%s", want, text)
		}
	}
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, dir) {
			t.Errorf("error line without its file: %q", line)
		}
	}
	// A registry built on the source reports the same, wrapped.
	if _, err := registry.Build(src); !errors.As(err, &errs) {
		t.Errorf("registry.Build: %v, want the compile errors", err)
	}
}

// A buf.yaml's module layout is honoured: module paths are import roots,
// excludes are not compiled (v2 and v1), and a buf.work.yaml's directories
// are modules.
func TestBufLayouts(t *testing.T) {
	t.Parallel()
	const good = "syntax = \"proto3\";\npackage api.v1;\nimport \"api/v1/dep.proto\";\nmessage M { api.v1.D d = 1; }\n"
	const dep = "syntax = \"proto3\";\npackage api.v1;\nmessage D {}\n"
	const broken = "this is not protobuf"
	for _, tc := range []struct {
		name  string
		files map[string]string
	}{
		{"v2", map[string]string{
			"buf.yaml":                 "version: v2\nmodules:\n  - path: proto\n    excludes: [proto/api/v1/wip]\n",
			"proto/api/v1/m.proto":     good,
			"proto/api/v1/dep.proto":   dep,
			"proto/api/v1/wip/x.proto": broken,
		}},
		{"v1", map[string]string{
			"buf.yaml":           "version: v1\nbuild:\n  excludes: [api/v1/wip]\n",
			"api/v1/m.proto":     good,
			"api/v1/dep.proto":   dep,
			"api/v1/wip/x.proto": broken,
		}},
		{"workspace", map[string]string{
			"buf.work.yaml":          "version: v1\ndirectories: [one, two]\n",
			"one/api/v1/m.proto":     good,
			"two/api/v1/dep.proto":   dep,
			"two/buf.yaml":           "version: v1\nbuild:\n  excludes: [api/v1/wip]\n",
			"two/api/v1/wip/x.proto": broken,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			files := compile(t, []string{writeTree(t, tc.files)})
			if got := names(files); !slices.Equal(got, []string{"api/v1/dep.proto", "api/v1/m.proto"}) {
				t.Errorf("files = %v", got)
			}
		})
	}
}

// Globs pick files; a file is named relative to the root or import path
// that holds it; a pattern that matches nothing is an error.
func TestFilesAndGlobs(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{
		"api/a/v1/a.proto":     "syntax = \"proto3\";\npackage a.v1;\nimport \"lib/l.proto\";\nmessage A { lib.L l = 1; }\n",
		"api/b/v1/b.proto":     "syntax = \"proto3\";\npackage b.v1;\nmessage B {}\n",
		"api/b/v1/README":      "not a proto",
		"inc/lib/l.proto":      "syntax = \"proto3\";\npackage lib;\nmessage L {}\n",
		"inc/lib/unused.proto": "syntax = \"proto3\";\npackage lib;\nmessage U {}\n",
	})
	files := compile(t, nil, protosource.WithFiles(filepath.Join(dir, "api/**/a/*/*.proto")), protosource.WithImportPaths(filepath.Join(dir, "api"), filepath.Join(dir, "inc")))
	if got := names(files); !slices.Equal(got, []string{"a/v1/a.proto", "lib/l.proto"}) {
		t.Errorf("files = %v", got)
	}
	files = compile(t, []string{filepath.Join(dir, "api/b/v1/b.proto")})
	if got := names(files); !slices.Equal(got, []string{"b.proto"}) {
		t.Errorf("a file alone: %v, want it named relative to its directory", got)
	}
	src, err := protosource.New(nil, protosource.WithFiles(filepath.Join(dir, "api/**/*.nope")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Files(); err == nil || !strings.Contains(err.Error(), "matches no .proto file") {
		t.Errorf("a pattern matching nothing: %v", err)
	}
	if _, err := protosource.New(nil); err == nil {
		t.Error("New with nothing to compile: no error")
	}
	if _, err := protosource.New(nil, protosource.WithFiles("api/[")); err == nil {
		t.Error("New with a malformed pattern: no error")
	}
}

// A new file in a root is compiled by the next call; an edit is seen.
func TestRecompilesWhatChanged(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{"a/v1/a.proto": "syntax = \"proto3\";\npackage a.v1;\nmessage A {}\n"})
	src, err := protosource.New([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	first, err := src.Files()
	if err != nil {
		t.Fatal(err)
	}
	if got := names(first); !slices.Equal(got, []string{"a/v1/a.proto"}) {
		t.Errorf("files = %v", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "a/v1/b.proto"), []byte("syntax = \"proto3\";\npackage a.v1;\nmessage B {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files, err := src.Files()
	if err != nil {
		t.Fatal(err)
	}
	if got := names(files); !slices.Equal(got, []string{"a/v1/a.proto", "a/v1/b.proto"}) {
		t.Errorf("after adding a file: %v", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "a/v1/b.proto"), []byte("syntax = \"proto3\";\npackage a.v1;\nmessage B { int32 x = 1; }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	files, _ = src.Files()
	if b := find(files, "a/v1/b.proto"); len(b.GetMessageType()[0].GetField()) != 1 {
		t.Error("an edit was not compiled")
	}
}

// An empty file (one being written: truncated, not yet filled) is refused
// rather than compiled into a contract without its services.
func TestEmptyFileRefused(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{"a/v1/a.proto": "syntax = \"proto3\";\npackage a.v1;\nservice S {}\n"})
	src, err := protosource.New([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Files(); err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(dir, "a/v1/a.proto")
	if err := os.WriteFile(a, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Files(); err == nil || !strings.HasPrefix(err.Error(), a+": empty file") {
		t.Errorf("empty file: %v, want it refused", err)
	}
}

// A root laid out as a Kubernetes ConfigMap volume (the files are
// symbolic links into a hidden directory that an update swaps) compiles
// each file once, under its own name, and an update is compiled.
func TestConfigMapLayout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(gen, text string) {
		d := filepath.Join(dir, gen)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "a.proto"), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(gen, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	write("..2026_12_06_01", "syntax = \"proto3\";\npackage a.v1;\nmessage A {}\n")
	if err := os.Symlink(filepath.Join("..data", "a.proto"), filepath.Join(dir, "a.proto")); err != nil {
		t.Fatal(err)
	}
	src, err := protosource.New([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	files, err := src.Files()
	if err != nil {
		t.Fatal(err)
	}
	if got := names(files); !slices.Equal(got, []string{"a.proto"}) {
		t.Errorf("files = %v, want a.proto once", got)
	}
	write("..2026_12_06_02", "syntax = \"proto3\";\npackage a.v1;\nmessage A {}\nmessage B {}\n")
	files, err = src.Files()
	if err != nil {
		t.Fatal(err)
	}
	if a := find(files, "a.proto"); len(a.GetMessageType()) != 2 {
		t.Error("the ConfigMap's update was not compiled")
	}
}

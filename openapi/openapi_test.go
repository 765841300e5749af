package openapi_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/sluice-dev/sluice/openapi"
	"github.com/sluice-dev/sluice/registry"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const demoSet = "../gen/descriptors/demo.binpb"

// demoSnapshot is the demo API as sluice loads it from its descriptor set.
func demoSnapshot(t *testing.T) *registry.Snapshot {
	t.Helper()
	s, err := registry.Build(registry.DescriptorSetFile(demoSet))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// withComments supplies the descriptor set's comments, which the snapshot
// does not hold when the contract is linked into the binary.
func withComments(t *testing.T) openapi.Option {
	t.Helper()
	data, err := os.ReadFile(demoSet)
	if err != nil {
		t.Fatal(err)
	}
	files, err := registry.ParseDescriptorSet(data)
	if err != nil {
		t.Fatal(err)
	}
	return openapi.WithSourceInfo(files...)
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./openapi -update)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the generated output; run go test ./openapi -update and review the diff", path)
	}
}

func TestDemoGolden(t *testing.T) {
	t.Parallel()
	doc, err := openapi.Generate(demoSnapshot(t), withComments(t),
		openapi.WithServers(openapi.Server{URL: "http://127.0.0.1:8080", Description: "The gateway."}))
	if err != nil {
		t.Fatal(err)
	}
	got, err := openapi.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "demo.openapi.json", got)
	// The document as written validates as OpenAPI 3.1.
	loaded, err := openapi3.NewLoader().LoadFromData(got)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.IsOpenAPI31OrLater() {
		t.Errorf("openapi = %q, want 3.1", loaded.OpenAPI)
	}
	if err := loaded.Validate(context.Background()); err != nil {
		t.Errorf("the document does not validate: %v", err)
	}
}

package protosource_test

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/registry/protosource"
)

// BenchmarkCompileDemo compiles the demo contract from proto/ with its
// imports (google/api/* embedded), as `sluice serve --proto proto/` does at
// start, and builds the registry snapshot from it. Target: under 200 ms.
func BenchmarkCompileDemo(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		src, err := protosource.New([]string{"../../proto"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := registry.Build(src); err != nil {
			b.Fatal(err)
		}
	}
}

// googleProtoFiles is where `make corpora` (scripts/corpora/build.sh)
// installs the npm package google-proto-files: Google's published APIs.
const googleProtoFiles = "../../scripts/googleapis/node_modules/google-proto-files"

// BenchmarkCompileGoogleAPIs compiles every file of Google's published
// APIs that has a google.api.http rule (the set scripts/corpora/build.sh
// gives buf), with their imports, from source, and builds the snapshot.
// retained-MB is the live heap afterwards, with the snapshot and the
// source held, as `sluice serve` holds them.
func BenchmarkCompileGoogleAPIs(b *testing.B) {
	if _, err := os.Stat(googleProtoFiles); err != nil {
		b.Skipf("%s absent: run `make corpora`", googleProtoFiles)
	}
	var files []string
	for _, dir := range []string{"google", "grafeas"} {
		err := filepath.WalkDir(filepath.Join(googleProtoFiles, dir), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || filepath.Ext(p) != ".proto" {
				return err
			}
			data, err := os.ReadFile(p)
			if err == nil && bytes.Contains(data, []byte("(google.api.http)")) {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	var snap *registry.Snapshot
	var src *protosource.Source
	for b.Loop() {
		snap, src = nil, nil
		var err error
		src, err = protosource.New(nil, protosource.WithFiles(files...), protosource.WithImportPaths(googleProtoFiles))
		if err != nil {
			b.Fatal(err)
		}
		if snap, err = registry.Build(src); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), "retained-MB")
	b.ReportMetric(float64(len(files)), "files")
	b.ReportMetric(float64(len(snap.Methods())), "methods")
	runtime.KeepAlive(snap)
	runtime.KeepAlive(src)
}

package protosource_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/registry/protosource"
)

// The demo contract, compiled from its source into a registry: its
// google/api imports resolve from the copies sluice embeds.
func ExampleNew() {
	src, err := protosource.New([]string{"../../proto"})
	if err != nil {
		fmt.Println(err)
		return
	}
	reg, err := registry.New(src)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _ := reg.Snapshot().Method("/sluice.demo.library.v1.LibraryService/ExportBooks")
	fmt.Println(m.Kind())
	// Output: server_streaming
}

// Every compile error at once, each with its place.
func ExampleErrors() {
	dir, _ := os.MkdirTemp("", "protosource")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "a.proto"), []byte("syntax = \"proto3\";\nmessage A {\n  strin name = 1;\n}\n"), 0o600)
	_ = os.WriteFile(filepath.Join(dir, "b.proto"), []byte("syntax = \"proto3\";\nmessage B { int32 x = 1 }\n"), 0o600)
	src, _ := protosource.New([]string{dir})
	_, err := src.Files()
	var errs protosource.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Printf("%s:%d:%d: %s\n", filepath.Base(e.File), e.Line, e.Column, e.Msg)
		}
	}
	// Output:
	// a.proto:3:3: field A.name: unknown type strin
	// b.proto:2:25: syntax error: expecting ';'
}

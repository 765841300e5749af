package protosource_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/registry/protosource"
)

// Watch reports an edit and a new file; ten saves in a row are reported
// fewer than ten times (a burst is one report).
func TestWatch(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{"a/v1/a.proto": "syntax = \"proto3\";\npackage a.v1;\n"})
	src, err := protosource.New([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var got []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = src.Watch(ctx, 50*time.Millisecond, func(p string) {
			mu.Lock()
			got = append(got, p)
			mu.Unlock()
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	waitFor := func(what string, ok func([]string) bool) []string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			mu.Lock()
			g := append([]string(nil), got...)
			mu.Unlock()
			if ok(g) {
				return g
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: reported %v", what, g)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	time.Sleep(100 * time.Millisecond) // let Watch take its baseline
	a := filepath.Join(dir, "a", "v1", "a.proto")
	const saves = 10
	for i := 0; i < saves; i++ {
		if err := os.WriteFile(a, []byte("syntax = \"proto3\";\npackage a.v1;\n"+strings.Repeat("\n", i+1)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	g := waitFor("the saves", func(g []string) bool { return len(g) > 0 })
	if g[0] != a {
		t.Errorf("reported %q, want %q", g[0], a)
	}
	b := filepath.Join(dir, "a", "v1", "b.proto")
	if err := os.WriteFile(b, []byte("syntax = \"proto3\";\npackage a.v1;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	g = waitFor("the new file", func(g []string) bool { return len(g) > 0 && g[len(g)-1] == b })
	if len(g)-1 >= saves {
		t.Errorf("%d saves reported %d times: %v", saves, len(g)-1, g)
	}
}

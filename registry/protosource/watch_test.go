package protosource_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/registry/protosource"
)

// Watch reports edits and new files. (That a burst of saves is one report
// is TestBurstCoalesces's, deterministically: here a loaded machine may
// pause between two saves for longer than a poll.)
func TestWatch(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{"a/v1/a.proto": "syntax = \"proto3\";\npackage a.v1;\n"})
	src, err := protosource.New([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	reports := make(chan string, 100)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		_ = src.Watch(ctx, 20*time.Millisecond, func(p string) { reports <- p })
	}()
	t.Cleanup(func() { cancel(); wg.Wait() })

	// change makes a change until one is reported whose path has the
	// given prefix: the watcher takes its baseline when it starts, which
	// may be after a first change.
	change := func(what, prefix string, write func(i int)) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for i := 0; ; i++ {
			write(i)
			wait := time.After(500 * time.Millisecond)
			for waiting := true; waiting; {
				select {
				case p := <-reports:
					if strings.HasPrefix(p, prefix) {
						return
					}
				case <-wait:
					waiting = false
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: never reported", what)
			}
		}
	}
	a := filepath.Join(dir, "a", "v1", "a.proto")
	change("an edit", a, func(i int) {
		for j := 0; j < 10; j++ { // a burst of saves
			if err := os.WriteFile(a, []byte("syntax = \"proto3\";\npackage a.v1;\n"+strings.Repeat("\n", 10*i+j+1)), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	})
	b := filepath.Join(dir, "a", "v1", "b")
	change("a new file", b, func(i int) {
		if err := os.WriteFile(fmt.Sprintf("%s%d.proto", b, i), []byte("syntax = \"proto3\";\npackage a.v1;\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	})
}

// A change made after a compilation and before Watch starts is reported:
// Watch compares with what the compilation read, so a watcher that starts
// late (a loaded machine) misses no edit.
func TestWatchSeesChangesSinceCompile(t *testing.T) {
	t.Parallel()
	dir := writeTree(t, map[string]string{"a/v1/a.proto": "syntax = \"proto3\";\npackage a.v1;\n"})
	src, err := protosource.New([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := src.Files(); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join(dir, "a", "v1", "b.proto")
	if err := os.WriteFile(b, []byte("syntax = \"proto3\";\npackage a.v1;\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	got := ""
	_ = src.Watch(ctx, 20*time.Millisecond, func(p string) { got = p; cancel() })
	if got != b {
		t.Errorf("reported %q, want %q", got, b)
	}
}

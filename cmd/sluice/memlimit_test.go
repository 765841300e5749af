package main

import (
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
)

func TestContainerMemoryLimit(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	missing := filepath.Join(dir, "missing")
	cases := []struct {
		name    string
		files   []string
		want    int64
		wantErr bool
	}{
		{"cgroup v2 limit", []string{write("v2", "536870912\n")}, 536870912, false},
		{"cgroup v2 without limit", []string{write("v2max", "max\n")}, 0, false},
		{"first existing file wins", []string{missing, write("v1", "268435456")}, 268435456, false},
		{"cgroup v1 without limit", []string{write("v1none", "9223372036854771712\n")}, 0, false},
		{"no cgroup files", []string{missing}, 0, false},
		{"garbage", []string{write("bad", "lots")}, 0, true},
		{"negative", []string{write("neg", "-1")}, 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := containerMemoryLimit(c.files)
			if (err != nil) != c.wantErr || got != c.want {
				t.Errorf("containerMemoryLimit = %d, %v; want %d, error %v", got, err, c.want, c.wantErr)
			}
		})
	}
}

// setMemoryLimit sets 90% of the container's limit, and leaves an
// operator's GOMEMLIMIT alone.
func TestSetMemoryLimit(t *testing.T) {
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	p := filepath.Join(t.TempDir(), "memory.max")
	if err := os.WriteFile(p, []byte("1000000000\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	noEnv := func(string) string { return "" }
	soft, err := setMemoryLimit(noEnv, []string{p})
	if err != nil || soft != 900000000 {
		t.Fatalf("setMemoryLimit = %d, %v; want 900000000", soft, err)
	}
	if got := debug.SetMemoryLimit(-1); got != 900000000 {
		t.Errorf("runtime memory limit %d, want 900000000", got)
	}

	debug.SetMemoryLimit(math.MaxInt64)
	withEnv := func(k string) string {
		if k == "GOMEMLIMIT" {
			return "2GiB"
		}
		return ""
	}
	if soft, err := setMemoryLimit(withEnv, []string{p}); err != nil || soft != 0 {
		t.Errorf("with GOMEMLIMIT: setMemoryLimit = %d, %v; want 0 (left alone)", soft, err)
	}
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT the runtime limit changed to %d", got)
	}
}

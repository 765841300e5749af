package main

import (
	"os/exec"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

// `sluice version` and `sluice --version` print the version, commit and
// Go version the toolchain stamped into the binary, as `go version -m`
// reads them.
func TestVersion(t *testing.T) {
	t.Parallel()
	meta, err := exec.Command("go", "version", "-m", sluiceBin).Output()
	if err != nil {
		t.Fatal(err)
	}
	setting := func(key string) string {
		m := regexp.MustCompile(`(?m)^\s+build\s+` + regexp.QuoteMeta(key) + `=(\S+)$`).FindSubmatch(meta)
		if m == nil {
			return ""
		}
		return string(m[1])
	}
	commit := setting("vcs.revision")
	if commit == "" {
		commit = "unknown"
	} else if setting("vcs.modified") == "true" {
		commit += "-modified"
	}
	version := "unknown"
	if m := regexp.MustCompile(`(?m)^\s+mod\s+github.com/sluice-dev/sluice\s+(\S+)`).FindSubmatch(meta); m != nil {
		version = string(m[1])
	}
	for _, arg := range []string{"version", "--version"} {
		out, err := exec.Command(sluiceBin, arg).Output()
		if err != nil {
			t.Fatalf("sluice %s: %v", arg, err)
		}
		for _, want := range []string{"sluice " + version + "\n", "commit: " + commit + "\n", "go: " + runtime.Version() + "\n"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("sluice %s:\n%s\nwant a line %q", arg, out, want)
			}
		}
	}
}

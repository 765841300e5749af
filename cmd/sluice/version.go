package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// buildInfo is what `sluice version` prints and sluice_build_info reports,
// read from the build information the Go toolchain stamps into the binary.
type buildInfo struct {
	Version  string // the main module's version: a tag, a pseudo-version or "(devel)"
	Commit   string // vcs.revision, "unknown" when built outside a checkout
	Modified bool   // vcs.modified: built from a checkout with uncommitted changes
	Time     string // vcs.time, the commit's time, when known
	Go       string // the Go version that built the binary
}

// readBuildInfo reads the binary's build information; fields the build did
// not record are "unknown".
func readBuildInfo() buildInfo {
	info := buildInfo{Version: "unknown", Commit: "unknown", Go: "unknown"}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info
	}
	info.Go = bi.GoVersion
	if bi.Main.Version != "" {
		info.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			if s.Value != "" {
				info.Commit = s.Value
			}
		case "vcs.modified":
			info.Modified = s.Value == "true"
		case "vcs.time":
			info.Time = s.Value
		}
	}
	return info
}

// revision is the commit, marked when the tree had uncommitted changes.
func (b buildInfo) revision() string {
	if b.Modified {
		return b.Commit + "-modified"
	}
	return b.Commit
}

func versionCommand(stdout io.Writer) int {
	b := readBuildInfo()
	fmt.Fprintf(stdout, "sluice %s\ncommit: %s\n", b.Version, b.revision())
	if b.Time != "" {
		fmt.Fprintf(stdout, "commit time: %s\n", b.Time)
	}
	fmt.Fprintf(stdout, "go: %s\n", b.Go)
	return 0
}

package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// cgroupMemoryFiles hold the memory limit of the process's container:
// cgroup v2's memory.max, then cgroup v1's limit_in_bytes.
var cgroupMemoryFiles = []string{
	"/sys/fs/cgroup/memory.max",
	"/sys/fs/cgroup/memory/memory.limit_in_bytes",
}

// memoryLimitShare is the part of the container's limit given to the Go
// runtime as its soft limit: the rest is for what the runtime does not
// count (thread stacks, the binary, the kernel's buffers for sockets).
const memoryLimitShare = 0.9

// setMemoryLimit gives the Go runtime a soft memory limit of 90% of the
// container's, when the container has one and GOMEMLIMIT does not say
// otherwise, and returns it (0: none set). Without it the collector runs
// by GOGC alone and lets garbage grow with the live heap: loading Google's
// APIs peaks at about 650 MiB of RSS for a 230 MiB steady state, which a
// 512 MiB container limit kills; with a limit, the collector works harder
// as the heap nears it instead (about 390 MiB at a 300 MiB limit; README,
// "Deploying").
func setMemoryLimit(getenv func(string) string, files []string) (int64, error) {
	if getenv("GOMEMLIMIT") != "" {
		return 0, nil // the operator's, which the runtime already applied
	}
	limit, err := containerMemoryLimit(files)
	if err != nil || limit <= 0 {
		return 0, err
	}
	soft := int64(float64(limit) * memoryLimitShare)
	debug.SetMemoryLimit(soft)
	return soft, nil
}

// containerMemoryLimit reads the first of files that exists: a number of
// bytes, or "max" (no limit, 0). A limit too large to be a real one (cgroup
// v1 writes 2^63 rounded to pages for none) counts as none.
func containerMemoryLimit(files []string) (int64, error) {
	for _, f := range files {
		b, err := os.ReadFile(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("container memory limit: %w", err)
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			return 0, nil
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return 0, fmt.Errorf("container memory limit: %s holds %q, not a number of bytes", f, v)
		}
		if n >= 1<<62 {
			return 0, nil
		}
		return n, nil
	}
	return 0, nil
}

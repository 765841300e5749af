//go:build linux

package transcoding_test

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time the calling thread has used, and true.
// The caller locks its goroutine to the thread. Unlike wall time, it does
// not count the time the thread waits for a core, which on a shared
// machine is most of the noise of a benchmark.
func threadCPU() (time.Duration, bool) {
	const rusageThread = 1 // RUSAGE_THREAD, which package syscall does not name
	var ru syscall.Rusage
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}

// Command soak is `make soak` (issue 17): mixed REST and gRPC load against
// two real `sluice serve` processes in front of one `sluice demo-upstream`,
// with global rate limits in a real Redis, while faults are injected: the
// upstream killed and restarted, Redis killed and restarted, contracts
// reloaded (the descriptor set rewritten, and SIGHUP), and one gateway
// stopped with SIGTERM and restarted. It ends with a report — calls by
// protocol and outcome, expected and unexpected errors, the RSS and
// goroutines of each gateway — and exits 1 on any unexpected error or on
// memory growth past the threshold.
//
// Which errors are expected is decided by one rule (classify, in
// load.go): RESOURCE_EXHAUSTED at any time (limits do that); UNAVAILABLE
// or a broken connection only for a call that overlapped an outage of
// something it depends on — the upstream for every call, the gateway it
// was sent to for its own calls — counting from the fault until the
// component is back plus a reconnect grace (-grace). Everything else is
// unexpected.
//
// Memory is flat when the mean RSS of the gateway that runs throughout
// over the last window (the last minute of a 10-minute run) is at most
// -max-growth percent plus 16 MiB above its mean over the second window
// (the second minute), warm-up excluded; its goroutines are flat when
// their last-window mean is at most twice the second-window mean plus 50.
//
// Not part of CI: it runs for 10 minutes by default and is CPU-heavy.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

type options struct {
	duration  time.Duration
	rate      int
	workers   int
	bin       string
	work      string
	desc      string
	redis     string
	out       string
	grace     time.Duration
	maxGrowth float64
	cycle     time.Duration
}

func main() {
	var o options
	flag.DurationVar(&o.duration, "duration", 10*time.Minute, "how long the load runs")
	flag.IntVar(&o.rate, "rate", 300, "calls per second over all protocols and both gateways")
	flag.IntVar(&o.workers, "workers", 32, "concurrent callers")
	flag.StringVar(&o.bin, "bin", ".bin/soak/sluice", "the sluice `binary`")
	flag.StringVar(&o.work, "work", "", "`dir`ectory for configurations and logs (default: a new temporary one)")
	flag.StringVar(&o.desc, "descriptor-set", "gen/descriptors/demo.binpb", "descriptor set of the demo API")
	flag.StringVar(&o.redis, "redis-server", "redis-server", "the redis-server `binary`")
	flag.StringVar(&o.out, "out", "bench/results", "`dir`ectory the report is written to")
	flag.DurationVar(&o.grace, "grace", 10*time.Second, "how long after a component is back its outage still explains UNAVAILABLE (reconnect backoff)")
	flag.Float64Var(&o.maxGrowth, "max-growth", 20, "RSS growth allowed, in percent (plus 16 MiB), from the second window to the last")
	flag.DurationVar(&o.cycle, "cycle", time.Minute, "length of one round of faults")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	ok, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	if !ok {
		os.Exit(1)
	}
}

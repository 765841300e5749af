// Command gateway runs one sluice gateway in its own process for the
// flowtest memory tests, so that its heap can be measured apart from the
// test's clients and upstreams. It prints "addr HOST:PORT" once serving,
// then answers commands on stdin, one per line:
//
//	base   collect garbage, take the heap as the baseline, reset the peak
//	peak   print "peak BYTES goroutines N": the highest heap sampled (every
//	       millisecond) since base, and the goroutines now
//	live   collect garbage and print "live BYTES goroutines N"
//	stacks print "stacks BYTES goroutines N": memory of goroutine stacks
//
// It shuts down when stdin closes. Heap is runtime/metrics'
// /memory/classes/heap/objects:bytes: live objects plus garbage not yet
// swept, so it over- rather than under-states what the gateway holds.
package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"

	"github.com/sluice-dev/sluice/interceptors/flow"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/upstream"
)

const heapMetric = "/memory/classes/heap/objects:bytes"

func heap() int64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

func main() {
	target := flag.String("upstream", "", "address of the test upstream")
	window := flag.Int("window", 0, "explicit HTTP/2 stream and connection window on both legs; 0 keeps grpc-go's dynamic windows")
	stall := flag.Duration("stall", 0, "send stall timeout")
	streams := flag.Uint("max-streams", 1000, "HTTP/2 max concurrent streams per client connection")
	flag.Parse()

	up := upstream.Spec{Target: *target, Methods: []string{"*"}}
	limits := server.DefaultLimits()
	limits.MaxConcurrentStreams = uint32(*streams)
	if *window > 0 {
		up.DialOptions = []grpc.DialOption{grpc.WithInitialWindowSize(int32(*window)), grpc.WithInitialConnWindowSize(int32(*window))}
		limits.InitialWindowSize, limits.InitialConnWindowSize = int32(*window), int32(*window)
	}
	ups, err := upstream.NewPool([]upstream.Spec{up})
	if err != nil {
		log.Fatal(err)
	}
	fc, err := flow.New(flow.WithSendStallTimeout(*stall))
	if err != nil {
		log.Fatal(err)
	}
	d, err := server.NewDispatcher(server.NewProxy(ups), fc.StreamServerInterceptor())
	if err != nil {
		log.Fatal(err)
	}
	gw, err := server.NewGateway(d, server.WithLimits(limits))
	if err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	if err := gw.Start(ln); err != nil {
		log.Fatal(err)
	}

	var peak atomic.Int64
	go func() {
		for range time.Tick(time.Millisecond) {
			h := heap()
			for {
				p := peak.Load()
				if h <= p || peak.CompareAndSwap(p, h) {
					break
				}
			}
		}
	}()

	fmt.Printf("addr %s\n", ln.Addr())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "base":
			runtime.GC()
			h := heap()
			peak.Store(h)
			fmt.Printf("base %d goroutines %d\n", h, runtime.NumGoroutine())
		case "peak":
			fmt.Printf("peak %d goroutines %d\n", peak.Load(), runtime.NumGoroutine())
		case "live":
			runtime.GC()
			fmt.Printf("live %d goroutines %d\n", heap(), runtime.NumGoroutine())
		case "stacks":
			s := []metrics.Sample{{Name: "/memory/classes/heap/stacks:bytes"}}
			metrics.Read(s)
			fmt.Printf("stacks %d goroutines %d\n", s[0].Value.Uint64(), runtime.NumGoroutine())
		default:
			fmt.Printf("error unknown command %q\n", in.Text())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = gw.Shutdown(ctx)
	_ = ups.Close()
}

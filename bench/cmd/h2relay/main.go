// Command h2relay is the floor of a frame-level gRPC fast path: an HTTP/2
// relay that terminates each client connection with x/net/http2's Framer
// and HPACK, maps every client stream onto a stream of a pooled upstream
// connection and forwards frames inline, with no policy at all. It is a
// comparison system of the benchmark (bench/run.sh, system h2-relay), as
// tcprelay is: whatever it costs over a direct call is the least a gateway
// that parses HTTP/2 (to run policies on the request headers) can cost
// with this design (issue 16).
//
// The design, which the gateway's fast path may adopt:
//
//   - One reader goroutine per connection, downstream and upstream, and no
//     goroutine per stream. The reader that has a frame writes it to the
//     other leg itself, under that connection's write mutex, into a
//     buffered writer. No writer goroutine is woken and nothing yields: the
//     reader flushes every connection it wrote to just before it would
//     block on its own socket, so frames that arrive together leave
//     together (one write system call per batch).
//   - Request HEADERS are HPACK-decoded and re-encoded for the upstream
//     connection (each connection has its own HPACK state); connection-
//     specific fields are dropped, everything else (pseudo-headers,
//     metadata, -bin values) passes as it is. DATA frames are forwarded as
//     they are: gRPC messages are never re-framed.
//   - HTTP/2 flow control carries backpressure end to end. The relay
//     advertises its own stream and connection windows to each peer; DATA
//     the destination's window cannot take yet waits on the stream, and the
//     sender gets its WINDOW_UPDATE for those bytes only once they were
//     written to the destination. What waits is therefore bounded by the
//     windows the relay advertised, whatever the peers do; a peer that
//     overruns them gets FLOW_CONTROL_ERROR.
//   - A reset on either leg resets the other; a connection that dies ends
//     its streams on the other side (upstream gone: the client gets
//     grpc-status UNAVAILABLE; client gone: the upstream gets CANCEL).
//
// What it leaves out, all of which a gateway needs on top: policies (the
// interceptor chain would run on the decoded request headers before the
// upstream stream is opened), TLS and ALPN, routing and load balancing over
// several upstreams (here: one address, round-robin over --conns
// connections), retries, health checks, keepalive pings of its own, write
// deadlines against peers that stop reading their socket, graceful drain
// (GOAWAY before closing), metrics and logs.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"runtime/trace"
	"syscall"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8084", "`address` to accept h2c connections on")
	upstream := flag.String("upstream", "127.0.0.1:50051", "`address` of the h2c (gRPC) upstream")
	conns := flag.Int("conns", 1, "upstream `connections`, used round-robin")
	streamWindow := flag.Int("stream-window", 1<<20, "flow-control window the relay advertises per stream, in `bytes`")
	connWindow := flag.Int("conn-window", 16<<20, "flow-control window the relay advertises per connection, in `bytes`")
	traceFile := flag.String("trace", "", "write a runtime trace to `file` until the relay stops (for go tool trace -pprof=sched)")
	cpuFile := flag.String("cpuprofile", "", "write a CPU profile to `file` until the relay stops")
	flag.Parse()
	if err := run(*listen, *upstream, *traceFile, *cpuFile, WithUpstreamConns(*conns), WithStreamWindow(*streamWindow), WithConnWindow(*connWindow)); err != nil {
		fmt.Fprintf(os.Stderr, "h2relay: %v\n", err)
		os.Exit(1)
	}
}

func run(listen, upstream, traceFile, cpuFile string, opts ...Option) error {
	r, err := NewRelay(upstream, opts...)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	if traceFile != "" {
		f, err := os.Create(traceFile)
		if err != nil {
			ln.Close()
			return err
		}
		defer f.Close()
		if err := trace.Start(f); err != nil {
			ln.Close()
			return fmt.Errorf("start trace: %w", err)
		}
		defer trace.Stop()
	}
	if cpuFile != "" {
		f, err := os.Create(cpuFile)
		if err != nil {
			ln.Close()
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			ln.Close()
			return fmt.Errorf("start CPU profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		r.Close()
	}()
	return r.Serve(ln)
}

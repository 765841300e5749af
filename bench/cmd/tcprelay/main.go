// Command tcprelay is the floor of the comparison for any gateway hop: it
// accepts TCP connections and relays their bytes to one upstream and back,
// without parsing HTTP/2 or gRPC at all (io.Copy between two TCP
// connections, which Linux turns into splice). Whatever latency it adds
// over a direct call is the price of one more process and socket pair on
// the path, which no gateway, however lean, can avoid.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8083", "`address` to accept connections on")
	upstream := flag.String("upstream", "127.0.0.1:50051", "`address` to relay them to")
	flag.Parse()
	if err := run(*listen, *upstream); err != nil {
		fmt.Fprintf(os.Stderr, "tcprelay: %v\n", err)
		os.Exit(1)
	}
}

func run(listen, upstream string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			relay(ctx, c.(*net.TCPConn), upstream)
		}()
	}
}

// relay copies bytes both ways until either side closes, then closes both.
func relay(ctx context.Context, client *net.TCPConn, upstream string) {
	defer client.Close()
	var d net.Dialer
	uc, err := d.DialContext(ctx, "tcp", upstream)
	if err != nil {
		fmt.Fprintf(os.Stderr, "tcprelay: dial %s: %v\n", upstream, err)
		return
	}
	up := uc.(*net.TCPConn)
	defer up.Close()
	_ = client.SetNoDelay(true)
	_ = up.SetNoDelay(true)
	done := make(chan struct{}, 2)
	pipe := func(dst, src *net.TCPConn) {
		_, _ = io.Copy(dst, src)
		_ = dst.CloseWrite()
		done <- struct{}{}
	}
	go pipe(up, client)
	go pipe(client, up)
	select {
	case <-done:
	case <-ctx.Done():
	}
	// One direction ended (or we are stopping): end the other too.
	_ = client.Close()
	_ = up.Close()
	<-done
}

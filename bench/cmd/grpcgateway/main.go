// Command grpcgateway is the anchor of the REST comparison: the demo API's
// generated grpc-gateway handler, registered with
// RegisterLibraryServiceHandlerFromEndpoint on a default
// runtime.NewServeMux(), served standalone by net/http (HTTP/1.1 and
// cleartext HTTP/2) in front of one upstream. It is what a grpc-gateway
// user runs, with nothing tuned, so the harness compares sluice with the
// tool users would pick instead.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8081", "`address` to serve REST on (HTTP/1.1 and h2c)")
	upstream := flag.String("upstream", "127.0.0.1:50051", "`address` of the demo upstream")
	flag.Parse()
	if err := run(*listen, *upstream); err != nil {
		fmt.Fprintf(os.Stderr, "grpcgateway: %v\n", err)
		os.Exit(1)
	}
}

func run(listen, upstream string) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	mux := runtime.NewServeMux()
	err := libraryv1.RegisterLibraryServiceHandlerFromEndpoint(ctx, mux, upstream,
		[]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())})
	if err != nil {
		return fmt.Errorf("register handler: %w", err)
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	// Cleartext HTTP/2 is enabled next to HTTP/1.1 so that the h2c rows
	// compare like with like; nothing else is changed from the defaults.
	srv := &http.Server{Handler: mux, Protocols: new(http.Protocols), ReadHeaderTimeout: 10 * time.Second}
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	fmt.Printf("grpc-gateway serving on %s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// Command grpcproxy is the plain frame-forwarding gRPC proxy of the
// comparison: github.com/mwitkow/grpc-proxy's TransparentHandler as the
// unknown-service handler of a grpc.Server, forwarding every call to one
// upstream without decoding it. It shows what pass-through costs in the
// library most Go gRPC proxies start from.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/mwitkow/grpc-proxy/proxy"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:8082", "`address` to serve gRPC on")
	upstream := flag.String("upstream", "127.0.0.1:50051", "`address` of the upstream")
	flag.Parse()
	if err := run(*listen, *upstream); err != nil {
		fmt.Fprintf(os.Stderr, "grpcproxy: %v\n", err)
		os.Exit(1)
	}
}

func run(listen, upstream string) error {
	// The 2018 grpc-proxy release speaks grpc-go's original Codec
	// interface, so its codec is installed through the deprecated options
	// that still accept it; that is how the library is used.
	//lint:ignore SA1019 grpc-proxy's codec implements only the legacy grpc.Codec.
	cc, err := grpc.NewClient(upstream, grpc.WithTransportCredentials(insecure.NewCredentials()), grpc.WithCodec(proxy.Codec()))
	if err != nil {
		return fmt.Errorf("dial upstream: %w", err)
	}
	defer cc.Close()

	director := func(ctx context.Context, _ string) (context.Context, *grpc.ClientConn, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		return metadata.NewOutgoingContext(ctx, md.Copy()), cc, nil
	}
	srv := grpc.NewServer(
		//lint:ignore SA1019 grpc-proxy's codec implements only the legacy grpc.Codec.
		grpc.CustomCodec(proxy.Codec()),
		grpc.UnknownServiceHandler(proxy.TransparentHandler(director)),
	)
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.GracefulStop()
	}()
	fmt.Printf("grpc-proxy serving on %s\n", ln.Addr())
	return srv.Serve(ln)
}

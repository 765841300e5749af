package frontdoor_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/sluice-dev/sluice/server/frontdoor"
)

// One cleartext port serves native gRPC (grpc-go's transport) and HTTP.
// With TLS, add frontdoor.WithTLS to New and
// grpc.Creds(frontdoor.TransportCredentials()) to the grpc.Server.
func ExampleNew() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	door, err := frontdoor.New(ln, frontdoor.WithSniffTimeout(5*time.Second))
	if err != nil {
		log.Fatal(err)
	}
	grpcServer := grpc.NewServer()
	healthpb.RegisterHealthServer(grpcServer, health.NewServer())
	httpServer := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "hello over %s", r.Proto)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go func() { _ = door.Serve() }()
	go func() { _ = door.ServeHTTP(httpServer) }()
	go func() { _ = grpcServer.Serve(door.GRPC()) }()

	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Get("http://" + door.Addr().String() + "/")
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	tr.CloseIdleConnections()
	fmt.Println(string(body))

	cc, err := grpc.NewClient(door.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		log.Fatal(err)
	}
	check, err := healthpb.NewHealthClient(cc).Check(context.Background(), &healthpb.HealthCheckRequest{})
	if err != nil {
		log.Fatal(err)
	}
	cc.Close()
	fmt.Println("gRPC health:", check.GetStatus())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = door.Shutdown(ctx)    // drains the HTTP side
	grpcServer.GracefulStop() // drains the gRPC side
	// Output:
	// hello over HTTP/1.1
	// gRPC health: SERVING
}

package gatewaytest

import (
	"net"
	"testing"

	"google.golang.org/grpc"
)

// Serve runs srv on a loopback port for the rest of the test and returns
// its address. Register services on srv before calling it. At cleanup srv
// is stopped at once (not gracefully) and Serve's goroutine is waited for,
// so that a leak check registered earlier does not see it.
func Serve(t testing.TB, srv *grpc.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Stop(); <-done })
	return ln.Addr().String()
}

// StartUpstream serves every method with handler (as the unknown-service
// handler of a grpc.Server built with opts) on a loopback port, like
// Serve, and returns its address.
func StartUpstream(t testing.TB, handler grpc.StreamHandler, opts ...grpc.ServerOption) string {
	t.Helper()
	return Serve(t, grpc.NewServer(append(opts[:len(opts):len(opts)], grpc.UnknownServiceHandler(handler))...))
}

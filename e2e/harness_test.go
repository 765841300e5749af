package e2e_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/server"
)

// demoEpoch is the clock of every demo upstream in these tests. With a fixed
// clock and the demo's counter-based ids (shelf-1, book-1, ...), two fresh
// upstreams given the same calls in the same order answer byte for byte the
// same, so responses need no normalisation of timestamps or ids.
var demoEpoch = time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)

// checkLeaks registers a goroutine leak check that runs after every other
// cleanup of the test. Call it first.
func checkLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() { goleak.VerifyNone(t) })
}

// startDemo runs a freshly seeded demo upstream on loopback and returns its
// address. Each side of a comparison gets its own, so mutating calls on one
// side never change what the other side sees.
func startDemo(tb testing.TB) string {
	tb.Helper()
	lib := demo.NewLibrary(demo.WithClock(func() time.Time { return demoEpoch }))
	srv := demo.NewServer(lib)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	tb.Cleanup(func() {
		lib.Close()
		srv.Stop()
		<-done
	})
	return ln.Addr().String()
}

// startGRPCGateway serves the demo API's generated grpc-gateway handler with
// a default runtime.ServeMux (what users of grpc-gateway compare against) in
// front of upstream, and returns its base URL.
func startGRPCGateway(tb testing.TB, upstream string) string {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	mux := runtime.NewServeMux()
	err := libraryv1.RegisterLibraryServiceHandlerFromEndpoint(ctx, mux, upstream,
		[]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())})
	if err != nil {
		cancel()
		tb.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	tb.Cleanup(func() {
		srv.Close()
		cancel() // closes the generated handler's ClientConn
	})
	return srv.URL
}

// startSluice runs a real sluice gateway on loopback with the REST
// transcoder in front of upstream, and returns its base URL.
func startSluice(tb testing.TB, upstream string) string {
	tb.Helper()
	reg, err := registry.New(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto))
	if err != nil {
		tb.Fatal(err)
	}
	ups, err := server.NewUpstreams([]server.Upstream{{
		Target:  upstream,
		Methods: []string{libraryv1.LibraryService_ServiceDesc.ServiceName},
	}}, 0, 0)
	if err != nil {
		tb.Fatal(err)
	}
	d, err := server.NewDispatcher(server.NewProxy(ups))
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	gw, err := server.NewGateway(d, server.WithHTTPHandler(newSluiceREST(tb, reg, d)))
	if err != nil {
		tb.Fatal(err)
	}
	if err := gw.Start(ln); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
		_ = ups.Close()
	})
	return "http://" + ln.Addr().String()
}

// newClient returns a keep-alive HTTP/1.1 client whose idle connections are
// closed when the test ends.
func newClient(tb testing.TB) *http.Client {
	tb.Helper()
	tr := &http.Transport{
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	tb.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

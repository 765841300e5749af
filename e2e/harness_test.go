package e2e_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/transcoding"
)

// demoEpoch is the clock of every demo upstream in these tests. With a fixed
// clock and the demo's counter-based ids (shelf-1, book-1, ...), two fresh
// upstreams given the same calls in the same order answer byte for byte the
// same, so responses need no normalisation of timestamps or ids.
var demoEpoch = time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)

// startDemo runs a freshly seeded demo upstream, a grpc.Server built with
// opts, on loopback and returns its address. Each side of a comparison
// gets its own, so mutating calls on one side never change what the other
// side sees.
func startDemo(tb testing.TB, opts ...grpc.ServerOption) string {
	tb.Helper()
	lib := demo.NewLibrary(demo.WithClock(func() time.Time { return demoEpoch }))
	addr := gatewaytest.Serve(tb, demo.NewServer(lib, opts...))
	tb.Cleanup(lib.Close) // runs before the server stops
	return addr
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
	srv := httptest.NewServer(fullDuplex(mux))
	tb.Cleanup(func() {
		srv.Close()
		cancel() // closes the generated handler's ClientConn
	})
	return srv.URL
}

// fullDuplex lets h read a request body after it started the response
// over HTTP/1.1, as grpc-gateway's streaming handlers do: without it
// net/http closes the body at the first write, and a bidi call answers or
// fails depending on which of its goroutines runs first. Each connection
// then serves one request: net/http cannot reuse a full-duplex connection
// whose body the handler left unread (golang/go#68560).
func fullDuplex(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 {
			w.Header().Set("Connection", "close")
			_ = http.NewResponseController(w).EnableFullDuplex()
		}
		h.ServeHTTP(w, r)
	})
}

// startSluice runs a real sluice gateway on loopback with the REST
// transcoder in front of upstream, and returns its base URL.
func startSluice(tb testing.TB, upstream string, opts ...transcoding.Option) string {
	tb.Helper()
	// A long header grace: whether a stream that fails right after its
	// header answers with the failure's status must not depend on how
	// fast a loaded machine runs the proxy (grpc-gateway waits for the
	// first message however long it takes).
	opts = append([]transcoding.Option{transcoding.WithStreamHeaderGrace(5 * time.Second)}, opts...)
	reg, err := registry.New(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto))
	if err != nil {
		tb.Fatal(err)
	}
	gw := gatewaytest.NewGateway(tb, gatewaytest.Route(upstream, libraryv1.LibraryService_ServiceDesc.ServiceName))
	gw.Start(tb, server.WithHTTPHandler(newSluiceREST(tb, reg, gw.Dispatcher, opts...)))
	return "http://" + gw.Addr
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

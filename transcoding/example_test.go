package transcoding_test

import (
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"

	"google.golang.org/grpc"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/transcoding"
)

// notServed is a Dispatcher for the example; a gateway passes its
// *server.Dispatcher, which runs the chain and the proxy.
type notServed struct{}

func (notServed) Dispatch(grpc.ServerStream, string, bool, bool) error { return nil }

func ExampleBuildRoutes() {
	reg, err := registry.New(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto))
	if err != nil {
		log.Fatal(err)
	}
	routes, err := transcoding.BuildRoutes(reg.Snapshot())
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range routes.List()[:3] {
		fmt.Println(r.HTTPMethod, r.Template, "->", r.Method)
	}
	// Output:
	// GET /v1/books -> /sluice.demo.library.v1.LibraryService/ListBooks
	// POST /v1/books:discuss -> /sluice.demo.library.v1.LibraryService/DiscussBook
	// POST /v1/books:import -> /sluice.demo.library.v1.LibraryService/ImportBooks
}

func ExampleNewREST() {
	reg, err := registry.New(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto))
	if err != nil {
		log.Fatal(err)
	}
	routes, err := transcoding.BuildRoutes(reg.Snapshot())
	if err != nil {
		log.Fatal(err)
	}
	rest, err := transcoding.NewREST(func() *transcoding.Routes { return routes }, notServed{},
		transcoding.WithMaxBodyBytes(1<<20),
		transcoding.WithSuccessCode("/sluice.demo.library.v1.LibraryService/CreateShelf", http.StatusCreated),
	)
	if err != nil {
		log.Fatal(err)
	}
	// In a gateway: server.NewGateway(d, server.WithHTTPHandler(rest)).
	w := httptest.NewRecorder()
	rest.ServeHTTP(w, httptest.NewRequest("PUT", "/v1/shelves", nil))
	fmt.Println(w.Code, w.Header().Get("Allow"))
	// Output:
	// 405 GET, POST
}

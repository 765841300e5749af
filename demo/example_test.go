package demo_test

import (
	"context"
	"fmt"
	"net"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The library can be called directly, without a server; the test knobs
// then do not apply.
func ExampleNewLibrary() {
	lib := demo.NewLibrary()
	resp, err := lib.GetBook(context.Background(), &libraryv1.GetBookRequest{Name: demo.SeedBookMobyDick})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.GetBook().GetTitle(), "by", resp.GetBook().GetAuthor())
	// Output: Moby-Dick by Herman Melville
}

// NewServer serves the library with health and reflection; here on a
// loopback port, with a failure injected through request metadata.
func ExampleNewServer() {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := demo.NewServer(nil)
	go func() { _ = srv.Serve(lis) }()
	defer srv.Stop()

	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() { _ = conn.Close() }()
	client := libraryv1.NewLibraryServiceClient(conn)

	ctx := context.Background()
	var header metadata.MD
	book, err := client.GetBook(ctx, &libraryv1.GetBookRequest{Name: demo.SeedBookDune}, grpc.Header(&header))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(book.GetBook().GetTitle(), header.Get(demo.HeaderMethod))

	ctx = metadata.AppendToOutgoingContext(ctx, demo.MetadataFail, "UNAVAILABLE:try later")
	_, err = client.GetBook(ctx, &libraryv1.GetBookRequest{Name: demo.SeedBookDune})
	fmt.Println(status.Code(err), status.Convert(err).Message())
	// Output:
	// Dune [/sluice.demo.library.v1.LibraryService/GetBook]
	// Unavailable try later
}

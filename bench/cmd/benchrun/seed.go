package main

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
)

// Resources the harness creates in the demo upstream before measuring.
const (
	shelfExport = "bench-export" // exportBooks books, for the server stream
	shelfBig    = "bench"        // holds the book with a 64 KiB cover
	shelfPost   = "bench-post"   // where the REST POST workload creates books
	bookBig     = "shelves/bench/books/big"
	exportBooks = 10_000
	coverBytes  = 64 << 10
)

// workload is one call, in its gRPC form (for direct, sluice gRPC and the
// plain proxy) and its REST form (for sluice REST and grpc-gateway). A
// workload without one of the forms skips those systems.
type workload struct {
	name  string
	title string
	unit  string // what one "request" is: "req" or "stream"
	// maxConcurrency skips closed-loop loads above it (0: no limit).
	maxConcurrency int

	grpcCall, grpcDataFile string

	restMethod, restPath, restBodyFile string

	// webBodyFile is the gRPC-Web request body (one length-prefixed proto
	// message) of grpcCall, for sluice's gRPC-Web systems.
	webBodyFile string
	// connectPath and connectBodyFile are the Connect unary form: a POST
	// of the proto-encoded request (application/proto).
	connectPath, connectBodyFile string

	// before runs ahead of every measurement (the POST workload empties
	// its shelf so the upstream does not grow across the run).
	before func(context.Context) error
}

// runs reports whether w is measured under load m.
func (w *workload) runs(m mode) bool {
	return w.maxConcurrency == 0 || m.concurrency <= w.maxConcurrency
}

func (w *workload) has(p protocol) bool {
	switch p {
	case protoGRPC:
		return w.grpcCall != ""
	case protoWebH1, protoWebH2C:
		return w.webBodyFile != ""
	case protoConnect:
		return w.connectPath != ""
	}
	return w.restPath != ""
}

// webPath is the gRPC-Web request path of w's method: /pkg.Service/Method.
func (w *workload) webPath() string {
	i := strings.LastIndexByte(w.grpcCall, '.')
	return "/" + w.grpcCall[:i] + "/" + w.grpcCall[i+1:]
}

// seeder talks to the demo upstream directly.
type seeder struct {
	cc     *grpc.ClientConn
	client libraryv1.LibraryServiceClient
}

func newSeeder(upstream string) (*seeder, error) {
	cc, err := grpc.NewClient(upstream, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return nil, err
	}
	return &seeder{cc: cc, client: libraryv1.NewLibraryServiceClient(cc)}, nil
}

func (s *seeder) close() { s.cc.Close() }

// seed creates the shelves and books the workloads use: a shelf of 10,000
// small books (through ImportBooks, one client stream) and a book with a
// 64 KiB cover image.
func (s *seeder) seed(ctx context.Context) error {
	for _, id := range []string{shelfExport, shelfBig, shelfPost} {
		if err := s.createShelf(ctx, id); err != nil {
			return err
		}
	}
	stream, err := s.client.ImportBooks(ctx)
	if err != nil {
		return err
	}
	for i := range exportBooks {
		req := &libraryv1.ImportBooksRequest{
			Book:   &libraryv1.Book{Title: fmt.Sprintf("Volume %05d", i), Author: "A. Author"},
			BookId: fmt.Sprintf("v%05d", i),
		}
		if i == 0 {
			req.Parent = "shelves/" + shelfExport
		}
		if err := stream.Send(req); err != nil {
			return fmt.Errorf("import books: %w", err)
		}
	}
	sum, err := stream.CloseAndRecv()
	if err != nil {
		return fmt.Errorf("import books: %w", err)
	}
	if sum.GetImportedCount() != exportBooks {
		return fmt.Errorf("import books: %d imported, %d failed", sum.GetImportedCount(), sum.GetFailedCount())
	}
	_, err = s.client.CreateBook(ctx, &libraryv1.CreateBookRequest{
		Parent: "shelves/" + shelfBig, BookId: "big",
		Book: &libraryv1.Book{Title: "A heavy book", CoverImage: cover()},
	})
	return err
}

func (s *seeder) createShelf(ctx context.Context, id string) error {
	_, err := s.client.CreateShelf(ctx, &libraryv1.CreateShelfRequest{
		ShelfId: id, Shelf: &libraryv1.Shelf{DisplayName: "Benchmark " + id},
	})
	return err
}

// resetShelf deletes a shelf with its books and creates it again.
func (s *seeder) resetShelf(ctx context.Context, id string) error {
	_, err := s.client.DeleteShelf(ctx, &libraryv1.DeleteShelfRequest{Name: "shelves/" + id, Force: true})
	if err != nil && status.Code(err) != codes.NotFound {
		return err
	}
	return s.createShelf(ctx, id)
}

// cover is 64 KiB of incompressible-looking bytes.
func cover() []byte {
	b := make([]byte, coverBytes)
	x := uint32(2463534242)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// workloads writes the request bodies into dir and returns the workloads
// in run order.
func workloads(dir string, s *seeder) ([]*workload, error) {
	write := func(name string, v any) (string, error) {
		b, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		p := filepath.Join(dir, name)
		return p, os.WriteFile(p, b, 0o644)
	}
	coverB64 := base64.StdEncoding.EncodeToString(cover())
	postBody := map[string]any{
		"title": "Benchmarks", "author": "A. Author", "genre": "GENRE_NON_FICTION", "rating": 4,
		"pageCount": 320, "copiesSold": "1000", "readingTime": "3600s",
		"labels": map[string]string{"language": "en"},
	}
	files := map[string]any{
		"get.json":       map[string]string{"name": "shelves/scifi/books/dune"},
		"update64k.json": map[string]any{"book": map[string]string{"name": bookBig, "coverImage": coverB64}},
		"export.json":    map[string]string{"parent": "shelves/" + shelfExport},
		"patch64k.json":  map[string]string{"coverImage": coverB64},
		"post.json":      postBody,
	}
	paths := map[string]string{}
	for name, v := range files {
		p, err := write(name, v)
		if err != nil {
			return nil, err
		}
		paths[name] = p
	}
	// The same requests as gRPC-Web bodies.
	for name, m := range map[string]proto.Message{
		"get.web":       &libraryv1.GetBookRequest{Name: "shelves/scifi/books/dune"},
		"update64k.web": &libraryv1.UpdateBookRequest{Book: &libraryv1.Book{Name: bookBig, CoverImage: cover()}},
		"export.web":    &libraryv1.ExportBooksRequest{Parent: "shelves/" + shelfExport},
	} {
		b, err := proto.Marshal(m)
		if err != nil {
			return nil, err
		}
		framed := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(b)))
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, append(framed, b...), 0o644); err != nil {
			return nil, err
		}
		paths[name] = p
	}
	// GetBook's request as a Connect unary body (application/proto).
	getProto, err := proto.Marshal(&libraryv1.GetBookRequest{Name: "shelves/scifi/books/dune"})
	if err != nil {
		return nil, err
	}
	paths["get.binpb"] = filepath.Join(dir, "get.binpb")
	if err := os.WriteFile(paths["get.binpb"], getProto, 0o644); err != nil {
		return nil, err
	}
	const svc = "sluice.demo.library.v1.LibraryService."
	return []*workload{
		{
			name: "unary-small", title: "GetBook, ~300 B response", unit: "req",
			grpcCall: svc + "GetBook", grpcDataFile: paths["get.json"], webBodyFile: paths["get.web"],
			restMethod: "GET", restPath: "/v1/shelves/scifi/books/dune",
			connectPath: "/sluice.demo.library.v1.LibraryService/GetBook", connectBodyFile: paths["get.binpb"],
		},
		{
			name: "unary-64k", title: "UpdateBook with a 64 KiB cover_image, each way", unit: "req",
			grpcCall: svc + "UpdateBook", grpcDataFile: paths["update64k.json"], webBodyFile: paths["update64k.web"],
			restMethod: "PATCH", restPath: "/v1/" + bookBig, restBodyFile: paths["patch64k.json"],
		},
		{
			name: "stream-10k", title: "ExportBooks, a server stream of 10,000 books", unit: "stream",
			// 256 streams of 10,000 messages each would hold 2.5 million
			// messages in flight: minutes per cell on 2 cores.
			maxConcurrency: 32,
			grpcCall:       svc + "ExportBooks", grpcDataFile: paths["export.json"], webBodyFile: paths["export.web"],
		},
		{
			name: "rest-post", title: "REST POST CreateBook with a JSON body", unit: "req",
			restMethod: "POST", restPath: "/v1/shelves/" + shelfPost + "/books", restBodyFile: paths["post.json"],
			before: func(ctx context.Context) error { return s.resetShelf(ctx, shelfPost) },
		},
	}, nil
}

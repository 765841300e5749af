package server_test

import (
	"context"
	"errors"
	"io"
	"strconv"
	"testing"
	"time"

	errdetails "google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// End to end through the gateway to the demo upstream, one test per call
// kind: messages, headers, trailers, status with details, cancel and
// deadline arrive intact.

func startDemo(t *testing.T) libraryv1.LibraryServiceClient {
	t.Helper()
	lib := demo.NewLibrary()
	srv := demo.NewServer(lib)
	addr := gatewaytest.Serve(t, srv)
	t.Cleanup(lib.Close) // before srv stops
	gw := gatewaytest.StartGateway(t, gatewaytest.Route(addr, "sluice.demo.library.v1"))
	return libraryv1.NewLibraryServiceClient(gatewaytest.Dial(t, gw.Addr))
}

func TestDemoUnary(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	c := startDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, "x-echo-request", "r-1")

	var header, trailer metadata.MD
	got, err := c.GetBook(ctx, &libraryv1.GetBookRequest{Name: demo.SeedBookMobyDick}, grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil {
		t.Fatal(err)
	}
	if got.GetBook().GetName() != demo.SeedBookMobyDick || got.GetBook().GetTitle() == "" {
		t.Errorf("GetBook = %v", got)
	}
	if v := header.Get(demo.HeaderMethod); len(v) != 1 || v[0] != "/sluice.demo.library.v1.LibraryService/GetBook" {
		t.Errorf("header %s = %v", demo.HeaderMethod, v)
	}
	if v := header.Get("x-echo-request"); len(v) != 1 || v[0] != "r-1" {
		t.Errorf("echoed header = %v", v)
	}
	if v := trailer.Get("x-echo-request-trailer"); len(v) != 1 || v[0] != "r-1" {
		t.Errorf("echoed trailer = %v", v)
	}
	// The upstream saw the caller's deadline (4s), less the time in flight.
	v := header.Get(demo.HeaderDeadlineMs)
	if len(v) != 1 {
		t.Fatalf("no %s header: the upstream saw no deadline", demo.HeaderDeadlineMs)
	}
	if ms, _ := strconv.Atoi(v[0]); ms < 3000 || ms > 4000 {
		t.Errorf("upstream deadline %sms, want within (3000, 4000]", v[0])
	}

	// Errors keep code, message and details.
	_, err = c.GetBook(ctx, &libraryv1.GetBookRequest{Name: "shelves/classics/books/nope"})
	st := status.Convert(err)
	if st.Code() != codes.NotFound {
		t.Fatalf("missing book: %v, want NOT_FOUND", err)
	}
	var info *errdetails.ErrorInfo
	var res *errdetails.ResourceInfo
	for _, d := range st.Details() {
		switch d := d.(type) {
		case *errdetails.ErrorInfo:
			info = d
		case *errdetails.ResourceInfo:
			res = d
		}
	}
	if info == nil || info.GetDomain() != demo.ErrorDomain || res == nil || res.GetResourceName() != "shelves/classics/books/nope" {
		t.Errorf("details = %v, want ErrorInfo of %s and ResourceInfo naming the book", st.Details(), demo.ErrorDomain)
	}
}

func TestDemoServerStreaming(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	c := startDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	list, err := c.ListBooks(ctx, &libraryv1.ListBooksRequest{Parent: demo.SeedShelfClassics})
	if err != nil {
		t.Fatal(err)
	}
	s, err := c.ExportBooks(ctx, &libraryv1.ExportBooksRequest{Parent: demo.SeedShelfClassics})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for {
		m, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, m.GetBook().GetName())
	}
	if len(names) != len(list.GetBooks()) || len(names) == 0 {
		t.Errorf("exported %d books, the shelf has %d", len(names), len(list.GetBooks()))
	}

	// An upstream failure after the first message reaches the client after
	// that message, with the upstream's headers and trailers.
	fctx := metadata.AppendToOutgoingContext(ctx, demo.MetadataFailAfter, "1", demo.MetadataFail, "DATA_LOSS:disk gone", "x-echo-k", "v")
	s, err = c.ExportBooks(fctx, &libraryv1.ExportBooksRequest{Parent: demo.SeedShelfClassics})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil {
		t.Fatalf("first message: %v", err)
	}
	_, err = s.Recv()
	if st := status.Convert(err); st.Code() != codes.DataLoss || st.Message() != "disk gone" || len(st.Details()) == 0 {
		t.Errorf("after one message: %v (details %v), want DATA_LOSS disk gone with details", err, st.Details())
	}
	if h, _ := s.Header(); len(h.Get("x-echo-k")) != 1 {
		t.Errorf("header = %v, want x-echo-k", h)
	}
	if tr := s.Trailer(); len(tr.Get("x-echo-k-trailer")) != 1 {
		t.Errorf("trailer = %v, want x-echo-k-trailer", tr)
	}
}

func TestDemoClientStreaming(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	c := startDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	s, err := c.ImportBooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	titles := []string{"Dubliners", "Ulysses", "Finnegans Wake"}
	for i, title := range titles {
		req := &libraryv1.ImportBooksRequest{Book: &libraryv1.Book{Title: title, Author: "James Joyce"}}
		if i == 0 {
			req.Parent = demo.SeedShelfClassics
		}
		if err := s.Send(req); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := s.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	if sum.GetImportedCount() != int32(len(titles)) || len(sum.GetBookNames()) != len(titles) {
		t.Errorf("import summary = %v, want %d books", sum, len(titles))
	}
}

func TestDemoBidi(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	c := startDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	s, err := c.DiscussBook(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, text := range []string{"hello", "what is it about?"} {
		req := &libraryv1.DiscussBookRequest{Text: text}
		if i == 0 {
			req.Name = demo.SeedBookMobyDick
		}
		if err := s.Send(req); err != nil {
			t.Fatal(err)
		}
		m, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if m.GetSequence() != int64(i+1) || m.GetSpeaker() != "librarian" {
			t.Errorf("answer %d = %v", i, m)
		}
	}
	// The upstream ends the call while the client is still sending.
	if err := s.Send(&libraryv1.DiscussBookRequest{Text: "fail"}); err != nil {
		t.Fatal(err)
	}
	go func() {
		for s.Send(&libraryv1.DiscussBookRequest{Text: "still talking"}) == nil {
		}
	}()
	for {
		_, err := s.Recv()
		if err == nil {
			continue
		}
		if status.Code(err) != codes.Aborted {
			t.Errorf("bidi ended with %v, want ABORTED", err)
		}
		break
	}
}

func TestDemoCancel(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	c := startDemo(t)
	ctx, cancel := context.WithCancel(context.Background())
	s, err := c.WatchShelf(ctx, &libraryv1.WatchShelfRequest{Name: demo.SeedShelfClassics})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Header(); err != nil {
		t.Fatal(err)
	}
	cancel()
	if _, err := s.Recv(); status.Code(err) != codes.Canceled {
		t.Errorf("after cancel: %v, want CANCELED", err)
	}
}

func TestDemoDeadlineExceeded(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	c := startDemo(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx, demo.MetadataDelay, "60s")
	start := time.Now()
	_, err := c.GetBook(ctx, &libraryv1.GetBookRequest{Name: demo.SeedBookMobyDick})
	if status.Code(err) != codes.DeadlineExceeded {
		t.Errorf("slow upstream: %v, want DEADLINE_EXCEEDED", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("took %v; the deadline was 300ms and the upstream would sleep a minute", d)
	}
}

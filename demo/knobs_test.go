package demo_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

const getBookMethod = "/sluice.demo.library.v1.LibraryService/GetBook"

func TestUnaryHeadersAndTrailers(t *testing.T) {
	t.Parallel()
	client, _ := start(t, nil)

	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	ctx = metadata.AppendToOutgoingContext(ctx,
		"x-echo-a", "1", "x-echo-a", "2",
		"x-echo-b-bin", string([]byte{0, 1, 2}),
		"x-other", "not echoed",
	)
	var header, trailer metadata.MD
	if _, err := client.GetBook(ctx, &libraryv1.GetBookRequest{Name: demo.SeedBookDune}, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		md   metadata.MD
		key  string
		want []string
	}{
		{header, demo.HeaderMethod, []string{getBookMethod}},
		{header, "x-echo-a", []string{"1", "2"}},
		{header, "x-echo-b-bin", []string{"\x00\x01\x02"}},
		{header, "x-other", nil},
		{trailer, "x-echo-a-trailer", []string{"1", "2"}},
		{trailer, "x-echo-b-trailer-bin", []string{"\x00\x01\x02"}},
	}
	for _, c := range checks {
		if got := c.md.Get(c.key); !slices.Equal(got, c.want) {
			t.Errorf("%s = %q, want %q", c.key, got, c.want)
		}
	}
	ms, err := strconv.Atoi(first(header.Get(demo.HeaderDeadlineMs)))
	if err != nil || ms <= 0 || ms > 5000 {
		t.Errorf("%s = %q, want milliseconds in (0, 5000]", demo.HeaderDeadlineMs, header.Get(demo.HeaderDeadlineMs))
	}

	// Without a deadline there is no deadline header.
	header = nil
	if _, err := client.GetBook(t.Context(), &libraryv1.GetBookRequest{Name: demo.SeedBookDune}, grpc.Header(&header)); err != nil {
		t.Fatal(err)
	}
	if got := header.Get(demo.HeaderDeadlineMs); got != nil {
		t.Errorf("%s = %q without a deadline", demo.HeaderDeadlineMs, got)
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func TestUnaryFailKnob(t *testing.T) {
	t.Parallel()
	client, _ := start(t, nil)

	tests := []struct {
		name      string
		md        []string
		code      codes.Code
		msg       string
		reason    string
		violation string
	}{
		{"by name with message", []string{demo.MetadataFail, "NOT_FOUND:gone fishing"}, codes.NotFound, "gone fishing", demo.ReasonInjected, ""},
		{"by number", []string{demo.MetadataFail, "14"}, codes.Unavailable, "demo: injected failure", demo.ReasonInjected, ""},
		{"lower case name", []string{demo.MetadataFail, "permission_denied"}, codes.PermissionDenied, "demo: injected failure", demo.ReasonInjected, ""},
		{"fail-after is ignored by unary calls", []string{demo.MetadataFail, "INTERNAL", demo.MetadataFailAfter, "3"}, codes.Internal, "demo: injected failure after 3 messages", demo.ReasonInjected, ""},
		{"unknown code", []string{demo.MetadataFail, "NOPE"}, codes.InvalidArgument, "", demo.ReasonInvalidArgument, demo.MetadataFail},
		{"OK is no failure", []string{demo.MetadataFail, "OK"}, codes.InvalidArgument, "", demo.ReasonInvalidArgument, demo.MetadataFail},
		{"bad fail-after", []string{demo.MetadataFailAfter, "-1"}, codes.InvalidArgument, "", demo.ReasonInvalidArgument, demo.MetadataFailAfter},
		{"bad delay", []string{demo.MetadataDelay, "soon"}, codes.InvalidArgument, "", demo.ReasonInvalidArgument, demo.MetadataDelay},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var header metadata.MD
			ctx := metadata.AppendToOutgoingContext(ctxFor(t), tt.md...)
			_, err := client.GetBook(ctx, &libraryv1.GetBookRequest{Name: demo.SeedBookDune}, grpc.Header(&header))
			st := wantCode(t, err, tt.code)
			if tt.msg != "" && st.Message() != tt.msg {
				t.Errorf("message = %q, want %q", st.Message(), tt.msg)
			}
			ei := errorInfoOf(st)
			if ei.GetReason() != tt.reason || ei.GetDomain() != demo.ErrorDomain {
				t.Errorf("ErrorInfo = %v", ei)
			}
			if tt.reason == demo.ReasonInjected && ei.GetMetadata()["method"] != getBookMethod {
				t.Errorf("ErrorInfo metadata = %v, want the method", ei.GetMetadata())
			}
			if tt.violation != "" && !slices.Equal(violatedFields(st), []string{tt.violation}) {
				t.Errorf("violations = %q, want %q", violatedFields(st), tt.violation)
			}
			// The header was sent before the failure.
			if got := header.Get(demo.HeaderMethod); !slices.Equal(got, []string{getBookMethod}) {
				t.Errorf("header %s = %q", demo.HeaderMethod, got)
			}
		})
	}
}

func TestUnaryDelayKnob(t *testing.T) {
	t.Parallel()
	client, _ := start(t, nil)

	startAt := time.Now()
	ctx := metadata.AppendToOutgoingContext(ctxFor(t), demo.MetadataDelay, "80ms")
	if _, err := client.GetBook(ctx, &libraryv1.GetBookRequest{Name: demo.SeedBookDune}); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(startAt); took < 80*time.Millisecond {
		t.Errorf("call took %v, want at least the 80ms delay", took)
	}

	// The delay ends with the deadline, and the delayed write never runs.
	ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(ctxFor(t), demo.MetadataDelay, "1h"), 50*time.Millisecond)
	defer cancel()
	_, err := client.DeleteBook(ctx, &libraryv1.DeleteBookRequest{Name: demo.SeedBookDune})
	wantCode(t, err, codes.DeadlineExceeded)
	if _, err := client.GetBook(ctxFor(t), &libraryv1.GetBookRequest{Name: demo.SeedBookDune}); err != nil {
		t.Errorf("book deleted although the delayed call timed out: %v", err)
	}
}

// exportAll drains an ExportBooks stream.
func exportAll(ctx context.Context, client libraryv1.LibraryServiceClient, md ...string) (n int, header, trailer metadata.MD, err error) {
	stream, err := client.ExportBooks(metadata.AppendToOutgoingContext(ctx, md...), &libraryv1.ExportBooksRequest{Parent: demo.SeedShelfClassics})
	if err != nil {
		return 0, nil, nil, err
	}
	for {
		_, err = stream.Recv()
		if err != nil {
			break
		}
		n++
	}
	header, _ = stream.Header()
	trailer = stream.Trailer()
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return n, header, trailer, err
}

func TestServerStreamKnobs(t *testing.T) {
	t.Parallel()
	client, _ := start(t, nil)

	tests := []struct {
		name string
		md   []string
		n    int
		code codes.Code
	}{
		{"no knobs", nil, 3, codes.OK},
		{"fail-after 2", []string{demo.MetadataFailAfter, "2"}, 2, codes.Aborted},
		{"fail-after 1 with code", []string{demo.MetadataFailAfter, "1", demo.MetadataFail, "UNAVAILABLE"}, 1, codes.Unavailable},
		{"fail-after 0", []string{demo.MetadataFailAfter, "0"}, 0, codes.Aborted},
		{"fail-after beyond the end", []string{demo.MetadataFailAfter, "10"}, 3, codes.OK},
		{"fail at once", []string{demo.MetadataFail, "RESOURCE_EXHAUSTED"}, 0, codes.ResourceExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			md := append([]string{"x-echo-k", "v"}, tt.md...)
			n, header, trailer, err := exportAll(ctxFor(t), client, md...)
			if n != tt.n || status.Code(err) != tt.code {
				t.Fatalf("got %d messages and %v, want %d and %v", n, err, tt.n, tt.code)
			}
			if err != nil {
				if ei := errorInfoOf(status.Convert(err)); ei.GetReason() != demo.ReasonInjected {
					t.Errorf("ErrorInfo = %v", ei)
				}
			}
			if got := header.Get(demo.HeaderMethod); !slices.Equal(got, []string{"/sluice.demo.library.v1.LibraryService/ExportBooks"}) {
				t.Errorf("header %s = %q", demo.HeaderMethod, got)
			}
			if got := trailer.Get("x-echo-k-trailer"); !slices.Equal(got, []string{"v"}) {
				t.Errorf("trailer x-echo-k-trailer = %q", got)
			}
		})
	}

	t.Run("delay before each message", func(t *testing.T) {
		t.Parallel()
		startAt := time.Now()
		n, _, _, err := exportAll(ctxFor(t), client, demo.MetadataDelay, "30ms")
		if err != nil || n != 3 {
			t.Fatalf("got %d, %v", n, err)
		}
		if took := time.Since(startAt); took < 90*time.Millisecond {
			t.Errorf("3 messages took %v, want at least 3x30ms", took)
		}
	})

	t.Run("delay ends with the deadline", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(ctxFor(t), 50*time.Millisecond)
		defer cancel()
		_, _, _, err := exportAll(ctx, client, demo.MetadataDelay, "1h")
		wantCode(t, err, codes.DeadlineExceeded)
	})
}

func TestWatchShelfFailAfter(t *testing.T) {
	t.Parallel()
	lib := demo.NewLibrary()
	client, _ := start(t, lib)
	ctx := ctxFor(t)

	watch, err := client.WatchShelf(metadata.AppendToOutgoingContext(ctx, demo.MetadataFailAfter, "1"), &libraryv1.WatchShelfRequest{Name: demo.SeedShelfSciFi})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Header(); err != nil {
		t.Fatal(err)
	}
	if _, err := lib.CreateBook(ctx, &libraryv1.CreateBookRequest{Parent: demo.SeedShelfSciFi, Book: &libraryv1.Book{Title: "x"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil {
		t.Fatal(err)
	}
	// No further change is needed for the failure to arrive.
	_, err = watch.Recv()
	wantCode(t, err, codes.Aborted)
}

func TestClientStreamFailAfter(t *testing.T) {
	t.Parallel()
	client, _ := start(t, nil)
	ctx := metadata.AppendToOutgoingContext(ctxFor(t), demo.MetadataFailAfter, "2", demo.MetadataFail, "DATA_LOSS:lost")

	stream, err := client.ImportBooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a1", "a2", "a3"} {
		if err := stream.Send(&libraryv1.ImportBooksRequest{Parent: demo.SeedShelfSciFi, BookId: id, Book: &libraryv1.Book{Title: id}}); err != nil && !errors.Is(err, io.EOF) {
			t.Fatal(err)
		}
	}
	_, err = stream.CloseAndRecv()
	if st := wantCode(t, err, codes.DataLoss); st.Message() != "lost" {
		t.Errorf("message = %q", st.Message())
	}
	header, err := stream.Header()
	if err != nil || header.Get(demo.HeaderMethod) == nil {
		t.Errorf("header = %v, %v; want it sent before the failure", header, err)
	}
	// The two messages received before the failure were imported.
	for id, want := range map[string]codes.Code{"a1": codes.OK, "a2": codes.OK, "a3": codes.NotFound} {
		_, err := client.GetBook(ctxFor(t), &libraryv1.GetBookRequest{Name: demo.SeedShelfSciFi + "/books/" + id})
		if status.Code(err) != want {
			t.Errorf("GetBook(%s): %v, want %v", id, err, want)
		}
	}
}

func TestBidiFailAfter(t *testing.T) {
	t.Parallel()
	client, _ := start(t, nil)
	stream, err := client.DiscussBook(metadata.AppendToOutgoingContext(ctxFor(t), demo.MetadataFailAfter, "1"))
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&libraryv1.DiscussBookRequest{Name: demo.SeedBookDune, Text: "one"}); err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&libraryv1.DiscussBookRequest{Text: "two"}); err != nil && !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	wantCode(t, err, codes.Aborted)
}

// TestKnobsInsideInterceptors checks that server interceptors see the
// knobs' effects: the gateway's own chain must observe injected failures.
func TestKnobsInsideInterceptors(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	record := func(method string, err error) {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, method+" "+status.Code(err).String())
	}
	client, _ := start(t, nil,
		grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
			resp, err := handler(ctx, req)
			record(info.FullMethod, err)
			return resp, err
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
			err := handler(srv, ss)
			record(info.FullMethod, err)
			return err
		}),
	)
	ctx := metadata.AppendToOutgoingContext(ctxFor(t), demo.MetadataFail, "NOT_FOUND")
	_, err := client.GetBook(ctx, &libraryv1.GetBookRequest{Name: demo.SeedBookDune})
	wantCode(t, err, codes.NotFound)
	_, _, _, err = exportAll(ctx, client)
	wantCode(t, err, codes.NotFound)

	mu.Lock()
	defer mu.Unlock()
	want := []string{getBookMethod + " NotFound", "/sluice.demo.library.v1.LibraryService/ExportBooks NotFound"}
	if !slices.Equal(seen, want) {
		t.Errorf("interceptors saw %q, want %q", seen, want)
	}
}

package demo_test

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"testing"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
)

func TestWatchShelf(t *testing.T) {
	t.Parallel()
	client, _ := start(t, nil)
	ctx := ctxFor(t)

	watch, err := client.WatchShelf(ctx, &libraryv1.WatchShelfRequest{Name: demo.SeedShelfClassics})
	if err != nil {
		t.Fatal(err)
	}
	// The header means the watch is registered.
	if _, err := watch.Header(); err != nil {
		t.Fatal(err)
	}
	name := demo.SeedShelfClassics + "/books/ulysses"
	if _, err := client.CreateBook(ctx, &libraryv1.CreateBookRequest{Parent: demo.SeedShelfClassics, BookId: "ulysses", Book: &libraryv1.Book{Title: "Ulysses"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.UpdateBook(ctx, &libraryv1.UpdateBookRequest{Book: &libraryv1.Book{Name: name, Author: "James Joyce"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"author"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteBook(ctx, &libraryv1.DeleteBookRequest{Name: name}); err != nil {
		t.Fatal(err)
	}
	// Changes to another shelf are not seen.
	if _, err := client.DeleteBook(ctx, &libraryv1.DeleteBookRequest{Name: demo.SeedBookDune}); err != nil {
		t.Fatal(err)
	}
	// Deleting the shelf reports its books' deletion, then ends the watch.
	if _, err := client.DeleteShelf(ctx, &libraryv1.DeleteShelfRequest{Name: demo.SeedShelfClassics, Force: true}); err != nil {
		t.Fatal(err)
	}

	var got []string
	for {
		ev, err := watch.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("Recv after %q: %v", got, err)
		}
		got = append(got, fmt.Sprintf("%s %s %s", ev.GetChangeType(), ev.GetBook().GetName(), ev.GetBook().GetAuthor()))
		if ev.GetChangeTime() == nil {
			t.Errorf("event without change_time: %v", ev)
		}
	}
	want := []string{
		"CHANGE_TYPE_CREATED shelves/classics/books/ulysses ",
		"CHANGE_TYPE_UPDATED shelves/classics/books/ulysses James Joyce",
		"CHANGE_TYPE_DELETED shelves/classics/books/ulysses James Joyce",
		"CHANGE_TYPE_DELETED shelves/classics/books/moby-dick Herman Melville",
		"CHANGE_TYPE_DELETED shelves/classics/books/pride-and-prejudice Jane Austen",
		"CHANGE_TYPE_DELETED shelves/classics/books/the-odyssey Homer",
	}
	if !slices.Equal(got, want) {
		t.Errorf("events:\n%q\nwant\n%q", got, want)
	}

	_, err = func() (*libraryv1.WatchShelfResponse, error) {
		w, err := client.WatchShelf(ctx, &libraryv1.WatchShelfRequest{Name: "shelves/nope"})
		if err != nil {
			return nil, err
		}
		return w.Recv()
	}()
	wantCode(t, err, codes.NotFound)
}

// TestWatchShelfSlowSubscriber checks that a watcher that cannot keep up is
// dropped with RESOURCE_EXHAUSTED instead of blocking writers.
func TestWatchShelfSlowSubscriber(t *testing.T) {
	t.Parallel()
	lib := demo.NewLibrary(demo.WithWatchBuffer(1))
	client, _ := start(t, lib)
	ctx := ctxFor(t)

	// Every event the watch sends waits 200ms: it falls behind at once.
	watch, err := client.WatchShelf(metadata.AppendToOutgoingContext(ctx, demo.MetadataDelay, "200ms"),
		&libraryv1.WatchShelfRequest{Name: demo.SeedShelfSciFi})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Header(); err != nil {
		t.Fatal(err)
	}
	const writes = 5
	for i := range writes {
		// Direct calls: these would block for a second if writers waited.
		if _, err := lib.CreateBook(ctx, &libraryv1.CreateBookRequest{Parent: demo.SeedShelfSciFi, Book: &libraryv1.Book{Title: fmt.Sprint(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	events := 0
	for {
		_, err := watch.Recv()
		if err != nil {
			st := wantCode(t, err, codes.ResourceExhausted)
			if ei := errorInfoOf(st); ei.GetReason() != demo.ReasonWatchBufferOverflow {
				t.Errorf("ErrorInfo = %v", ei)
			}
			break
		}
		events++
	}
	if events >= writes {
		t.Errorf("got all %d events, want the watch dropped before", events)
	}
}

func TestExportBooks(t *testing.T) {
	t.Parallel()
	client, _ := start(t, nil)
	stream, err := client.ExportBooks(ctxFor(t), &libraryv1.ExportBooksRequest{Parent: demo.SeedShelfClassics})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		resp, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp.GetBook().GetName())
	}
	want := []string{demo.SeedBookMobyDick, "shelves/classics/books/pride-and-prejudice", "shelves/classics/books/the-odyssey"}
	if !slices.Equal(got, want) {
		t.Errorf("exported %q, want %q", got, want)
	}
}

func TestImportBooks(t *testing.T) {
	t.Parallel()
	client, _ := start(t, nil)
	ctx := ctxFor(t)

	stream, err := client.ImportBooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	reqs := []*libraryv1.ImportBooksRequest{
		{Parent: demo.SeedShelfSciFi, BookId: "hyperion", Book: &libraryv1.Book{Title: "Hyperion"}},
		{Book: &libraryv1.Book{Title: ""}},                                  // invalid
		{BookId: "dune", Book: &libraryv1.Book{Title: "Dune again"}},        // exists
		{Parent: demo.SeedShelfClassics, Book: &libraryv1.Book{Title: "x"}}, // another parent
		{Parent: demo.SeedShelfSciFi, BookId: "solaris", Book: &libraryv1.Book{Title: "Solaris"}},
	}
	for _, r := range reqs {
		if err := stream.Send(r); err != nil {
			t.Fatal(err)
		}
	}
	summary, err := stream.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	wantNames := []string{"shelves/scifi/books/hyperion", "shelves/scifi/books/solaris"}
	if !slices.Equal(summary.GetBookNames(), wantNames) || summary.GetImportedCount() != 2 || summary.GetFailedCount() != 3 {
		t.Errorf("summary = %v", summary)
	}
	var failures []string
	for _, f := range summary.GetFailures() {
		failures = append(failures, fmt.Sprintf("%d %s", f.GetIndex(), codes.Code(f.GetStatus().GetCode())))
	}
	if want := []string{"1 InvalidArgument", "2 AlreadyExists", "3 InvalidArgument"}; !slices.Equal(failures, want) {
		t.Errorf("failures = %q, want %q", failures, want)
	}
	if _, err := client.GetBook(ctx, &libraryv1.GetBookRequest{Name: wantNames[1]}); err != nil {
		t.Errorf("imported book: %v", err)
	}

	// Without a parent in the first message, the import fails as a whole.
	stream, err = client.ImportBooks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&libraryv1.ImportBooksRequest{Book: &libraryv1.Book{Title: "x"}}); err != nil {
		t.Fatal(err)
	}
	_, err = stream.CloseAndRecv()
	if st := wantCode(t, err, codes.InvalidArgument); !slices.Equal(violatedFields(st), []string{"parent"}) {
		t.Errorf("violations %q", violatedFields(st))
	}
}

func TestDiscussBook(t *testing.T) {
	t.Parallel()
	client, _ := start(t, nil)
	ctx := ctxFor(t)

	t.Run("conversation", func(t *testing.T) {
		t.Parallel()
		stream, err := client.DiscussBook(ctx)
		if err != nil {
			t.Fatal(err)
		}
		msgs := []*libraryv1.DiscussBookRequest{
			{Name: demo.SeedBookDune, Speaker: "ada", Text: "the spice"},
			{Text: "must flow"},
			{Name: demo.SeedBookDune, Text: "bye"},
		}
		want := []string{`ada on "Dune": the spice`, `reader on "Dune": must flow`, `reader on "Dune": bye`}
		for i, m := range msgs {
			// Each answer arrives before the next message is sent.
			if err := stream.Send(m); err != nil {
				t.Fatal(err)
			}
			resp, err := stream.Recv()
			if err != nil {
				t.Fatal(err)
			}
			if resp.GetText() != want[i] || resp.GetSequence() != int64(i+1) || resp.GetSpeaker() != "librarian" || resp.GetName() != demo.SeedBookDune {
				t.Errorf("answer %d = %v, want text %q", i, resp, want[i])
			}
		}
		if err := stream.CloseSend(); err != nil {
			t.Fatal(err)
		}
		if _, err := stream.Recv(); !errors.Is(err, io.EOF) {
			t.Errorf("after CloseSend: %v, want EOF", err)
		}
	})

	t.Run("fail aborts while the client sends", func(t *testing.T) {
		t.Parallel()
		stream, err := client.DiscussBook(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, text := range []string{"hello", "fail", "still talking"} {
			// Sending after the server ended the call may fail with EOF.
			if err := stream.Send(&libraryv1.DiscussBookRequest{Name: demo.SeedBookDune, Text: text}); err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("answer to hello: %v", err)
		}
		_, err = stream.Recv()
		if ei := errorInfoOf(wantCode(t, err, codes.Aborted)); ei.GetReason() != demo.ReasonDiscussionAborted {
			t.Errorf("ErrorInfo = %v", ei)
		}
	})

	t.Run("unknown book", func(t *testing.T) {
		t.Parallel()
		stream, err := client.DiscussBook(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := stream.Send(&libraryv1.DiscussBookRequest{Name: "shelves/scifi/books/nope", Text: "hi"}); err != nil {
			t.Fatal(err)
		}
		_, err = stream.Recv()
		wantCode(t, err, codes.NotFound)
	})

	t.Run("another book later", func(t *testing.T) {
		t.Parallel()
		stream, err := client.DiscussBook(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{demo.SeedBookDune, demo.SeedBookMobyDick} {
			if err := stream.Send(&libraryv1.DiscussBookRequest{Name: name, Text: "hi"}); err != nil && !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
		}
		if _, err := stream.Recv(); err != nil {
			t.Fatal(err)
		}
		_, err = stream.Recv()
		if st := wantCode(t, err, codes.InvalidArgument); !slices.Equal(violatedFields(st), []string{"name"}) {
			t.Errorf("violations %q", violatedFields(st))
		}
	})
}

func TestCloseEndsWatches(t *testing.T) {
	t.Parallel()
	lib := demo.NewLibrary()
	client, _ := start(t, lib)
	ctx := ctxFor(t)

	watch, err := client.WatchShelf(ctx, &libraryv1.WatchShelfRequest{Name: demo.SeedShelfSciFi})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Header(); err != nil {
		t.Fatal(err)
	}
	lib.Close()
	lib.Close() // idempotent
	_, err = watch.Recv()
	wantCode(t, err, codes.Unavailable)

	watch, err = client.WatchShelf(ctx, &libraryv1.WatchShelfRequest{Name: demo.SeedShelfSciFi})
	if err != nil {
		t.Fatal(err)
	}
	_, err = watch.Recv()
	wantCode(t, err, codes.Unavailable)

	// Other calls keep working.
	if _, err := client.GetBook(ctx, &libraryv1.GetBookRequest{Name: demo.SeedBookDune}); err != nil {
		t.Errorf("GetBook after Close: %v", err)
	}
}

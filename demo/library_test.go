package demo_test

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"go.uber.org/goleak"
	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// fixedNow is the clock of tests that compare timestamps.
var fixedNow = time.Date(2026, time.March, 1, 12, 0, 0, 0, time.UTC)

// start serves lib (seeded when nil) over bufconn through demo.NewServer
// and returns a connected client; everything stops when the test ends.
func start(t *testing.T, lib *demo.Library, opts ...grpc.ServerOption) (libraryv1.LibraryServiceClient, *grpc.ClientConn) {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := demo.NewServer(lib, opts...)
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(lis)
	}()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		t.Fatalf("grpc.NewClient: %v", err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
		<-served
	})
	return libraryv1.NewLibraryServiceClient(conn), conn
}

func ctxFor(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, err error, want codes.Code) *status.Status {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != want {
		t.Fatalf("got error %v, want code %v", err, want)
	}
	return st
}

func errorInfoOf(st *status.Status) *errdetails.ErrorInfo {
	for _, d := range st.Details() {
		if ei, ok := d.(*errdetails.ErrorInfo); ok {
			return ei
		}
	}
	return nil
}

func violatedFields(st *status.Status) []string {
	var fields []string
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				fields = append(fields, v.GetField())
			}
		}
	}
	return fields
}

func TestCRUD(t *testing.T) {
	t.Parallel()
	client, _ := start(t, demo.NewLibrary(demo.WithoutSeed(), demo.WithClock(func() time.Time { return fixedNow })))
	ctx := ctxFor(t)

	shelf, err := client.CreateShelf(ctx, &libraryv1.CreateShelfRequest{
		Shelf:   &libraryv1.Shelf{DisplayName: "Poetry", Labels: map[string]string{"floor": "2"}},
		ShelfId: "poetry",
	})
	if err != nil {
		t.Fatalf("CreateShelf: %v", err)
	}
	wantShelf := &libraryv1.Shelf{
		Name: "shelves/poetry", DisplayName: "Poetry", Labels: map[string]string{"floor": "2"},
		CreateTime: timestamppb.New(fixedNow), UpdateTime: timestamppb.New(fixedNow),
	}
	if !proto.Equal(wantShelf, shelf.GetShelf()) {
		t.Errorf("CreateShelf = %v, want %v", shelf.GetShelf(), wantShelf)
	}

	created, err := client.CreateBook(ctx, &libraryv1.CreateBookRequest{
		Parent: "shelves/poetry",
		Book: &libraryv1.Book{
			Name: "ignored", Title: "Leaves of Grass", Author: "Walt Whitman", Genre: libraryv1.Genre_GENRE_POETRY,
			Rating: wrapperspb.Int32(4), CopiesSold: 9_000_000_000, ContentSizeBytes: 99,
		},
	})
	if err != nil {
		t.Fatalf("CreateBook: %v", err)
	}
	book := created.GetBook()
	if book.GetName() != "shelves/poetry/books/book-1" || book.GetContentSizeBytes() != 0 || book.GetCopiesSold() != 9_000_000_000 {
		t.Errorf("CreateBook returned %v: want a server-chosen name, output-only fields ignored, int64 kept", book)
	}

	got, err := client.GetBook(ctx, &libraryv1.GetBookRequest{Name: book.GetName()})
	if err != nil {
		t.Fatalf("GetBook: %v", err)
	}
	if !proto.Equal(book, got.GetBook()) {
		t.Errorf("GetBook = %v, want the created %v", got.GetBook(), book)
	}

	gotShelf, err := client.GetShelf(ctx, &libraryv1.GetShelfRequest{Name: "shelves/poetry"})
	if err != nil || gotShelf.GetShelf().GetBookCount() != 1 {
		t.Errorf("GetShelf = %v, %v; want book_count 1", gotShelf, err)
	}

	updated, err := client.UpdateBook(ctx, &libraryv1.UpdateBookRequest{
		Book:       &libraryv1.Book{Name: book.GetName(), Title: "Leaves of Grass (1855)", Author: "changed but not in mask"},
		UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "rating"}},
	})
	if err != nil {
		t.Fatalf("UpdateBook: %v", err)
	}
	if u := updated.GetBook(); u.GetTitle() != "Leaves of Grass (1855)" || u.GetAuthor() != "Walt Whitman" || u.GetRating() != nil {
		t.Errorf("UpdateBook = %v; want new title, old author, rating cleared (in mask, unset)", u)
	}

	published, err := client.PublishBook(ctx, &libraryv1.PublishBookRequest{Name: book.GetName()})
	if err != nil || !published.GetBook().GetPublishTime().AsTime().Equal(fixedNow) {
		t.Fatalf("PublishBook = %v, %v; want publish_time %v", published, err, fixedNow)
	}
	_, err = client.PublishBook(ctx, &libraryv1.PublishBookRequest{Name: book.GetName()})
	st := wantCode(t, err, codes.FailedPrecondition)
	if ei := errorInfoOf(st); ei.GetReason() != demo.ReasonAlreadyPublished {
		t.Errorf("second PublishBook ErrorInfo = %v", ei)
	}

	up, err := client.UploadBook(ctx, &libraryv1.UploadBookRequest{
		Name:    book.GetName(),
		Content: &httpbody.HttpBody{ContentType: "text/plain", Data: []byte("I celebrate myself")},
	})
	if err != nil || up.GetSizeBytes() != 18 || up.GetContentType() != "text/plain" {
		t.Fatalf("UploadBook = %v, %v", up, err)
	}
	down, err := client.DownloadBook(ctx, &libraryv1.DownloadBookRequest{Name: book.GetName()})
	if err != nil || string(down.GetData()) != "I celebrate myself" || down.GetContentType() != "text/plain" {
		t.Fatalf("DownloadBook = %v, %v", down, err)
	}

	_, err = client.DeleteShelf(ctx, &libraryv1.DeleteShelfRequest{Name: "shelves/poetry"})
	st = wantCode(t, err, codes.FailedPrecondition)
	if ei := errorInfoOf(st); ei.GetReason() != demo.ReasonShelfNotEmpty {
		t.Errorf("DeleteShelf of a non-empty shelf: ErrorInfo = %v", ei)
	}

	if _, err := client.DeleteBook(ctx, &libraryv1.DeleteBookRequest{Name: book.GetName()}); err != nil {
		t.Fatalf("DeleteBook: %v", err)
	}
	_, err = client.GetBook(ctx, &libraryv1.GetBookRequest{Name: book.GetName()})
	wantCode(t, err, codes.NotFound)
	if _, err := client.DeleteShelf(ctx, &libraryv1.DeleteShelfRequest{Name: "shelves/poetry"}); err != nil {
		t.Fatalf("DeleteShelf of an empty shelf: %v", err)
	}
	_, err = client.GetShelf(ctx, &libraryv1.GetShelfRequest{Name: "shelves/poetry"})
	wantCode(t, err, codes.NotFound)
}

func TestDeleteShelfForce(t *testing.T) {
	t.Parallel()
	client, _ := start(t, nil)
	ctx := ctxFor(t)
	if _, err := client.DeleteShelf(ctx, &libraryv1.DeleteShelfRequest{Name: demo.SeedShelfClassics, Force: true}); err != nil {
		t.Fatalf("DeleteShelf(force): %v", err)
	}
	_, err := client.GetBook(ctx, &libraryv1.GetBookRequest{Name: demo.SeedBookMobyDick})
	wantCode(t, err, codes.NotFound)
	list, err := client.ListBooks(ctx, &libraryv1.ListBooksRequest{})
	if err != nil {
		t.Fatalf("ListBooks: %v", err)
	}
	for _, b := range list.GetBooks() {
		if b.GetName() == demo.SeedBookMobyDick {
			t.Errorf("book of the deleted shelf still listed: %v", b.GetName())
		}
	}
}

func TestSeed(t *testing.T) {
	t.Parallel()
	client, _ := start(t, nil)
	ctx := ctxFor(t)
	for _, name := range []string{demo.SeedBookMobyDick, demo.SeedBookDune} {
		if _, err := client.GetBook(ctx, &libraryv1.GetBookRequest{Name: name}); err != nil {
			t.Errorf("GetBook(%s): %v", name, err)
		}
	}
	f, err := client.GetShelfFile(ctx, &libraryv1.GetShelfFileRequest{Name: demo.SeedFileReadingMD})
	if err != nil || f.GetFile().GetSizeBytes() != int64(len(f.GetFile().GetContent())) || f.GetFile().GetSizeBytes() == 0 {
		t.Errorf("GetShelfFile(%s) = %v, %v", demo.SeedFileReadingMD, f, err)
	}
	down, err := client.DownloadBook(ctx, &libraryv1.DownloadBookRequest{Name: demo.SeedBookMobyDick})
	if err != nil || len(down.GetData()) == 0 {
		t.Errorf("DownloadBook(%s) = %v, %v", demo.SeedBookMobyDick, down, err)
	}
	empty := demo.NewLibrary(demo.WithoutSeed())
	list, err := empty.ListShelves(ctx, &libraryv1.ListShelvesRequest{})
	if err != nil || len(list.GetShelves()) != 0 {
		t.Errorf("WithoutSeed: ListShelves = %v, %v; want none", list, err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	client, _ := start(t, nil)
	long := string(make([]rune, 201))

	tests := []struct {
		name       string
		call       func(context.Context) error
		code       codes.Code
		reason     string
		violations []string // BadRequest fields, in order
		resource   string   // ResourceInfo name
	}{
		{
			name: "create shelf without shelf",
			call: func(ctx context.Context) error {
				_, err := client.CreateShelf(ctx, &libraryv1.CreateShelfRequest{ShelfId: "Bad_Id"})
				return err
			},
			code: codes.InvalidArgument, reason: demo.ReasonInvalidArgument, violations: []string{"shelf", "shelf_id"},
		},
		{
			name: "create book reports every problem",
			call: func(ctx context.Context) error {
				_, err := client.CreateBook(ctx, &libraryv1.CreateBookRequest{
					Parent: "shelves/classics",
					Book: &libraryv1.Book{
						Title: "  ", Rating: wrapperspb.Int32(6), PageCount: -1, Genre: libraryv1.Genre(42),
						Labels:   map[string]string{"Bad Key": "v"},
						Chapters: []*libraryv1.Book_Chapter{{Title: "ok"}, {Title: ""}},
					},
					BookId: "-x",
				})
				return err
			},
			code: codes.InvalidArgument, reason: demo.ReasonInvalidArgument,
			violations: []string{"book.title", "book.genre", "book.rating", "book.page_count", `book.labels["Bad Key"]`, "book.chapters[1].title", "book_id"},
		},
		{
			name: "title too long",
			call: func(ctx context.Context) error {
				_, err := client.CreateBook(ctx, &libraryv1.CreateBookRequest{Parent: "shelves/classics", Book: &libraryv1.Book{Title: long}})
				return err
			},
			code: codes.InvalidArgument, reason: demo.ReasonInvalidArgument, violations: []string{"book.title"},
		},
		{
			name: "malformed book name",
			call: func(ctx context.Context) error {
				_, err := client.GetBook(ctx, &libraryv1.GetBookRequest{Name: "shelves/classics/moby-dick"})
				return err
			},
			code: codes.InvalidArgument, reason: demo.ReasonInvalidArgument, violations: []string{"name"},
		},
		{
			name: "file path with dot-dot",
			call: func(ctx context.Context) error {
				_, err := client.GetShelfFile(ctx, &libraryv1.GetShelfFileRequest{Name: "shelves/classics/files/../secret"})
				return err
			},
			code: codes.InvalidArgument, reason: demo.ReasonInvalidArgument, violations: []string{"name"},
		},
		{
			name: "missing book",
			call: func(ctx context.Context) error {
				_, err := client.GetBook(ctx, &libraryv1.GetBookRequest{Name: "shelves/classics/books/nope"})
				return err
			},
			code: codes.NotFound, reason: demo.ReasonNotFound, resource: "shelves/classics/books/nope",
		},
		{
			name: "missing shelf of a book",
			call: func(ctx context.Context) error {
				_, err := client.CreateBook(ctx, &libraryv1.CreateBookRequest{Parent: "shelves/nope", Book: &libraryv1.Book{Title: "t"}})
				return err
			},
			code: codes.NotFound, reason: demo.ReasonNotFound, resource: "shelves/nope",
		},
		{
			name: "missing file",
			call: func(ctx context.Context) error {
				_, err := client.GetShelfFile(ctx, &libraryv1.GetShelfFileRequest{Name: "shelves/classics/files/a/b/c"})
				return err
			},
			code: codes.NotFound, reason: demo.ReasonNotFound, resource: "shelves/classics/files/a/b/c",
		},
		{
			name: "duplicate book id",
			call: func(ctx context.Context) error {
				_, err := client.CreateBook(ctx, &libraryv1.CreateBookRequest{Parent: "shelves/classics", BookId: "moby-dick", Book: &libraryv1.Book{Title: "t"}})
				return err
			},
			code: codes.AlreadyExists, reason: demo.ReasonAlreadyExists, resource: demo.SeedBookMobyDick,
		},
		{
			name: "duplicate shelf id",
			call: func(ctx context.Context) error {
				_, err := client.CreateShelf(ctx, &libraryv1.CreateShelfRequest{ShelfId: "scifi", Shelf: &libraryv1.Shelf{DisplayName: "x"}})
				return err
			},
			code: codes.AlreadyExists, reason: demo.ReasonAlreadyExists, resource: demo.SeedShelfSciFi,
		},
		{
			name: "update mask with output-only, unknown and nested paths",
			call: func(ctx context.Context) error {
				_, err := client.UpdateBook(ctx, &libraryv1.UpdateBookRequest{
					Book:       &libraryv1.Book{Name: demo.SeedBookDune, Title: "x"},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title", "create_time", "nope", "chapters.title", "name"}},
				})
				return err
			},
			code: codes.InvalidArgument, reason: demo.ReasonInvalidArgument,
			violations: []string{"update_mask.paths[1]", "update_mask.paths[2]", "update_mask.paths[3]", "update_mask.paths[4]"},
		},
		{
			name: "update that would clear the title",
			call: func(ctx context.Context) error {
				_, err := client.UpdateBook(ctx, &libraryv1.UpdateBookRequest{
					Book:       &libraryv1.Book{Name: demo.SeedBookDune},
					UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}},
				})
				return err
			},
			code: codes.InvalidArgument, reason: demo.ReasonInvalidArgument, violations: []string{"book.title"},
		},
		{
			name: "upload without content",
			call: func(ctx context.Context) error {
				_, err := client.UploadBook(ctx, &libraryv1.UploadBookRequest{Name: demo.SeedBookDune})
				return err
			},
			code: codes.InvalidArgument, reason: demo.ReasonInvalidArgument, violations: []string{"content"},
		},
		{
			name: "upload too large",
			call: func(ctx context.Context) error {
				_, err := client.UploadBook(ctx, &libraryv1.UploadBookRequest{Name: demo.SeedBookDune, Content: &httpbody.HttpBody{Data: make([]byte, 1<<20+1)}})
				return err
			},
			code: codes.InvalidArgument, reason: demo.ReasonInvalidArgument, violations: []string{"content.data"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			st := wantCode(t, tt.call(ctxFor(t)), tt.code)
			ei := errorInfoOf(st)
			if ei.GetReason() != tt.reason || ei.GetDomain() != demo.ErrorDomain {
				t.Errorf("ErrorInfo = %v, want reason %s domain %s", ei, tt.reason, demo.ErrorDomain)
			}
			if got := violatedFields(st); !slices.Equal(got, tt.violations) {
				t.Errorf("violated fields = %q, want %q (status %v)", got, tt.violations, st.Proto())
			}
			if tt.resource != "" {
				var ri *errdetails.ResourceInfo
				for _, d := range st.Details() {
					if r, ok := d.(*errdetails.ResourceInfo); ok {
						ri = r
					}
				}
				if ri.GetResourceName() != tt.resource {
					t.Errorf("ResourceInfo = %v, want name %s", ri, tt.resource)
				}
			}
		})
	}
}

func TestUpdateEmptyMaskUpdatesPopulatedFields(t *testing.T) {
	t.Parallel()
	client, _ := start(t, nil)
	ctx := ctxFor(t)
	resp, err := client.UpdateBook(ctx, &libraryv1.UpdateBookRequest{
		Book: &libraryv1.Book{Name: demo.SeedBookDune, Title: "Dune (1965)", PageCount: 500},
	})
	if err != nil {
		t.Fatalf("UpdateBook: %v", err)
	}
	b := resp.GetBook()
	if b.GetTitle() != "Dune (1965)" || b.GetPageCount() != 500 || b.GetAuthor() != "Frank Herbert" || b.GetRating().GetValue() != 5 {
		t.Errorf("UpdateBook with an empty mask = %v; want title and page_count changed, the rest kept", b)
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	lib := demo.NewLibrary(demo.WithoutSeed())
	client, _ := start(t, lib)
	ctx := ctxFor(t)
	for _, id := range []string{"a", "b"} {
		if _, err := client.CreateShelf(ctx, &libraryv1.CreateShelfRequest{ShelfId: id, Shelf: &libraryv1.Shelf{DisplayName: id}}); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for i := range 7 {
		id := fmt.Sprintf("b%d", i)
		genre := libraryv1.Genre_GENRE_FICTION
		if i%2 == 1 {
			genre = libraryv1.Genre_GENRE_POETRY
		}
		if _, err := client.CreateBook(ctx, &libraryv1.CreateBookRequest{Parent: "shelves/a", BookId: id, Book: &libraryv1.Book{Title: id, Genre: genre}}); err != nil {
			t.Fatal(err)
		}
		want = append(want, "shelves/a/books/"+id)
	}
	if _, err := client.CreateBook(ctx, &libraryv1.CreateBookRequest{Parent: "shelves/b", BookId: "z", Book: &libraryv1.Book{Title: "z"}}); err != nil {
		t.Fatal(err)
	}

	listAll := func(req *libraryv1.ListBooksRequest) (names []string, pages int) {
		t.Helper()
		for {
			resp, err := client.ListBooks(ctx, req)
			if err != nil {
				t.Fatalf("ListBooks(%v): %v", req, err)
			}
			pages++
			for _, b := range resp.GetBooks() {
				names = append(names, b.GetName())
			}
			if resp.GetNextPageToken() == "" {
				return names, pages
			}
			req.PageToken = resp.GetNextPageToken()
		}
	}

	tests := []struct {
		name      string
		req       *libraryv1.ListBooksRequest
		want      []string
		wantPages int
	}{
		{"one shelf in pages of 3", &libraryv1.ListBooksRequest{Parent: "shelves/a", PageSize: 3}, want, 3},
		{"default page size", &libraryv1.ListBooksRequest{Parent: "shelves/a"}, want, 1},
		{"every shelf", &libraryv1.ListBooksRequest{PageSize: 2}, append(slices.Clone(want), "shelves/b/books/z"), 4},
		{"genre filter", &libraryv1.ListBooksRequest{Parent: "shelves/a", PageSize: 2, Genre: libraryv1.Genre_GENRE_POETRY},
			[]string{"shelves/a/books/b1", "shelves/a/books/b3", "shelves/a/books/b5"}, 2},
		{"page size above the cap", &libraryv1.ListBooksRequest{Parent: "shelves/a", PageSize: 1000}, want, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, pages := listAll(tt.req)
			if !slices.Equal(got, tt.want) || pages != tt.wantPages {
				t.Errorf("got %q in %d pages, want %q in %d", got, pages, tt.want, tt.wantPages)
			}
		})
	}

	first, err := client.ListBooks(ctx, &libraryv1.ListBooksRequest{Parent: "shelves/a", PageSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	bad := []*libraryv1.ListBooksRequest{
		{Parent: "shelves/b", PageToken: first.GetNextPageToken()},                                      // another parent
		{Parent: "shelves/a", PageToken: first.GetNextPageToken(), Genre: libraryv1.Genre_GENRE_POETRY}, // another filter
		{Parent: "shelves/a", PageToken: "not a token"},
		{Parent: "shelves/a", PageSize: -1},
	}
	for _, req := range bad {
		_, err := client.ListBooks(ctx, req)
		if st := wantCode(t, err, codes.InvalidArgument); len(violatedFields(st)) != 1 {
			t.Errorf("ListBooks(%v): violations %q, want one", req, violatedFields(st))
		}
	}

	shelves, err := client.ListShelves(ctx, &libraryv1.ListShelvesRequest{PageSize: 1})
	if err != nil || len(shelves.GetShelves()) != 1 || shelves.GetNextPageToken() == "" {
		t.Fatalf("ListShelves page 1 = %v, %v", shelves, err)
	}
	shelves, err = client.ListShelves(ctx, &libraryv1.ListShelvesRequest{PageSize: 1, PageToken: shelves.GetNextPageToken()})
	if err != nil || len(shelves.GetShelves()) != 1 || shelves.GetShelves()[0].GetName() != "shelves/b" || shelves.GetNextPageToken() != "" {
		t.Fatalf("ListShelves page 2 = %v, %v", shelves, err)
	}
	if shelves.GetShelves()[0].GetBookCount() != 1 {
		t.Errorf("book_count of shelves/b = %d, want 1", shelves.GetShelves()[0].GetBookCount())
	}
}

func TestHealthAndReflection(t *testing.T) {
	t.Parallel()
	_, conn := start(t, nil)
	ctx := ctxFor(t)
	for _, svc := range []string{"", "sluice.demo.library.v1.LibraryService"} {
		resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health Check(%q) = %v, %v", svc, resp, err)
		}
	}
	stream, err := reflectionpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&reflectionpb.ServerReflectionRequest{MessageRequest: &reflectionpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	_ = stream.CloseSend()
	var names []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	if !slices.Contains(names, "sluice.demo.library.v1.LibraryService") || !slices.Contains(names, "grpc.health.v1.Health") {
		t.Errorf("reflection lists %q", names)
	}
}

// TestConcurrentUse hammers one library from many clients at once; run
// with -race. Each worker owns its books, so the final state is known.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	client, _ := start(t, demo.NewLibrary(), grpc.MaxConcurrentStreams(1000))
	ctx := ctxFor(t)

	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	watch, err := client.WatchShelf(watchCtx, &libraryv1.WatchShelfRequest{Name: demo.SeedShelfSciFi})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := watch.Header(); err != nil {
		t.Fatal(err)
	}

	const workers, perWorker = 8, 10
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- func() error {
				for i := range perWorker {
					id := fmt.Sprintf("w%d-%d", w, i)
					name := demo.SeedShelfSciFi + "/books/" + id
					if _, err := client.CreateBook(ctx, &libraryv1.CreateBookRequest{Parent: demo.SeedShelfSciFi, BookId: id, Book: &libraryv1.Book{Title: id}}); err != nil {
						return err
					}
					if _, err := client.UpdateBook(ctx, &libraryv1.UpdateBookRequest{Book: &libraryv1.Book{Name: name, Title: id + "!"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"title"}}}); err != nil {
						return err
					}
					if _, err := client.ListBooks(ctx, &libraryv1.ListBooksRequest{PageSize: 5}); err != nil {
						return err
					}
					if i%2 == 0 {
						if _, err := client.DeleteBook(ctx, &libraryv1.DeleteBookRequest{Name: name}); err != nil {
							return err
						}
					}
				}
				return nil
			}()
		}()
	}
	// The watcher reads concurrently with the writers, counting events.
	events := 0
	wantEvents := workers * perWorker * 5 / 2 // create + update per book, delete for half
	for events < wantEvents {
		if _, err := watch.Recv(); err != nil {
			t.Fatalf("watch after %d events: %v", events, err)
		}
		events++
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("worker: %v", err)
		}
	}
	shelf, err := client.GetShelf(ctx, &libraryv1.GetShelfRequest{Name: demo.SeedShelfSciFi})
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(2 + workers*perWorker/2); shelf.GetShelf().GetBookCount() != want {
		t.Errorf("book_count = %d, want %d", shelf.GetShelf().GetBookCount(), want)
	}
	stopWatch()
	if _, err := watch.Recv(); status.Code(err) != codes.Canceled {
		t.Errorf("watch after cancel: %v, want Canceled", err)
	}
}

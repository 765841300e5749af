package transcoding_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/frame"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/transcoding"
)

// benchDispatcher stands in for the chain and the proxy with as little
// work as possible: it takes the request frame and answers with a fixed
// response, so a benchmark through it measures the transcoder alone.
type benchDispatcher struct{ response []byte }

func (d benchDispatcher) Dispatch(ss grpc.ServerStream, _ string, _, _ bool) error {
	f := new(frame.Frame)
	if err := ss.RecvMsg(f); err != nil {
		return err
	}
	f.Free()
	if err := ss.RecvMsg(new(frame.Frame)); !errors.Is(err, io.EOF) {
		return err
	}
	return ss.SendMsg(frame.FromBytes(append([]byte(nil), d.response...)))
}

func benchHandler(b *testing.B, response proto.Message) http.Handler {
	b.Helper()
	s, err := registry.Build(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto))
	if err != nil {
		b.Fatal(err)
	}
	routes, err := transcoding.BuildRoutes(s)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := proto.Marshal(response)
	if err != nil {
		b.Fatal(err)
	}
	h, err := transcoding.NewREST(func() *transcoding.Routes { return routes }, benchDispatcher{resp})
	if err != nil {
		b.Fatal(err)
	}
	return h
}

// benchServe makes one request per iteration and fails on anything but 200.
func benchServe(b *testing.B, h http.Handler, method, target string, body []byte) {
	b.Helper()
	b.ReportAllocs()
	for b.Loop() {
		var r io.Reader
		if body != nil {
			r = bytes.NewReader(body)
		}
		req := httptest.NewRequest(method, target, r)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("%s %s: %d %s", method, target, w.Code, w.Body.Bytes())
		}
	}
}

// BenchmarkBinding measures building the request message from the path,
// the query and the JSON body, one rule shape per sub-benchmark; the
// response is empty so the JSON encoding of the answer costs next to
// nothing.
//
//	go test ./transcoding -run '^$' -bench Binding -benchmem -count 5
func BenchmarkBinding(b *testing.B) {
	cover64k := base64.StdEncoding.EncodeToString(make([]byte, 64<<10))
	for _, c := range []struct {
		name, method, target, body string
		response                   proto.Message
	}{
		{"path", http.MethodGet, "/v1/shelves/classics/books/moby-dick", "", &libraryv1.Book{}},
		{"path+query", http.MethodGet, "/v1/shelves/classics/books?pageSize=10&genre=GENRE_FICTION&pageToken=abc", "", &libraryv1.ListBooksResponse{}},
		{"body-field", http.MethodPost, "/v1/shelves/classics/books?bookId=b1",
			`{"title":"Benchmarks","author":"A. Author","genre":"GENRE_NON_FICTION","rating":4,"pageCount":320,` +
				`"copiesSold":"1000","readingTime":"3600s","labels":{"language":"en"}}`, &libraryv1.CreateBookResponse{}},
		{"body-64k", http.MethodPatch, "/v1/shelves/classics/books/moby-dick", `{"coverImage":"` + cover64k + `"}`, &libraryv1.UpdateBookResponse{}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var body []byte
			if c.body != "" {
				body = []byte(c.body)
			}
			benchServe(b, benchHandler(b, c.response), c.method, c.target, body)
		})
	}
}

// BenchmarkResponseJSON measures encoding an upstream response as JSON:
// a GET whose binding is trivial, answered with a small book, a book with a
// 64 KiB cover (base64 in JSON) and a page of 100 books.
//
//	go test ./transcoding -run '^$' -bench ResponseJSON -benchmem -count 5
func BenchmarkResponseJSON(b *testing.B) {
	book := func(cover []byte) *libraryv1.Book {
		return &libraryv1.Book{
			Name: "shelves/classics/books/moby-dick", Title: "Moby-Dick", Author: "Herman Melville",
			Genre: libraryv1.Genre_GENRE_FICTION, Rating: wrapperspb.Int32(4), PageCount: 635, CopiesSold: 2_000_000,
			ReadingTime: durationpb.New(77400e9), Labels: map[string]string{"language": "en"}, CoverImage: cover,
		}
	}
	page := &libraryv1.ListBooksResponse{NextPageToken: "next"}
	for range 100 {
		page.Books = append(page.Books, book(nil))
	}
	for _, c := range []struct {
		name, target string
		response     proto.Message
	}{
		{"small", "/v1/shelves/classics/books/moby-dick", &libraryv1.GetBookResponse{Book: book(nil)}},
		{"cover-64k", "/v1/shelves/classics/books/moby-dick", &libraryv1.GetBookResponse{Book: book(make([]byte, 64<<10))}},
		{"page-100", "/v1/shelves/classics/books", page},
	} {
		b.Run(c.name, func(b *testing.B) {
			benchServe(b, benchHandler(b, c.response), http.MethodGet, c.target, nil)
		})
	}
}

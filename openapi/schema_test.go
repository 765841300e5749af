package openapi_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/openapi"
	"github.com/sluice-dev/sluice/registry"
)

// loadDemo generates, writes and reads back the demo document, so tests
// look at what a client would read.
func loadDemo(t *testing.T, opts ...openapi.Option) *openapi3.T {
	t.Helper()
	doc, err := openapi.Generate(demoSnapshot(t), opts...)
	if err != nil {
		t.Fatal(err)
	}
	b, err := openapi.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	loaded, err := openapi3.NewLoader().LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := loaded.Validate(context.Background()); err != nil {
		t.Fatalf("the document does not validate: %v", err)
	}
	return loaded
}

// The component schemas describe what the transcoder writes: the protojson
// form of demo messages validates against them, and a wrong form does not.
func TestSchemasMatchProtoJSON(t *testing.T) {
	t.Parallel()
	doc := loadDemo(t, withComments(t))
	ctx := context.Background()
	lib := demo.NewLibrary()
	got, err := lib.GetBook(ctx, &libraryv1.GetBookRequest{Name: demo.SeedBookMobyDick})
	if err != nil {
		t.Fatal(err)
	}
	book := proto.CloneOf(got.GetBook())
	book.Rating = wrapperspb.Int32(5)
	book.CopiesSold = 1 << 40
	book.ReadingTime = durationpb.New(90 * time.Minute)
	book.Metadata, _ = structpb.NewStruct(map[string]any{"a": []any{1.0, "x", nil}})
	book.CoverImage = []byte{0xff, 0x00}
	book.PublishTime = timestamppb.New(time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC))
	book.Chapters = []*libraryv1.Book_Chapter{{Title: "Loomings", StartPage: 1}}
	book.Genre = libraryv1.Genre_GENRE_FICTION

	cases := []struct {
		name   string
		schema string
		msg    proto.Message
		edit   func(map[string]any)
		valid  bool
	}{
		{name: "book", schema: "sluice.demo.library.v1.Book", msg: book, valid: true},
		{name: "book with null rating", schema: "sluice.demo.library.v1.Book", msg: book, edit: func(m map[string]any) { m["rating"] = nil }, valid: true},
		{name: "int64 as a number", schema: "sluice.demo.library.v1.Book", msg: book, edit: func(m map[string]any) { m["copiesSold"] = 12 }},
		{name: "unknown enum name", schema: "sluice.demo.library.v1.Book", msg: book, edit: func(m map[string]any) { m["genre"] = "GENRE_COOKING" }},
		{name: "timestamp as a number", schema: "sluice.demo.library.v1.Book", msg: book, edit: func(m map[string]any) { m["publishTime"] = 1 }},
		{name: "duration without unit", schema: "sluice.demo.library.v1.Book", msg: book, edit: func(m map[string]any) { m["readingTime"] = "90" }},
		{name: "missing required title", schema: "sluice.demo.library.v1.Book", msg: book, edit: func(m map[string]any) { delete(m, "title") }},
		{name: "list response", schema: "sluice.demo.library.v1.ListBooksResponse", msg: &libraryv1.ListBooksResponse{Books: []*libraryv1.Book{book}, NextPageToken: "x"}, valid: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b, err := protojson.Marshal(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			var v map[string]any
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				tc.edit(v)
			}
			ref := doc.Components.Schemas[tc.schema]
			if ref == nil {
				t.Fatalf("no component %s", tc.schema)
			}
			err = ref.Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
			if tc.valid && err != nil {
				t.Errorf("%s does not validate: %v", b, err)
			}
			if !tc.valid && err == nil {
				t.Errorf("an invalid value validates: %v", v)
			}
		})
	}
}

// Each binding shape of the demo API is documented as the transcoder
// serves it.
func TestOperations(t *testing.T) {
	t.Parallel()
	doc := loadDemo(t, withComments(t))
	op := func(t *testing.T, path, verb string) *openapi3.Operation {
		t.Helper()
		item := doc.Paths.Value(path)
		if item == nil {
			t.Fatalf("no path %s; have %v", path, doc.Paths.InMatchingOrder())
		}
		o := item.GetOperation(verb)
		if o == nil {
			t.Fatalf("no %s %s", verb, path)
		}
		return o
	}
	params := func(o *openapi3.Operation) string {
		var out []string
		for _, p := range o.Parameters {
			s := p.Value.In + ":" + p.Value.Name
			if p.Value.Required {
				s += "!"
			}
			out = append(out, s)
		}
		return strings.Join(out, ",")
	}
	contentTypes := func(c openapi3.Content) string {
		var out []string
		for k := range c {
			out = append(out, k)
		}
		return strings.Join(sortStrings(out), ",")
	}
	cases := []struct {
		name, path, verb string
		params           string
		request          string // request content types
		response         string // 200 content types
		check            func(t *testing.T, o *openapi3.Operation)
	}{
		{
			name: "multi-segment variable", path: "/v1/shelves/{shelvesId}/books/{booksId}", verb: "GET",
			params: "path:shelvesId!,path:booksId!", response: "application/json",
			check: func(t *testing.T, o *openapi3.Operation) {
				// response_body: "book"
				s := o.Responses.Status(200).Value.Content["application/json"].Schema
				if s.Value == nil || len(s.Value.AnyOf) != 2 || !strings.HasSuffix(s.Value.AnyOf[0].Ref, "/sluice.demo.library.v1.Book") {
					t.Errorf("GetBook response is not the book: %+v", s)
				}
				if o.Summary != "Returns one book." || o.Extensions["x-sluice-grpc-method"] != "/sluice.demo.library.v1.LibraryService/GetBook" {
					t.Errorf("summary %q, extensions %v", o.Summary, o.Extensions)
				}
				if !strings.Contains(o.Parameters[1].Value.Description, "Part of `name`: `shelves/{shelvesId}/books/{booksId}`") {
					t.Errorf("booksId description %q", o.Parameters[1].Value.Description)
				}
				def := o.Responses.Default().Value.Content["application/json"].Schema
				if def.Ref != "#/components/schemas/google.rpc.Status" {
					t.Errorf("default response %q, want google.rpc.Status", def.Ref)
				}
			},
		},
		{
			name: "no body: query parameters", path: "/v1/shelves/{shelvesId}/books", verb: "GET",
			params: "path:shelvesId!,query:pageSize,query:pageToken,query:genre", response: "application/json",
		},
		{
			name: "additional binding", path: "/v1/books", verb: "GET",
			params: "query:parent,query:pageSize,query:pageToken,query:genre", response: "application/json",
			check: func(t *testing.T, o *openapi3.Operation) {
				if o.OperationID != "LibraryService_ListBooks" {
					t.Errorf("operationId %q", o.OperationID)
				}
			},
		},
		{
			name: "body field with a query parameter", path: "/v1/shelves/{shelvesId}/books", verb: "POST",
			params: "path:shelvesId!,query:bookId", request: "application/json", response: "application/json",
		},
		{
			name: "body star without path fields", path: "/v1/shelves/{shelvesId}/books/{booksId}:publish", verb: "POST",
			params: "path:shelvesId!,path:booksId!", request: "application/json", response: "application/json",
			check: func(t *testing.T, o *openapi3.Operation) {
				s := o.RequestBody.Value.Content["application/json"].Schema.Value
				if s == nil || s.Properties["name"] != nil || s.Properties["publishTime"] == nil {
					t.Errorf("PublishBook body should be the request without name: %+v", s)
				}
			},
		},
		{
			name: "patch with field mask", path: "/v1/shelves/{shelvesId}/books/{booksId}", verb: "PATCH",
			params: "path:shelvesId!,path:booksId!,query:updateMask", request: "application/json", response: "application/json",
		},
		{
			name: "HttpBody response", path: "/v1/shelves/{shelvesId}/books/{booksId}:download", verb: "GET",
			params: "path:shelvesId!,path:booksId!", response: "*/*",
		},
		{
			name: "HttpBody body field", path: "/v1/shelves/{shelvesId}/books/{booksId}:upload", verb: "POST",
			params: "path:shelvesId!,path:booksId!", request: "*/*", response: "application/json",
		},
		{
			name: "deep wildcard", path: "/v1/shelves/{shelvesId}/files/{filesId}", verb: "GET",
			params: "path:shelvesId!,path:filesId!", response: "application/json",
			check: func(t *testing.T, o *openapi3.Operation) {
				if !strings.Contains(o.Parameters[1].Value.Description, "Write the `/` as it is") {
					t.Errorf("filesId description %q", o.Parameters[1].Value.Description)
				}
			},
		},
		{
			name: "server streaming", path: "/v1/shelves/{shelvesId}:watch", verb: "GET",
			params: "path:shelvesId!", response: "application/json,application/x-ndjson,text/event-stream",
			check: func(t *testing.T, o *openapi3.Operation) {
				env := o.Responses.Status(200).Value.Content["application/json"].Schema.Value
				if env.Properties["result"] == nil || env.Properties["error"] == nil {
					t.Errorf("stream envelope %+v", env)
				}
				if o.Extensions["x-sluice-streaming"] != "server_streaming" {
					t.Errorf("extensions %v", o.Extensions)
				}
			},
		},
		{
			name: "client streaming", path: "/v1/books:import", verb: "POST",
			request: "application/x-ndjson", response: "application/json",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := op(t, tc.path, tc.verb)
			if got := params(o); got != tc.params {
				t.Errorf("parameters %q, want %q", got, tc.params)
			}
			var req string
			if o.RequestBody != nil {
				req = contentTypes(o.RequestBody.Value.Content)
			}
			if req != tc.request {
				t.Errorf("request content %q, want %q", req, tc.request)
			}
			if got := contentTypes(o.Responses.Status(200).Value.Content); got != tc.response {
				t.Errorf("response content %q, want %q", got, tc.response)
			}
			if tc.check != nil {
				tc.check(t, o)
			}
		})
	}
}

// Comments: lint directives are dropped; descriptors linked without
// source information still give a valid document, without descriptions.
func TestComments(t *testing.T) {
	t.Parallel()
	with := loadDemo(t, withComments(t))
	if d := with.Paths.Value("/v1/shelves/{shelvesId}/books/{booksId}:download").Get.Description; d != "Downloads the content of a book as raw bytes with its content type." {
		t.Errorf("DownloadBook description %q", d)
	}
	if d := with.Components.Schemas["sluice.demo.library.v1.Genre"].Value.Description; !strings.Contains(d, "`GENRE_FICTION` (1): Novels and short stories.") {
		t.Errorf("Genre description %q", d)
	}
	// Nested declarations find their comments too.
	chapter := with.Components.Schemas["sluice.demo.library.v1.Book.Chapter"].Value
	if chapter.Description != "A chapter of a book." || chapter.Properties["title"].Value.Description != "The chapter title." {
		t.Errorf("Book.Chapter: %q, title %q", chapter.Description, chapter.Properties["title"].Value.Description)
	}
	if d := with.Components.Schemas["sluice.demo.library.v1.WatchShelfResponse.ChangeType"].Value.Description; !strings.HasPrefix(d, "What happened to the book.") {
		t.Errorf("nested enum description %q", d)
	}

	linked, err := registry.Build(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi.Generate(linked)
	if err != nil {
		t.Fatal(err)
	}
	if d := doc.Paths.Value("/v1/shelves/{shelvesId}/books/{booksId}").Get.Description; d != "" {
		t.Errorf("linked descriptors have no comments, got %q", d)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Errorf("document without comments: %v", err)
	}
}

func TestOptions(t *testing.T) {
	t.Parallel()
	doc := loadDemo(t, openapi.WithInfo("Library", "1.2.3", "The demo."), openapi.WithServers(openapi.Server{URL: "https://api.example.com"}),
		openapi.WithProtoNames(true), openapi.WithEnumNumbers(true))
	if doc.Info.Title != "Library" || doc.Info.Version != "1.2.3" || doc.Info.Description != "The demo." {
		t.Errorf("info %+v", doc.Info)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "https://api.example.com" {
		t.Errorf("servers %+v", doc.Servers)
	}
	book := doc.Components.Schemas["sluice.demo.library.v1.Book"].Value
	if book.Properties["copies_sold"] == nil || book.Properties["copiesSold"] != nil {
		t.Error("WithProtoNames: properties are not proto names")
	}
	if g := doc.Components.Schemas["sluice.demo.library.v1.Genre"].Value; !g.Type.Is("integer") {
		t.Errorf("WithEnumNumbers: genre type %v", g.Type)
	}
	o := doc.Paths.Value("/v1/shelves").Get
	if o.Parameters[0].Value.Name != "page_size" {
		t.Errorf("WithProtoNames: query parameter %q", o.Parameters[0].Value.Name)
	}
}

func TestGenerateErrors(t *testing.T) {
	t.Parallel()
	if _, err := openapi.Generate(nil); err == nil {
		t.Error("Generate(nil) succeeded")
	}
	if _, err := openapi.Marshal(nil); err == nil {
		t.Error("Marshal(nil) succeeded")
	}
}

func sortStrings(s []string) []string {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s
}

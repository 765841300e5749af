package transcoding_test

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/api/httpbody"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/frame"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/grpctimeout"
	"github.com/sluice-dev/sluice/protocol"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/transcoding"
)

// captured is what a call looked like from the chain's side.
type captured struct {
	method   string
	request  []byte
	md       metadata.MD
	deadline time.Duration // -1 without one
	peer     string
	protocol protocol.Protocol
	server   bool
}

// captureDispatcher stands in for the chain and the proxy: it records the
// call and answers with a fixed response (an empty message by default),
// header and trailer.
type captureDispatcher struct {
	mu       sync.Mutex
	calls    []captured
	response []byte
	header   metadata.MD
	trailer  metadata.MD
	err      error
}

func (d *captureDispatcher) Dispatch(ss grpc.ServerStream, method string, clientStreams, serverStreams bool) error {
	ctx := ss.Context()
	c := captured{method: method, deadline: -1, protocol: protocol.FromContext(ctx), server: serverStreams}
	c.md, _ = metadata.FromIncomingContext(ctx)
	if dl, ok := ctx.Deadline(); ok {
		c.deadline = time.Until(dl)
	}
	if p, ok := peer.FromContext(ctx); ok {
		c.peer = p.Addr.String()
	}
	if m, ok := grpc.Method(ctx); !ok || m != method {
		return status.Errorf(codes.Internal, "grpc.Method = %q, %v", m, ok)
	}
	f := new(frame.Frame)
	if err := ss.RecvMsg(f); err != nil {
		return err
	}
	c.request = f.Bytes()
	f.Free()
	if err := ss.RecvMsg(new(frame.Frame)); !errors.Is(err, io.EOF) {
		return status.Errorf(codes.Internal, "second RecvMsg: %v", err)
	}
	d.mu.Lock()
	d.calls = append(d.calls, c)
	resp, hdr, trl, err := d.response, d.header, d.trailer, d.err
	d.mu.Unlock()
	if hdr != nil {
		if err := grpc.SetHeader(ctx, hdr); err != nil {
			return err
		}
	}
	if err != nil {
		ss.SetTrailer(trl)
		return err
	}
	if err := ss.SendMsg(frame.FromBytes(append([]byte(nil), resp...))); err != nil {
		return err
	}
	ss.SetTrailer(trl)
	return nil
}

func (d *captureDispatcher) last(t *testing.T) captured {
	t.Helper()
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.calls) == 0 {
		t.Fatal("no call reached the dispatcher")
	}
	return d.calls[len(d.calls)-1]
}

func demoRoutes(t testing.TB) *transcoding.Routes {
	t.Helper()
	s, err := registry.Build(registry.Linked(libraryv1.File_sluice_demo_library_v1_library_proto))
	if err != nil {
		t.Fatal(err)
	}
	r, err := transcoding.BuildRoutes(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func newHandler(t testing.TB, d transcoding.Dispatcher, opts ...transcoding.Option) *transcoding.REST {
	t.Helper()
	routes := demoRoutes(t)
	h, err := transcoding.NewREST(func() *transcoding.Routes { return routes }, d, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func serve(h http.Handler, method, target, body string, headers ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, rd)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	return w
}

// TestBinding checks the request message built from path, query and body
// for each rule shape.
func TestBinding(t *testing.T) {
	t.Parallel()
	const lib = "/sluice.demo.library.v1.LibraryService/"
	tests := []struct {
		name, method, target, body string
		headers                    []string
		wantMethod                 string
		want                       proto.Message
	}{
		{"query scalars", "GET", "/v1/shelves?page_size=5&pageToken=abc", "", nil,
			lib + "ListShelves", &libraryv1.ListShelvesRequest{PageSize: 5, PageToken: "abc"}},
		{"path variable", "GET", "/v1/shelves/s1", "", nil,
			lib + "GetShelf", &libraryv1.GetShelfRequest{Name: "shelves/s1"}},
		{"query cannot override path", "GET", "/v1/shelves/s1?name=shelves/evil", "", nil,
			lib + "GetShelf", &libraryv1.GetShelfRequest{Name: "shelves/s1"}},
		{"deep wildcard keeps reserved escapes", "GET", "/v1/shelves/s1/files/a/b%2Fc/d%20e.md", "", nil,
			lib + "GetShelfFile", &libraryv1.GetShelfFileRequest{Name: "shelves/s1/files/a/b%2Fc/d e.md"}},
		{"additional binding", "GET", "/v1/books?genre=GENRE_FANTASY&page_size=3", "", nil,
			lib + "ListBooks", &libraryv1.ListBooksRequest{Genre: libraryv1.Genre_GENRE_FANTASY, PageSize: 3}},
		{"enum by number", "GET", "/v1/shelves/s1/books?genre=4", "", nil,
			lib + "ListBooks", &libraryv1.ListBooksRequest{Parent: "shelves/s1", Genre: libraryv1.Genre_GENRE_FANTASY}},
		{"body star, both name spellings", "POST", "/v1/shelves", `{"shelf":{"display_name":"A","displayName":"B"}}`, nil,
			"", nil},
		{"body star", "POST", "/v1/shelves?shelf_id=ignored", `{"shelf":{"displayName":"A","labels":{"k":"v"}},"shelf_id":"x"}`, nil,
			lib + "CreateShelf", &libraryv1.CreateShelfRequest{Shelf: &libraryv1.Shelf{DisplayName: "A", Labels: map[string]string{"k": "v"}}, ShelfId: "x"}},
		{"empty body binds nothing", "POST", "/v1/shelves", "  \n", nil,
			lib + "CreateShelf", &libraryv1.CreateShelfRequest{}},
		{"body field with query", "POST", "/v1/shelves/s1/books?book_id=b1&book.title=ignored", `{"title":"T","copiesSold":"9007199254740993","readingTime":"90s","rating":3,"metadata":{"a":[1,null]},"coverImage":"AQI=","chapters":[{"title":"c"}]}`, nil,
			lib + "CreateBook", &libraryv1.CreateBookRequest{Parent: "shelves/s1", BookId: "b1", Book: &libraryv1.Book{
				Title: "T", CopiesSold: 9007199254740993, ReadingTime: durationpb.New(90 * time.Second), Rating: wrapperspb.Int32(3),
				Metadata:   &structpb.Struct{Fields: map[string]*structpb.Value{"a": structpb.NewListValue(&structpb.ListValue{Values: []*structpb.Value{structpb.NewNumberValue(1), structpb.NewNullValue()}})}},
				CoverImage: []byte{1, 2}, Chapters: []*libraryv1.Book_Chapter{{Title: "c"}},
			}}},
		{"nulls for well-known types", "POST", "/v1/shelves/s1/books", `{"publishTime":null,"rating":null,"readingTime":null,"labels":null}`, nil,
			lib + "CreateBook", &libraryv1.CreateBookRequest{Parent: "shelves/s1", Book: &libraryv1.Book{}}},
		{"patch fills update_mask from the body", "PATCH", "/v1/shelves/s1/books/b1", `{"title":"T","rating":2,"labels":{"a":"b"},"metadata":{"x":{"y":1}}}`, nil,
			lib + "UpdateBook", &libraryv1.UpdateBookRequest{
				Book: &libraryv1.Book{Name: "shelves/s1/books/b1", Title: "T", Rating: wrapperspb.Int32(2), Labels: map[string]string{"a": "b"},
					Metadata: &structpb.Struct{Fields: map[string]*structpb.Value{"x": structpb.NewStructValue(&structpb.Struct{Fields: map[string]*structpb.Value{"y": structpb.NewNumberValue(1)}})}}},
				UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"labels", "metadata.x.y", "rating", "title"}},
			}},
		{"patch keeps an explicit mask", "PATCH", "/v1/shelves/s1/books/b1?update_mask=author", `{"title":"T"}`, nil,
			lib + "UpdateBook", &libraryv1.UpdateBookRequest{
				Book: &libraryv1.Book{Name: "shelves/s1/books/b1", Title: "T"}, UpdateMask: &fieldmaskpb.FieldMask{Paths: []string{"author"}},
			}},
		{"custom verb, body star, path wins", "POST", "/v1/shelves/s1/books/b1:publish", `{"name":"other","publishTime":"2020-05-06T07:08:09.5Z"}`, nil,
			lib + "PublishBook", &libraryv1.PublishBookRequest{Name: "shelves/s1/books/b1", PublishTime: timestamppb.New(time.Date(2020, 5, 6, 7, 8, 9, 5e8, time.UTC))}},
		{"HttpBody field takes raw bytes", "POST", "/v1/shelves/s1/books/b1:upload", `not json {`, []string{"Content-Type", "application/pdf"},
			lib + "UploadBook", &libraryv1.UploadBookRequest{Name: "shelves/s1/books/b1", Content: &httpbody.HttpBody{ContentType: "application/pdf", Data: []byte("not json {")}}},
		{"delete with bool query", "DELETE", "/v1/shelves/s1?force=true", "", nil,
			lib + "DeleteShelf", &libraryv1.DeleteShelfRequest{Name: "shelves/s1", Force: true}},
		{"application/*+json is JSON", "POST", "/v1/shelves", `{"shelfId":"x"}`, []string{"Content-Type", "application/merge-patch+json; charset=utf-8"},
			lib + "CreateShelf", &libraryv1.CreateShelfRequest{ShelfId: "x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := &captureDispatcher{}
			w := serve(newHandler(t, d), tt.method, tt.target, tt.body, tt.headers...)
			if tt.want == nil {
				if w.Code != 400 {
					t.Fatalf("status %d, want 400: %s", w.Code, w.Body)
				}
				return
			}
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			c := d.last(t)
			if c.method != tt.wantMethod {
				t.Errorf("method %q, want %q", c.method, tt.wantMethod)
			}
			got := tt.want.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(c.request, got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(tt.want, got) {
				t.Errorf("request:\n got %v\nwant %v", prototext.Format(got), prototext.Format(tt.want))
			}
		})
	}
}

// TestBindingErrors checks the status and the google.rpc.Status body of
// requests that never reach the chain.
func TestBindingErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, target, body string
		headers                    []string
		opts                       []transcoding.Option
		code                       int
		grpcCode                   codes.Code
		msg                        string
	}{
		{"wrong JSON type", "POST", "/v1/shelves", `{"shelf":{"displayName":1}}`, nil, nil, 400, codes.InvalidArgument, "displayName"},
		{"trailing garbage", "POST", "/v1/shelves", `{} {}`, nil, nil, 400, codes.InvalidArgument, ""},
		{"JSON array for a message", "POST", "/v1/shelves", `[]`, nil, nil, 400, codes.InvalidArgument, ""},
		{"null body", "POST", "/v1/shelves/s/books", `null`, nil, nil, 400, codes.InvalidArgument, ""},
		{"bad timestamp", "POST", "/v1/shelves/s/books/b:publish", `{"publishTime":"soon"}`, nil, nil, 400, codes.InvalidArgument, "Timestamp"},
		{"bad int64", "POST", "/v1/shelves/s/books", `{"copiesSold":"many"}`, nil, nil, 400, codes.InvalidArgument, ""},
		{"unknown field strict", "POST", "/v1/shelves", `{"nope":1}`, nil, []transcoding.Option{transcoding.WithDiscardUnknown(false)}, 400, codes.InvalidArgument, "nope"},
		{"unknown field ignored", "POST", "/v1/shelves", `{"nope":1}`, nil, nil, 200, codes.OK, ""},
		{"unknown query strict", "GET", "/v1/shelves?nope=1", "", nil, []transcoding.Option{transcoding.WithStrictQuery()}, 400, codes.InvalidArgument, "nope"},
		{"query with body star strict", "POST", "/v1/shelves?x=1", `{}`, nil, []transcoding.Option{transcoding.WithStrictQuery()}, 400, codes.InvalidArgument, "query"},
		{"duplicate spelling in query", "GET", "/v1/shelves?page_size=1&pageSize=2", "", nil, nil, 400, codes.InvalidArgument, "duplicate"},
		{"two values for a scalar", "GET", "/v1/shelves?page_size=1&page_size=2", "", nil, nil, 400, codes.InvalidArgument, "too many values"},
		{"query into repeated message", "GET", "/v1/shelves/s/books?book.chapters.title=x", "", nil, nil, 200, codes.OK, ""},
		{"semicolon in query", "GET", "/v1/shelves?a=1;b=2", "", nil, nil, 400, codes.InvalidArgument, "semicolon"},
		{"form content type", "POST", "/v1/shelves", `shelf_id=x`, []string{"Content-Type", "application/x-www-form-urlencoded"}, nil, 415, codes.InvalidArgument, "content type"},
		{"accept xml only", "GET", "/v1/shelves", "", []string{"Accept", "application/xml"}, nil, 406, codes.InvalidArgument, "Accept"},
		{"accept json q=0", "GET", "/v1/shelves", "", []string{"Accept", "application/json;q=0"}, nil, 406, codes.InvalidArgument, "Accept"},
		{"raw response ignores accept", "GET", "/v1/shelves/s/books/b:download", "", []string{"Accept", "image/png"}, nil, 200, codes.OK, ""},
		{"too big by content-length", "POST", "/v1/shelves", `{"shelfId":"0123456789"}`, nil, []transcoding.Option{transcoding.WithMaxBodyBytes(8)}, 413, codes.ResourceExhausted, "limit"},
		{"too deep", "POST", "/v1/shelves", `{"shelf":{"labels":[[[[1]]]]}}`, nil, []transcoding.Option{transcoding.WithMaxJSONDepth(4)}, 400, codes.InvalidArgument, "deeper"},
		{"bad grpc-timeout unit", "GET", "/v1/shelves", "", []string{"Grpc-Timeout", "10x"}, nil, 400, codes.Internal, "malformed grpc-timeout"},
		{"huge grpc-timeout clamped", "GET", "/v1/shelves", "", []string{"Grpc-Timeout", "99999999H"}, nil, 200, codes.OK, ""},
		{"bad -bin metadata", "GET", "/v1/shelves", "", []string{"Grpc-Metadata-K-Bin", "!!"}, nil, 400, codes.InvalidArgument, "K-Bin"},
		{"no route", "GET", "/nope", "", nil, nil, 404, codes.NotFound, "no route"},
		{"wrong method", "DELETE", "/v1/shelves", "", nil, nil, 405, codes.Unimplemented, "not allowed"},
		{"streamed body of another type", "POST", "/v1/books:import", `{}`, []string{"Content-Type", "application/xml"}, nil, 415, codes.InvalidArgument, "x-ndjson"},
		{"streamed message too big", "POST", "/v1/books:import", "\n{\"parent\":\"shelves/x\"}\n", nil, []transcoding.Option{transcoding.WithMaxBodyBytes(8)}, 413, codes.ResourceExhausted, "limit of 8 bytes"},
		{"streamed body cut inside a message", "POST", "/v1/books:import", `{"parent":"shelves/x"`, nil, nil, 400, codes.InvalidArgument, "ends inside"},
		{"streamed message not an object", "POST", "/v1/books:import", ` ] `, nil, nil, 400, codes.InvalidArgument, "syntax error"},
		{"stream accepts nothing offered", "GET", "/v1/shelves/s/books:export", "", []string{"Accept", "application/xml, text/*;q=0"}, nil, 406, codes.InvalidArgument, "text/event-stream"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w := serve(newHandler(t, &captureDispatcher{}, tt.opts...), tt.method, tt.target, tt.body, tt.headers...)
			if w.Code != tt.code {
				t.Fatalf("status %d, want %d: %s", w.Code, tt.code, w.Body)
			}
			if tt.code == 200 {
				return
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			st := statusFromBody(t, w.Body.Bytes())
			if st.Code() != tt.grpcCode || !strings.Contains(st.Message(), tt.msg) {
				t.Errorf("status %v %q, want %v containing %q", st.Code(), st.Message(), tt.grpcCode, tt.msg)
			}
		})
	}
}

func statusFromBody(t *testing.T, b []byte) *status.Status {
	t.Helper()
	var st struct {
		Code    codes.Code `json:"code"`
		Message string     `json:"message"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("error body %q: %v", b, err)
	}
	return status.New(st.Code, st.Message)
}

// TestCallContext checks what the chain sees of the HTTP request:
// metadata by the allowlist, the deadline, the peer and the protocol.
func TestCallContext(t *testing.T) {
	t.Parallel()
	d := &captureDispatcher{}
	h := newHandler(t, d)
	w := serve(h, "GET", "/v1/shelves", "",
		"Authorization", "Bearer t",
		"X-Request-Id", "r1",
		"Traceparent", "00-abc-def-01",
		"X-Forwarded-For", "10.0.0.1",
		"Grpc-Metadata-Tenant", "acme",
		"Grpc-Metadata-Tenant", "beta",
		"Grpc-Metadata-Grpc-Status", "0",
		"Grpc-Metadata-Connection", "close",
		"Grpc-Metadata-Trace-Bin", "AQI",
		"Cookie", "secret",
		"Grpc-Timeout", "3S",
		"Grpc-Encoding", "gzip")
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	c := d.last(t)
	want := metadata.MD{
		"authorization":   {"Bearer t"},
		"x-request-id":    {"r1"},
		"traceparent":     {"00-abc-def-01"},
		"x-forwarded-for": {"10.0.0.1"},
		"tenant":          {"acme", "beta"},
		"trace-bin":       {"\x01\x02"},
	}
	if !reflect.DeepEqual(want, c.md) {
		t.Errorf("metadata %v, want %v", c.md, want)
	}
	if c.deadline <= 2*time.Second || c.deadline > 3*time.Second {
		t.Errorf("deadline %v, want about 3s", c.deadline)
	}
	if c.protocol != protocol.REST || c.peer != "192.0.2.1:1234" || c.server {
		t.Errorf("protocol %q peer %q server streaming %v", c.protocol, c.peer, c.server)
	}

	d2 := &captureDispatcher{}
	w = serve(newHandler(t, d2, transcoding.WithIncomingHeaders("X-Tenant"), transcoding.WithoutMetadataHeaders()), "GET", "/v1/shelves", "",
		"X-Tenant", "t", "Authorization", "Bearer t", "Grpc-Metadata-Tenant", "acme")
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if got := d2.last(t).md; !reflect.DeepEqual(metadata.MD{"x-tenant": {"t"}}, got) {
		t.Errorf("custom allowlist: %v", got)
	}
}

// TestResponses checks response encoding: headers and trailers from
// metadata, response_body, success codes, JSON options and errors with
// metadata.
func TestResponses(t *testing.T) {
	t.Parallel()
	book, _ := proto.Marshal(&libraryv1.GetBookResponse{Book: &libraryv1.Book{Name: "n", CopiesSold: 5, Genre: libraryv1.Genre_GENRE_POETRY}})
	shelf, _ := proto.Marshal(&libraryv1.CreateShelfResponse{Shelf: &libraryv1.Shelf{Name: "shelves/x"}})
	hdr := metadata.Pairs("x-up", "1", "x-up-bin", "\x00\xff")
	trl := metadata.Pairs("x-done", "yes")

	d := &captureDispatcher{response: book, header: hdr, trailer: trl}
	w := serve(newHandler(t, d), "GET", "/v1/shelves/s/books/b", "", "TE", "trailers")
	if w.Code != 200 || w.Header().Get("Grpc-Metadata-X-Up") != "1" || w.Header().Get("Grpc-Metadata-X-Up-Bin") != "AP8" {
		t.Errorf("headers %v", w.Header())
	}
	if got := w.Result().Trailer.Get("Grpc-Trailer-X-Done"); got != "yes" {
		t.Errorf("trailer %q, all %v", got, w.Result().Trailer)
	}
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["name"] != "n" || body["copiesSold"] != "5" || body["genre"] != "GENRE_POETRY" || body["title"] != "" {
		t.Errorf("response_body: %s", w.Body)
	}

	d = &captureDispatcher{response: book}
	w = serve(newHandler(t, d, transcoding.WithProtoNames(true), transcoding.WithEnumNumbers(true), transcoding.WithEmitUnpopulated(false)), "GET", "/v1/shelves/s/books/b", "")
	body = nil
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["copies_sold"] != "5" || body["genre"] != float64(7) || len(body) != 3 {
		t.Errorf("JSON options: %s", w.Body)
	}

	d = &captureDispatcher{response: shelf}
	w = serve(newHandler(t, d, transcoding.WithSuccessCode("/sluice.demo.library.v1.LibraryService/CreateShelf", 201)), "POST", "/v1/shelves", `{}`)
	if w.Code != 201 {
		t.Errorf("success code %d", w.Code)
	}

	st, _ := status.New(codes.FailedPrecondition, "already").WithDetails(&libraryv1.Shelf{Name: "detail"})
	d = &captureDispatcher{err: st.Err(), header: hdr}
	w = serve(newHandler(t, d), "GET", "/v1/shelves/s", "")
	if w.Code != 400 || w.Header().Get("Grpc-Metadata-X-Up") != "1" ||
		!strings.Contains(w.Body.String(), `"@type":"type.googleapis.com/sluice.demo.library.v1.Shelf"`) {
		t.Errorf("error with details: %d %v %s", w.Code, w.Header(), w.Body)
	}

	d = &captureDispatcher{response: book, header: hdr}
	w = serve(newHandler(t, d, transcoding.WithResponseMetadata(func(k string) bool { return k == "x-up" })), "GET", "/v1/shelves/s/books/b", "")
	if w.Header().Get("Grpc-Metadata-X-Up") != "1" || w.Header().Get("Grpc-Metadata-X-Up-Bin") != "" {
		t.Errorf("response metadata filter: %v", w.Header())
	}
}

func demoRoutesFunc(t testing.TB) func() *transcoding.Routes {
	r := demoRoutes(t)
	return func() *transcoding.Routes { return r }
}

// TestNewRESTValidates checks constructor errors.
func TestNewRESTValidates(t *testing.T) {
	t.Parallel()
	d := &captureDispatcher{}
	for name, args := range map[string]struct {
		routes func() *transcoding.Routes
		d      transcoding.Dispatcher
		opts   []transcoding.Option
	}{
		"nil routes":          {nil, d, nil},
		"nil dispatcher":      {demoRoutesFunc(t), nil, nil},
		"zero body limit":     {demoRoutesFunc(t), d, []transcoding.Option{transcoding.WithMaxBodyBytes(0)}},
		"bad success code":    {demoRoutesFunc(t), d, []transcoding.Option{transcoding.WithSuccessCode("/a.B/C", 404)}},
		"grpc header allowed": {demoRoutesFunc(t), d, []transcoding.Option{transcoding.WithIncomingHeaders("grpc-status")}},
	} {
		if _, err := transcoding.NewREST(args.routes, args.d, args.opts...); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	h, err := transcoding.NewREST(func() *transcoding.Routes { return nil }, d)
	if err != nil {
		t.Fatal(err)
	}
	if w := serve(h, "GET", "/v1/shelves", ""); w.Code != 404 {
		t.Errorf("no routes loaded: %d", w.Code)
	}
	h, err = transcoding.NewREST(func() *transcoding.Routes { return &transcoding.Routes{} }, d)
	if err != nil {
		t.Fatal(err)
	}
	if w := serve(h, "GET", "/v1/shelves", ""); w.Code != 404 {
		t.Errorf("zero Routes: %d", w.Code)
	}
}

// TestParseTimeout follows the gRPC over HTTP/2 spec's Timeout grammar,
// which Grpc-Timeout headers are read by (grpctimeout.Parse).
func TestParseTimeout(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"1H": time.Hour, "2M": 2 * time.Minute, "3S": 3 * time.Second, "4m": 4 * time.Millisecond,
		"5u": 5 * time.Microsecond, "6n": 6, "2562047H": 2562047 * time.Hour, "0S": 0, "00000001S": time.Second,
	} {
		got, err := grpctimeout.Parse(in)
		if err != nil || got != want {
			t.Errorf("ParseTimeout(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	// 99999999H overflows a time.Duration: clamped, as grpc-go clamps it.
	for _, in := range []string{"99999999H", "2562048H"} {
		if got, err := grpctimeout.Parse(in); err != nil || got != math.MaxInt64 {
			t.Errorf("ParseTimeout(%q) = %v, %v; want the largest duration", in, got, err)
		}
	}
	for _, in := range []string{"", "S", "1", "1s", "123456789S", "-1S", "+1S", "1.5S", " 1S", "1 S", "1SS", "0x1S"} {
		if _, err := grpctimeout.Parse(in); err == nil {
			t.Errorf("ParseTimeout(%q) accepted", in)
		}
	}
}

func TestServerStreamingWithFake(t *testing.T) {
	t.Parallel()
	resp, _ := proto.Marshal(&libraryv1.ExportBooksResponse{Book: &libraryv1.Book{Title: "x"}})
	d := &captureDispatcher{response: resp, header: metadata.Pairs("x-up", "1")}
	w := serve(newHandler(t, d), "GET", "/v1/shelves/s/books:export", "")
	if w.Code != 200 || w.Header().Get("Grpc-Metadata-X-Up") != "1" || !strings.HasPrefix(w.Body.String(), `{"result":`) || !strings.HasSuffix(w.Body.String(), "}\n") {
		t.Errorf("stream: %d %v %q", w.Code, w.Header(), w.Body)
	}
	if !d.last(t).server {
		t.Error("not dispatched as server streaming")
	}
	d = &captureDispatcher{err: status.Error(codes.NotFound, "gone")}
	w = serve(newHandler(t, d), "GET", "/v1/shelves/s/books:export", "")
	if w.Code != 404 || !strings.HasPrefix(w.Body.String(), `{"error":{`) {
		t.Errorf("stream error: %d %q", w.Code, w.Body)
	}
}

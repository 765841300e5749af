package transcoding_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/transcoding"
)

// The fast JSON codecs (jsoncodec's Encoder for responses, its Decoder for
// request bodies) must be invisible: every request below, served once with them
// and once with protojson alone, reaches the upstream as the same message
// and answers the client with the same status and the same JSON.
func TestFastCodecsMatchProtojson(t *testing.T) {
	t.Parallel()
	meta, _ := structpb.NewStruct(map[string]any{"series": "Dune", "volume": 1, "tags": []any{"a", true, nil}, "nested": map[string]any{"x": -1.5}})
	book := &libraryv1.Book{
		Name: "shelves/scifi/books/dune", Title: "Dune \"quoted\" \u2028 <&>", Author: "Frank Herbert",
		Genre: libraryv1.Genre_GENRE_SCIENCE_FICTION, Rating: wrapperspb.Int32(0), PageCount: 412,
		CopiesSold: 20000000, ReadingTime: durationpb.New(46800_500_000_000), Labels: map[string]string{"b": "2", "a": "1", "": "empty"},
		Metadata: meta, CoverImage: []byte{0, 1, 2, 0xfe, 0xff}, ContentSizeBytes: -60,
		Chapters:    []*libraryv1.Book_Chapter{{Title: "One", StartPage: 1}, {}},
		PublishTime: timestamppb.New(timestamppb.Now().AsTime().Truncate(1000)), CreateTime: &timestamppb.Timestamp{Seconds: -62135596800},
	}
	getResp, _ := proto.Marshal(&libraryv1.GetBookResponse{Book: book})
	createResp, _ := proto.Marshal(&libraryv1.CreateBookResponse{Book: book})
	listResp, _ := proto.Marshal(&libraryv1.ListBooksResponse{Books: []*libraryv1.Book{book, {}, book}, NextPageToken: "t"})
	emptyResp, _ := proto.Marshal(&libraryv1.GetBookResponse{})
	// Two messages back to back are one merged message on the wire.
	merged := append(append([]byte{}, getResp...), emptyResp...)
	merged = append(merged, createResp...)

	tests := []struct {
		name, method, target, body string
		response                   []byte
		err                        error
	}{
		{"response_body field", "GET", "/v1/shelves/scifi/books/dune", "", getResp, nil},
		{"response_body of an empty response", "GET", "/v1/shelves/scifi/books/dune", "", emptyResp, nil},
		{"merged response", "GET", "/v1/shelves/scifi/books/dune", "", merged, nil},
		{"repeated messages", "GET", "/v1/shelves/scifi/books?pageSize=3", "", listResp, nil},
		{"body field with path and query", "POST", "/v1/shelves/scifi/books?bookId=dune&parent=ignored",
			`{"title":"Dune","name":"shelves/x/books/y","pageCount":"12","copies_sold":7,"labels":{"a":"b"},"readingTime":"1.5s",
			  "metadata":{"k":[1,"x",null,{"d":true}]},"coverImage":"AAEC_-8","chapters":[{"title":"c","startPage":2}],"rating":null,"genre":3}`,
			createResp, nil},
		{"body star, path wins over body", "POST", "/v1/shelves/scifi/books/dune:publish", `{"name":"shelves/other/books/zz"}`, createResp, nil},
		{"unknown body field dropped", "POST", "/v1/shelves", `{"shelf":{"name":"shelves/a","nope":[1,{"x":2}]},"extra":null}`, emptyResp, nil},
		{"empty object body", "POST", "/v1/shelves/scifi/books", `{}`, createResp, nil},
		{"update mask from the body keys", "PATCH", "/v1/shelves/scifi/books/dune", `{"title":"T","labels":{"x":"y"}}`, createResp, nil},
		{"duplicate field refused", "POST", "/v1/shelves/scifi/books", `{"title":"a","title":"b"}`, createResp, nil},
		{"both names of one field refused", "POST", "/v1/shelves/scifi/books", `{"pageCount":1,"page_count":2}`, createResp, nil},
		{"bad enum refused", "POST", "/v1/shelves/scifi/books", `{"genre":"NOPE"}`, createResp, nil},
		{"int32 out of range refused", "POST", "/v1/shelves/scifi/books", `{"pageCount":2147483648}`, createResp, nil},
		{"trailing garbage refused", "POST", "/v1/shelves/scifi/books", `{"title":"a"} x`, createResp, nil},
		{"malformed response", "GET", "/v1/shelves/scifi/books/dune", "", []byte{0x0a, 0x05, 0x01}, nil},
		{"error with details", "GET", "/v1/shelves/scifi/books/dune", "", nil, errWithDetails(t)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fastD := &captureDispatcher{response: tt.response, err: tt.err}
			slowD := &captureDispatcher{response: tt.response, err: tt.err}
			fast := serve(newHandler(t, fastD), tt.method, tt.target, tt.body)
			slow := serve(newHandler(t, slowD, transcoding.WithProtojsonOnly()), tt.method, tt.target, tt.body)
			if fast.Code != slow.Code {
				t.Fatalf("status %d with the fast codecs, %d without: %s | %s", fast.Code, slow.Code, fast.Body, slow.Body)
			}
			if f, s := compact(t, fast.Body.Bytes()), compact(t, slow.Body.Bytes()); !bytes.Equal(f, s) {
				t.Errorf("response body differs:\nfast: %s\nslow: %s", f, s)
			}
			if len(fastD.calls) != len(slowD.calls) {
				t.Fatalf("%d upstream calls with the fast codecs, %d without", len(fastD.calls), len(slowD.calls))
			}
			if len(slowD.calls) == 0 {
				return
			}
			in := requestType(tt.method, tt.target)
			f, s := in.ProtoReflect().New().Interface(), in.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(fastD.last(t).request, f); err != nil {
				t.Fatal(err)
			}
			if err := proto.Unmarshal(slowD.last(t).request, s); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(f, s) {
				t.Errorf("upstream request differs:\nfast: %v\nslow: %v", f, s)
			}
		})
	}
}

func errWithDetails(t *testing.T) error {
	st, err := status.New(codes.InvalidArgument, "bad").WithDetails(&libraryv1.Book{Name: "detail"})
	if err != nil {
		t.Fatal(err)
	}
	return st.Err()
}

// requestType is the request message of the demo route the test targets.
func requestType(method, target string) proto.Message {
	switch {
	case method == "PATCH":
		return &libraryv1.UpdateBookRequest{}
	case method == "GET" && bytes.HasSuffix([]byte(target), []byte("/books/dune")):
		return &libraryv1.GetBookRequest{}
	case method == "GET":
		return &libraryv1.ListBooksRequest{}
	case bytes.HasSuffix([]byte(target), []byte(":publish")):
		return &libraryv1.PublishBookRequest{}
	case target == "/v1/shelves":
		return &libraryv1.CreateShelfRequest{}
	default:
		return &libraryv1.CreateBookRequest{}
	}
}

func compact(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatalf("not JSON: %v: %s", err, b)
	}
	return out.Bytes()
}

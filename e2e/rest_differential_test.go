package e2e_test

import (
	"bufio"
	"bytes"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/transcoding"
)

// restCase is one row of the differential table: a request sent to
// grpc-gateway and to sluice, each in front of its own freshly seeded demo
// upstream, in table order.
type restCase struct {
	name string
	request
	// status is grpc-gateway's HTTP status. It pins the reference's
	// behaviour, so that both gateways being wrong the same way (say, both
	// 500) fails too.
	status int
	// diff, when set, marks a deliberate difference: sluice's answer is
	// checked against it instead of against grpc-gateway's. Every such case
	// is listed in docs/rest-differences.md.
	diff *expectDiff
	// withGRPCContentType compares the Grpc-Metadata-Content-Type header,
	// which every other case leaves out (see grpcContentType).
	withGRPCContentType bool
}

// expectDiff is what sluice answers where it deliberately differs from
// grpc-gateway, and why.
type expectDiff struct {
	why    string
	status int
	// code is the google.rpc.Status code of sluice's error body; OK skips
	// the body check (a successful response, an answer to HEAD).
	code codes.Code
	// header are headers sluice must send, e.g. Allow.
	header map[string]string
}

// Request builders.

func get(target string, header ...string) request { return req(http.MethodGet, target, "", header...) }

func req(method, target, body string, header ...string) request {
	r := request{method: method, target: target, header: map[string]string{}}
	if body != "" {
		r.body = []byte(body)
		r.header["Content-Type"] = "application/json"
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.header[header[i]] = header[i+1]
	}
	return r
}

func post(target, body string, header ...string) request {
	return req(http.MethodPost, target, body, header...)
}

func patch(target, body string, header ...string) request {
	return req(http.MethodPatch, target, body, header...)
}

func del(target string, header ...string) request {
	return req(http.MethodDelete, target, "", header...)
}

// raw is a request with a body of any content type (or none when ct is
// empty).
func raw(method, target, ct string, body []byte) request {
	r := request{method: method, target: target, body: body, header: map[string]string{}}
	if ct != "" {
		r.header["Content-Type"] = ct
	}
	return r
}

// oversize is a CreateShelf body just over the default 4 MiB limit.
func oversize() []byte {
	return []byte(`{"shelf":{"displayName":"big","description":"` + strings.Repeat("x", 4<<20) + `"},"shelfId":"big"}`)
}

// failWith makes the demo upstream fail a GetShelf with code, to check the
// code -> HTTP status table end to end.
func failWith(name string, status int) restCase {
	return restCase{
		name:    "injected-" + strings.ToLower(strings.ReplaceAll(name, "_", "-")),
		request: get("/v1/shelves/classics", "Grpc-Metadata-X-Demo-Fail", name+":injected "+name),
		status:  status,
	}
}

// restCases is the table. Order matters: mutating calls run in this order
// on both sides, so each side's upstream goes through the same states.
// Rows that make the two upstreams' states diverge (a deliberate
// difference on a mutating call) come after every row that could observe
// the divergence.
func restCases() []restCase {
	const (
		moby = "/v1/shelves/classics/books/moby-dick"
		dune = "/v1/shelves/scifi/books/dune"
	)
	return []restCase{
		// Collections, pagination and query binding.
		{name: "list-shelves", request: get("/v1/shelves"), status: 200},
		{name: "list-shelves-page-size", request: get("/v1/shelves?page_size=1"), status: 200},
		{name: "list-shelves-page-size-json-name", request: get("/v1/shelves?pageSize=1"), status: 200},
		{name: "list-shelves-page-size-not-int", request: get("/v1/shelves?page_size=abc"), status: 400},
		{name: "list-shelves-page-size-overflow", request: get("/v1/shelves?page_size=99999999999"), status: 400},
		{name: "list-shelves-page-size-negative", request: get("/v1/shelves?page_size=-1"), status: 400},
		{name: "list-shelves-page-size-repeated-key", request: get("/v1/shelves?page_size=1&page_size=2"), status: 400},
		{name: "list-shelves-bad-page-token", request: get("/v1/shelves?page_token=garbage"), status: 400},
		{name: "list-shelves-unknown-query", request: get("/v1/shelves?color=red&a.b.c=1&labels%5Bk%5D=v"), status: 200},
		{name: "list-shelves-empty-query", request: get("/v1/shelves?"), status: 200},
		{name: "list-books", request: get("/v1/shelves/classics/books"), status: 200},
		{name: "list-books-additional-binding", request: get("/v1/books"), status: 200},
		{name: "list-books-additional-binding-parent-query", request: get("/v1/books?parent=shelves/scifi"), status: 200},
		{name: "list-books-path-beats-query", request: get("/v1/shelves/classics/books?parent=shelves/scifi"), status: 200},
		{name: "list-books-page-size", request: get("/v1/books?page_size=2"), status: 200},
		{name: "list-books-genre-name", request: get("/v1/books?genre=GENRE_POETRY"), status: 200},
		{name: "list-books-genre-number", request: get("/v1/books?genre=3"), status: 200},
		{name: "list-books-genre-bad-name", request: get("/v1/books?genre=GENRE_NOPE"), status: 400},
		{name: "list-books-genre-unknown-number", request: get("/v1/books?genre=99"), status: 400},
		{name: "list-books-shelf-not-found", request: get("/v1/shelves/nope/books"), status: 404},
		{name: "list-books-parent-and-body-query", request: get("/v1/books?parent=shelves/classics&genre=GENRE_FICTION&page_size=1"), status: 200},

		// Single resources: path variables, escapes, `**`.
		{name: "get-shelf", request: get("/v1/shelves/classics"), status: 200},
		{name: "get-shelf-not-found", request: get("/v1/shelves/nope"), status: 404},
		{name: "get-shelf-escaped-space", request: get("/v1/shelves/a%20b"), status: 404},
		{name: "get-shelf-escaped-utf8", request: get("/v1/shelves/caf%C3%A9"), status: 404},
		{name: "get-shelf-raw-non-ascii", request: get("/v1/shelves/café"), status: 404},
		{name: "get-shelf-escaped-slash", request: get("/v1/shelves/a%2Fb"), status: 404,
			diff: &expectDiff{status: 404, code: codes.NotFound,
				why: "{name=shelves/*} spans two segments, so by google.api.http %2F is left encoded and is data, not a separator: the upstream gets shelves/a%2Fb. grpc-gateway's default unescaping decodes the path before matching, so no route matches."}},
		{name: "get-shelf-invalid-escape", request: get("/v1/shelves/%zz"), status: 400},
		{name: "get-shelf-trailing-slash", request: get("/v1/shelves/classics/"), status: 404,
			diff: &expectDiff{status: 404, code: codes.NotFound,
				why: "sluice names the method and path it could not route; grpc-gateway says only Not Found."}},
		{name: "get-shelf-double-slash", request: get("/v1//shelves/classics"), status: 404,
			diff: &expectDiff{status: 404, code: codes.NotFound,
				why: "sluice names the method and path it could not route; grpc-gateway says only Not Found."}},
		{name: "get-shelf-file-nested-path", request: get("/v1/shelves/classics/files/notes/2024/reading.md"), status: 200},
		{name: "get-shelf-file-one-segment", request: get("/v1/shelves/classics/files/catalog.txt"), status: 200},
		{name: "get-shelf-file-escaped-slash", request: get("/v1/shelves/classics/files/notes%2F2024%2Freading.md"), status: 200,
			diff: &expectDiff{status: 404, code: codes.NotFound,
				why: "a ** variable keeps %2F encoded, as google.api.http says; grpc-gateway's default unescaping decodes it into a separator and finds the file."}},
		{name: "get-shelf-file-not-found", request: get("/v1/shelves/scifi/files/notes/missing.md"), status: 404},
		{name: "get-shelf-file-dot-dot", request: get("/v1/shelves/classics/files/notes/../catalog.txt"), status: 400},
		{name: "get-book-response-body", request: get(moby), status: 200},
		{name: "get-book-response-body-dune", request: get(dune), status: 200},
		{name: "get-book-not-found", request: get("/v1/shelves/classics/books/nope"), status: 404},
		{name: "get-book-unknown-query", request: get(moby + "?view=FULL"), status: 200},
		{name: "get-book-empty-segment", request: get("/v1/shelves/classics/books/"), status: 400,
			diff: &expectDiff{status: 404, code: codes.NotFound,
				why: "* matches one non-empty segment; an empty id is no route, where grpc-gateway calls GetBook with the name shelves/classics/books/."}},
		{name: "get-book-unknown-verb", request: get(moby + ":burn"), status: 404},
		{name: "download-book-httpbody", request: get(moby + ":download"), status: 200},
		{name: "download-book-httpbody-empty", request: get("/v1/shelves/classics/books/the-odyssey:download"), status: 200},
		{name: "download-book-not-found", request: get("/v1/shelves/classics/books/nope:download"), status: 404},

		// Routing misses.
		{name: "unknown-path", request: get("/v2/shelves"), status: 404,
			diff: &expectDiff{status: 404, code: codes.NotFound,
				why: "sluice names the method and path it could not route; grpc-gateway says only Not Found."}},
		{name: "unknown-path-root", request: get("/"), status: 404,
			diff: &expectDiff{status: 404, code: codes.NotFound,
				why: "sluice names the method and path it could not route; grpc-gateway says only Not Found."}},
		{name: "unknown-path-case", request: get("/V1/shelves"), status: 404,
			diff: &expectDiff{status: 404, code: codes.NotFound,
				why: "sluice names the method and path it could not route; grpc-gateway says only Not Found."}},
		{name: "wrong-method-put-collection", request: req(http.MethodPut, "/v1/shelves", `{}`), status: 501,
			diff: &expectDiff{status: 405, code: codes.Unimplemented, header: map[string]string{"Allow": "GET, POST"},
				why: "the path exists with other methods: HTTP says 405 with Allow; grpc-gateway answers 501 (UNIMPLEMENTED) without Allow."}},
		{name: "wrong-method-delete-books", request: del("/v1/shelves/classics/books"), status: 501,
			diff: &expectDiff{status: 405, code: codes.Unimplemented, header: map[string]string{"Allow": "GET, POST"},
				why: "the path exists with other methods: HTTP says 405 with Allow; grpc-gateway answers 501 (UNIMPLEMENTED) without Allow."}},
		{name: "wrong-method-get-publish", request: get(moby + ":publish"), status: 404},
		{name: "wrong-method-head", request: req(http.MethodHead, "/v1/shelves", ""), status: 501,
			diff: &expectDiff{status: 405, code: codes.OK, header: map[string]string{"Allow": "GET, POST"},
				why: "the path exists with other methods: 405 with Allow; grpc-gateway answers 501."}},
		{name: "wrong-method-options", request: req(http.MethodOptions, "/v1/shelves", ""), status: 501,
			diff: &expectDiff{status: 405, code: codes.Unimplemented, header: map[string]string{"Allow": "GET, POST"},
				why: "the path exists with other methods: HTTP says 405 with Allow; grpc-gateway answers 501 (UNIMPLEMENTED) without Allow."}},

		// Headers and trailers to and from metadata.
		{name: "metadata-echo-header", request: get("/v1/shelves/classics", "Grpc-Metadata-X-Echo-Foo", "bar"), status: 200},
		{name: "metadata-echo-trailer", request: get("/v1/shelves/classics", "Grpc-Metadata-X-Echo-Foo", "bar", "TE", "trailers"), status: 200},
		{name: "metadata-echo-on-error", request: get("/v1/shelves/nope", "Grpc-Metadata-X-Echo-Foo", "bar"), status: 404},
		// A value gRPC metadata cannot carry is skipped by both (sluice
		// answered 500 INTERNAL before).
		{name: "metadata-non-ascii-value", request: get("/v1/shelves/classics", "Grpc-Metadata-Location", "/caf\xc3\xa9"), status: 200},
		{name: "metadata-plain-header-not-forwarded", request: get("/v1/shelves/classics", "X-Echo-Foo", "bar"), status: 200},
		{name: "metadata-grpc-timeout", request: get("/v1/shelves/classics", "Grpc-Timeout", "10S"), status: 200},
		{name: "metadata-grpc-timeout-malformed", request: get("/v1/shelves/classics", "Grpc-Timeout", "soon"), status: 400,
			diff: &expectDiff{status: 400, code: codes.Internal,
				why: "a malformed grpc-timeout gets the code grpc-go gives it on native gRPC (INTERNAL, \"malformed grpc-timeout\"), so the same value gets one answer on every protocol; the HTTP status is 400 as grpc-gateway's."}},
		{name: "metadata-content-type-not-forwarded", request: get("/v1/shelves/classics"), status: 200, withGRPCContentType: true,
			diff: &expectDiff{status: 200, code: codes.OK,
				why: "content-type is a transport header of the gRPC leg, not call metadata; grpc-gateway forwards it as Grpc-Metadata-Content-Type: application/grpc."}},
		{name: "accept-unsupported", request: get("/v1/shelves/classics", "Accept", "application/xml"), status: 200,
			diff: &expectDiff{status: 406, code: codes.InvalidArgument,
				why: "an Accept header that JSON cannot satisfy gets 406; grpc-gateway ignores Accept and sends JSON."}},

		// The code -> HTTP status table, through injected upstream failures.
		failWith("CANCELLED", 499),
		failWith("UNKNOWN", 500),
		failWith("INVALID_ARGUMENT", 400),
		failWith("DEADLINE_EXCEEDED", 504),
		failWith("NOT_FOUND", 404),
		failWith("ALREADY_EXISTS", 409),
		failWith("PERMISSION_DENIED", 403),
		failWith("RESOURCE_EXHAUSTED", 429),
		failWith("FAILED_PRECONDITION", 400),
		failWith("ABORTED", 409),
		failWith("OUT_OF_RANGE", 400),
		failWith("UNIMPLEMENTED", 501),
		failWith("INTERNAL", 500),
		failWith("UNAVAILABLE", 503),
		failWith("DATA_LOSS", 500),
		failWith("UNAUTHENTICATED", 401),

		// CreateShelf: body "*".
		{name: "create-shelf-body-star", request: post("/v1/shelves", `{"shelf":{"displayName":"Poetry","description":"Verse.","labels":{"floor":"2"}},"shelfId":"poetry"}`), status: 200},
		{name: "create-shelf-proto-names", request: post("/v1/shelves", `{"shelf":{"display_name":"Drama"},"shelf_id":"drama"}`), status: 200},
		{name: "create-shelf-server-chosen-id", request: post("/v1/shelves", `{"shelf":{"displayName":"Anonymous"}}`), status: 200},
		{name: "create-shelf-charset-content-type", request: post("/v1/shelves", `{"shelf":{"displayName":"Essays"},"shelfId":"essays"}`, "Content-Type", "application/json; charset=utf-8"), status: 200},
		{name: "create-shelf-unknown-field", request: post("/v1/shelves", `{"shelf":{"displayName":"Misc","color":"red"},"shelfId":"misc","extra":[1,2]}`), status: 200},
		{name: "create-shelf-duplicate", request: post("/v1/shelves", `{"shelf":{"displayName":"Poetry"},"shelfId":"poetry"}`), status: 409},
		{name: "create-shelf-missing-display-name", request: post("/v1/shelves", `{"shelf":{},"shelfId":"empty"}`), status: 400},
		{name: "create-shelf-missing-shelf", request: post("/v1/shelves", `{}`), status: 400},
		{name: "create-shelf-no-body", request: req(http.MethodPost, "/v1/shelves", ""), status: 400},
		{name: "create-shelf-malformed-json", request: post("/v1/shelves", `{"shelf":`), status: 400,
			diff: &expectDiff{status: 400, code: codes.InvalidArgument,
				why: "sluice decodes bodies with protojson directly, so syntax errors carry protojson's wording and position."}},
		{name: "create-shelf-wrong-json-type", request: post("/v1/shelves", `{"shelf":{"displayName":42}}`), status: 400},
		{name: "create-shelf-wrong-map-value-type", request: post("/v1/shelves", `{"shelf":{"displayName":"L","labels":{"a":1}}}`), status: 400},
		{name: "create-shelf-json-array", request: post("/v1/shelves", `[]`), status: 400},
		{name: "create-shelf-bad-id", request: post("/v1/shelves", `{"shelf":{"displayName":"Bad"},"shelfId":"Bad_ID"}`), status: 400},
		{name: "create-shelf-output-only-ignored", request: post("/v1/shelves", `{"shelf":{"displayName":"Out","bookCount":"7","createTime":"2000-01-01T00:00:00Z"},"shelfId":"out"}`), status: 200},
		{name: "create-shelf-trailing-data", request: post("/v1/shelves", `{"shelf":{}} {"shelf":{"displayName":"T"}}`), status: 400,
			diff: &expectDiff{status: 400, code: codes.InvalidArgument,
				why: "the whole body must be one JSON value; grpc-gateway decodes the first value, ignores the rest and calls the upstream with it."}},
		{name: "create-shelf-wrong-content-type", request: raw(http.MethodPost, "/v1/shelves", "text/plain", []byte(`{"shelf":{}}`)), status: 400,
			diff: &expectDiff{status: 415, code: codes.InvalidArgument,
				why: "a body that is not JSON by its Content-Type gets 415; grpc-gateway parses any body as JSON."}},
		{name: "create-shelf-oversize-body", request: raw(http.MethodPost, "/v1/shelves", "application/json", oversize()), status: 429,
			diff: &expectDiff{status: 413, code: codes.ResourceExhausted,
				why: "bodies are limited (4 MiB by default) before decoding: 413; grpc-gateway reads and re-encodes the body and the upstream refuses the message (429)."}},

		// CreateBook: body "book", book_id in the query, every JSON mapping.
		{name: "create-book-body-field", request: post("/v1/shelves/poetry/books?book_id=odes",
			`{"title":"Odes","author":"John Keats","genre":"GENRE_POETRY","rating":4,"pageCount":120,"copiesSold":"1000",`+
				`"readingTime":"3600s","labels":{"language":"en"},"metadata":{"k":[1,"a",true,null],"n":{"x":1.5}},`+
				`"coverImage":"iVBORw0K","chapters":[{"title":"Ode to a Nightingale","startPage":1},{"title":"To Autumn","startPage":9}]}`), status: 200},
		{name: "create-book-server-chosen-id", request: post("/v1/shelves/poetry/books", `{"title":"Untitled"}`), status: 200},
		{name: "create-book-proto-names-int64-number", request: post("/v1/shelves/poetry/books?book_id=proto-names",
			`{"title":"Names","page_count":10,"copies_sold":5,"reading_time":"1.5s","cover_image":"AAE="}`), status: 200},
		{name: "create-book-enum-number", request: post("/v1/shelves/poetry/books?book_id=enum-number", `{"title":"Numbered","genre":3}`), status: 200},
		{name: "create-book-wrapper-null", request: post("/v1/shelves/poetry/books?book_id=wrapper-null", `{"title":"Nulls","rating":null,"metadata":null,"readingTime":null}`), status: 200},
		{name: "create-book-book-id-json-name", request: post("/v1/shelves/poetry/books?bookId=json-name", `{"title":"Camel"}`), status: 200},
		{name: "create-book-nested-query-ignored", request: post("/v1/shelves/poetry/books?book_id=nested-query&book.title=Query&book.labels%5Bk%5D=v", `{"title":"Body"}`), status: 200},
		{name: "create-book-unknown-query", request: post("/v1/shelves/poetry/books?book_id=unknown-query&color=red", `{"title":"Q"}`), status: 200},
		{name: "create-book-unknown-enum-name-discarded", request: post("/v1/shelves/poetry/books?book_id=unknown-enum", `{"title":"X","genre":"GENRE_NOPE"}`), status: 200},
		{name: "create-book-bad-enum-type", request: post("/v1/shelves/poetry/books", `{"title":"X","genre":true}`), status: 400},
		{name: "create-book-bad-duration", request: post("/v1/shelves/poetry/books", `{"title":"X","readingTime":"an hour"}`), status: 400},
		{name: "create-book-wrong-int-type", request: post("/v1/shelves/poetry/books", `{"title":"X","pageCount":"many"}`), status: 400},
		{name: "create-book-int64-overflow", request: post("/v1/shelves/poetry/books", `{"title":"X","copiesSold":"99999999999999999999"}`), status: 400},
		{name: "create-book-wrapper-wrong-type", request: post("/v1/shelves/poetry/books", `{"title":"X","rating":"five"}`), status: 400},
		{name: "create-book-bad-base64", request: post("/v1/shelves/poetry/books", `{"title":"X","coverImage":"!!!"}`), status: 400},
		{name: "create-book-rating-out-of-range", request: post("/v1/shelves/poetry/books", `{"title":"X","rating":9}`), status: 400},
		{name: "create-book-missing-title", request: post("/v1/shelves/poetry/books", `{}`), status: 400},
		{name: "create-book-no-body", request: req(http.MethodPost, "/v1/shelves/poetry/books", ""), status: 400},
		{name: "create-book-shelf-not-found", request: post("/v1/shelves/nope/books", `{"title":"X"}`), status: 404},
		{name: "create-book-deep-nesting", request: post("/v1/shelves/poetry/books", `{"title":"X","metadata":{"a":`+strings.Repeat("[", 20000)+strings.Repeat("]", 20000)+`}}`), status: 400,
			diff: &expectDiff{status: 400, code: codes.InvalidArgument,
				why: "JSON nesting is limited to 64 levels before decoding (grpc-gateway: encoding/json's 10000)."}},
		{name: "get-created-book", request: get("/v1/shelves/poetry/books/odes"), status: 200},
		{name: "list-created-books", request: get("/v1/shelves/poetry/books"), status: 200},

		// UpdateBook: PATCH body "book", update_mask in the query or from the body.
		{name: "update-book-mask-query", request: patch("/v1/shelves/poetry/books/odes?update_mask=title", `{"title":"Odes (2nd ed.)","author":"not applied"}`), status: 200},
		{name: "update-book-mask-query-two-paths", request: patch("/v1/shelves/poetry/books/odes?update_mask=page_count,rating", `{"pageCount":130,"rating":5,"title":"not applied"}`), status: 200},
		{name: "update-book-mask-query-json-name", request: patch("/v1/shelves/poetry/books/odes?updateMask=pageCount", `{"pageCount":131}`), status: 400},
		{name: "update-book-mask-query-repeated-key", request: patch("/v1/shelves/poetry/books/odes?update_mask=author&update_mask=genre", `{"author":"J. Keats","genre":"GENRE_FICTION"}`), status: 400},
		{name: "update-book-mask-clears-field", request: patch("/v1/shelves/poetry/books/odes?update_mask=rating", `{}`), status: 200},
		{name: "update-book-empty-mask-from-body", request: patch("/v1/shelves/poetry/books/odes", `{"author":"Keats","labels":{"era":"romantic"},"readingTime":"7200s"}`), status: 200},
		{name: "update-book-empty-mask-struct", request: patch("/v1/shelves/poetry/books/odes", `{"metadata":{"a":{"b":1}}}`), status: 400},
		{name: "update-book-empty-mask-nested-message", request: patch("/v1/shelves/poetry/books/odes", `{"chapters":[{"title":"Only"}]}`), status: 200},
		{name: "update-book-empty-body-no-mask", request: patch("/v1/shelves/poetry/books/odes", `{}`), status: 400,
			diff: &expectDiff{status: 200, code: codes.OK,
				why: "A body that sets no field gives an empty update mask, not one empty path."}},
		{name: "update-book-body-name-in-mask", request: patch("/v1/shelves/poetry/books/odes", `{"name":"shelves/scifi/books/dune","title":"Odes"}`), status: 400},
		{name: "update-book-path-beats-body-name", request: patch("/v1/shelves/poetry/books/odes?update_mask=title", `{"name":"shelves/scifi/books/dune","title":"Odes"}`), status: 200},
		{name: "update-book-mask-output-only", request: patch("/v1/shelves/poetry/books/odes?update_mask=create_time", `{}`), status: 400},
		{name: "update-book-mask-nested-path", request: patch("/v1/shelves/poetry/books/odes?update_mask=chapters.title", `{}`), status: 400},
		{name: "update-book-mask-unknown-field", request: patch("/v1/shelves/poetry/books/odes?update_mask=colour", `{}`), status: 400},
		{name: "update-book-not-found", request: patch("/v1/shelves/poetry/books/nope", `{"title":"X"}`), status: 404},
		{name: "update-book-malformed-json", request: patch("/v1/shelves/poetry/books/odes", `{"title":}`), status: 400,
			diff: &expectDiff{status: 400, code: codes.InvalidArgument,
				why: "sluice decodes bodies with protojson directly, so syntax errors carry protojson's wording and position."}},

		// PublishBook: custom verb, body "*", Timestamps.
		{name: "publish-book-custom-verb", request: post("/v1/shelves/poetry/books/odes:publish", `{"publishTime":"2020-01-02T03:04:05.5Z"}`), status: 200},
		{name: "publish-book-twice", request: post("/v1/shelves/poetry/books/odes:publish", `{}`), status: 400},
		{name: "publish-book-now", request: post("/v1/shelves/poetry/books/book-1:publish", `{}`), status: 200},
		{name: "publish-book-timestamp-offset", request: post("/v1/shelves/poetry/books/proto-names:publish", `{"publishTime":"2020-01-02T03:04:05+01:00"}`), status: 200},
		{name: "publish-book-bad-timestamp", request: post("/v1/shelves/poetry/books/enum-number:publish", `{"publishTime":"yesterday"}`), status: 400},
		{name: "publish-book-path-beats-body", request: post("/v1/shelves/poetry/books/enum-number:publish", `{"name":"shelves/scifi/books/dune"}`), status: 200},
		{name: "publish-book-not-found", request: post("/v1/shelves/poetry/books/nope:publish", `{}`), status: 404},

		// Streaming methods over REST.
		{name: "export-books-server-stream", request: get("/v1/shelves/scifi/books:export"), status: 200},

		// DeleteBook and DeleteShelf: no body, `force` in the query.
		{name: "delete-book", request: del("/v1/shelves/poetry/books/book-1"), status: 200},
		{name: "delete-book-again", request: del("/v1/shelves/poetry/books/book-1"), status: 404},
		{name: "delete-shelf-not-empty", request: del("/v1/shelves/poetry"), status: 400},
		{name: "delete-shelf-force-malformed", request: del("/v1/shelves/poetry?force=maybe"), status: 400},
		{name: "delete-shelf-force", request: del("/v1/shelves/poetry?force=true"), status: 200},
		{name: "delete-shelf-empty", request: del("/v1/shelves/drama"), status: 200},
		{name: "delete-shelf-with-body", request: req(http.MethodDelete, "/v1/shelves/essays", `{"force":false}`), status: 200},
		{name: "list-shelves-after-deletes", request: get("/v1/shelves"), status: 200},

		// UploadBook: body "content" of type google.api.HttpBody. These
		// rows come last: where sluice deliberately differs, the two
		// upstreams store different content from here on.
		{name: "upload-book-httpbody-json", request: post("/v1/shelves/scifi/books/dune:upload", `{"contentType":"text/plain","data":"aGVsbG8="}`), status: 200,
			diff: &expectDiff{status: 200, code: codes.OK,
				why: "a google.api.HttpBody body field takes the raw request body and its Content-Type, as google.api.http says; grpc-gateway's default marshaler decodes it as the JSON form of HttpBody."}},
		{name: "upload-book-raw-text", request: raw(http.MethodPost, "/v1/shelves/scifi/books/dune:upload", "text/plain", []byte("hello, world\n")), status: 400,
			diff: &expectDiff{status: 200, code: codes.OK,
				why: "the raw body becomes the HttpBody (grpc-gateway: JSON syntax error)."}},
		{name: "upload-book-raw-binary", request: raw(http.MethodPost, "/v1/shelves/scifi/books/dune:upload", "application/octet-stream", []byte{0, 1, 2, 0xff}), status: 400,
			diff: &expectDiff{status: 200, code: codes.OK,
				why: "the raw body becomes the HttpBody (grpc-gateway: JSON syntax error)."}},
	}
}

// TestRESTDifferential sends the table to grpc-gateway and to sluice and
// compares the answers.
func TestRESTDifferential(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	// The fast JSON codecs are the default; the protojson path they fall
	// back on must answer the same.
	for _, mode := range []struct {
		name string
		opts []transcoding.Option
	}{{"fast codecs", nil}, {"protojson only", []transcoding.Option{transcoding.WithProtojsonOnly()}}} {
		t.Run(mode.name, func(t *testing.T) { testRESTDifferential(t, mode.opts) })
	}
}

func testRESTDifferential(t *testing.T, opts []transcoding.Option) {
	gwURL := startGRPCGateway(t, startDemo(t))
	slURL := startSluice(t, startDemo(t), opts...)
	client := newClient(t)

	cases := restCases()
	if len(cases) < 80 {
		t.Fatalf("the table has %d cases, want at least 80", len(cases))
	}
	// Not parallel: both upstreams must see the mutating calls in table order.
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want := send(t, client, gwURL, tc.request)
			got := send(t, client, slURL, tc.request)
			if want.status != tc.status {
				t.Errorf("grpc-gateway answered %d, the table says %d; body %s", want.status, tc.status, clip(want.body))
			}
			diffs := diffResponses(want, got, tc.withGRPCContentType)
			if tc.diff == nil {
				for _, d := range diffs {
					t.Error(d)
				}
				return
			}
			if len(diffs) == 0 {
				t.Errorf("marked expectDiff (%s) but sluice answers as grpc-gateway does: drop the mark and its row in docs/rest-differences.md", tc.diff.why)
			}
			checkDiff(t, tc.diff, got)
		})
	}
}

// checkDiff checks sluice's answer against a deliberate difference.
func checkDiff(t *testing.T, d *expectDiff, got response) {
	t.Helper()
	if got.status != d.status {
		t.Errorf("sluice answered %d, want %d (%s); body %s", got.status, d.status, d.why, clip(got.body))
	}
	for k, v := range d.header {
		if g := got.header.Get(k); g != v {
			t.Errorf("sluice header %s = %q, want %q", k, g, v)
		}
	}
	if d.code == codes.OK {
		return
	}
	vals, ok := jsonValues(got.body)
	if !ok || len(vals) != 1 {
		t.Fatalf("sluice error body is not one JSON value: %s", clip(got.body))
	}
	v := vals[0]
	if m, ok := v.(map[string]any); ok && len(m) == 1 && m["error"] != nil {
		v = m["error"] // a stream's error line: {"error": status}
	}
	st, ok := asStatus(v)
	if !ok {
		t.Fatalf("sluice error body is not a google.rpc.Status: %s", clip(got.body))
	}
	if st.Code.String() != strconv.Itoa(int(d.code)) {
		t.Errorf("sluice error code %s, want %d (%s)", st.Code, d.code, d.code)
	}
}

// docRow matches a row of the table in docs/rest-differences.md, whose
// first cell starts with the case name: | `case-name`: request | ...
var docRow = regexp.MustCompile("^\\|\\s*`([a-z0-9-]+)`:")

// TestRESTDifferencesDocumented checks that docs/rest-differences.md lists
// exactly the cases marked expectDiff, so the doc and the table cannot
// drift apart.
func TestRESTDifferencesDocumented(t *testing.T) {
	t.Parallel()
	f, err := os.ReadFile("../docs/rest-differences.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(f))
	for sc.Scan() {
		if m := docRow.FindStringSubmatch(sc.Text()); m != nil {
			documented[m[1]] = true
		}
	}
	// Both tables: the demo's and grpc-gateway's examples' (gwCases).
	type marked struct {
		name string
		diff *expectDiff
	}
	var all []marked
	for _, tc := range restCases() {
		all = append(all, marked{tc.name, tc.diff})
	}
	for _, tc := range gwCases() {
		all = append(all, marked{tc.name, tc.diff})
	}
	names := map[string]bool{}
	for _, tc := range all {
		if names[tc.name] {
			t.Errorf("case %q appears twice in the tables", tc.name)
		}
		names[tc.name] = true
		if tc.diff != nil && !documented[tc.name] {
			t.Errorf("case %q is marked expectDiff but is not in docs/rest-differences.md", tc.name)
		}
		if tc.diff == nil && documented[tc.name] {
			t.Errorf("case %q is in docs/rest-differences.md but not marked expectDiff", tc.name)
		}
	}
	for name := range documented {
		if !names[name] {
			t.Errorf("docs/rest-differences.md lists %q, which is not in the table", name)
		}
	}
}

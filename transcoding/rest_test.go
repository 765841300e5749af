package transcoding_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/sluice-dev/sluice/demo"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/transcoding"
)

// TestRESTRuleShapes calls every HTTP rule shape of the demo API through a
// real gateway and checks what came back.
func TestRESTRuleShapes(t *testing.T) {
	e := newEnv(t)
	type check func(t *testing.T, r response)
	jsonAt := func(path string, want any) check {
		return func(t *testing.T, r response) {
			t.Helper()
			if got := get(r.json, path); got != want {
				t.Errorf("%s = %#v, want %#v (body %s)", path, got, want, r.raw)
			}
		}
	}
	tests := []struct {
		name         string
		method, path string
		body         string
		headers      []string
		code         int
		checks       []check
	}{
		{name: "get with no variables", method: "GET", path: "/v1/shelves", code: 200,
			checks: []check{jsonAt("nextPageToken", "")}},
		{name: "query scalar", method: "GET", path: "/v1/shelves?page_size=1", code: 200,
			checks: []check{func(t *testing.T, r response) {
				if n := len(r.json["shelves"].([]any)); n != 1 {
					t.Errorf("got %d shelves, want 1", n)
				}
			}}},
		{name: "query lowerCamel name", method: "GET", path: "/v1/shelves?pageSize=1", code: 200,
			checks: []check{func(t *testing.T, r response) {
				if n := len(r.json["shelves"].([]any)); n != 1 {
					t.Errorf("got %d shelves, want 1", n)
				}
			}}},
		{name: "single variable", method: "GET", path: "/v1/shelves/classics", code: 200,
			checks: []check{jsonAt("shelf.name", "shelves/classics"), jsonAt("shelf.displayName", "Classics"), jsonAt("shelf.labels.floor", "1")}},
		{name: "deep wildcard variable", method: "GET", path: "/v1/shelves/classics/files/notes/2024/reading.md", code: 200,
			checks: []check{jsonAt("file.name", demo.SeedFileReadingMD), jsonAt("file.contentType", "text/markdown; charset=utf-8")}},
		{name: "additional binding with variable", method: "GET", path: "/v1/shelves/scifi/books", code: 200,
			checks: []check{func(t *testing.T, r response) {
				if n := len(r.json["books"].([]any)); n != 2 {
					t.Errorf("got %d books, want 2", n)
				}
			}}},
		{name: "additional binding without variable, enum by name", method: "GET", path: "/v1/books?genre=GENRE_POETRY", code: 200,
			checks: []check{func(t *testing.T, r response) {
				books := r.json["books"].([]any)
				if len(books) != 1 || get(books[0], "title") != "The Odyssey" {
					t.Errorf("got %s", r.raw)
				}
			}}},
		{name: "enum by number", method: "GET", path: "/v1/books?genre=7", code: 200,
			checks: []check{func(t *testing.T, r response) {
				if books := r.json["books"].([]any); len(books) != 1 {
					t.Errorf("got %s", r.raw)
				}
			}}},
		{name: "bad enum name", method: "GET", path: "/v1/books?genre=GENRE_NOPE", code: 400,
			checks: []check{jsonAt("code", float64(3))}},
		{name: "bad scalar", method: "GET", path: "/v1/shelves?page_size=ten", code: 400},
		{name: "unknown query parameter ignored", method: "GET", path: "/v1/shelves?nope=1", code: 200},
		{name: "response_body", method: "GET", path: "/v1/shelves/classics/books/moby-dick", code: 200,
			checks: []check{jsonAt("title", "Moby-Dick"), jsonAt("copiesSold", "2000000"), jsonAt("genre", "GENRE_FICTION"),
				jsonAt("readingTime", "77400s"), jsonAt("rating", float64(4)), jsonAt("metadata.illustrated", false),
				jsonAt("publishTime", "1851-10-18T00:00:00Z")}},
		{name: "unpopulated fields emitted", method: "GET", path: "/v1/shelves/classics/books/the-odyssey", code: 200,
			checks: []check{jsonAt("copiesSold", "0"), jsonAt("coverImage", ""), jsonAt("rating", nil)}},
		{name: "not found from upstream", method: "GET", path: "/v1/shelves/nope", code: 404,
			checks: []check{jsonAt("code", float64(5))}},
		{name: "custom verb raw response", method: "GET", path: "/v1/shelves/classics/books/moby-dick:download", code: 200,
			checks: []check{func(t *testing.T, r response) {
				if string(r.raw) != "Call me Ishmael.\n" || r.header.Get("Content-Type") != "text/plain; charset=utf-8" {
					t.Errorf("got %q %q", r.header.Get("Content-Type"), r.raw)
				}
			}}},
		{name: "escaped slash in a multi-segment variable stays escaped", method: "GET", path: "/v1/shelves/a%2Fb", code: 404,
			checks: []check{func(t *testing.T, r response) {
				if !strings.Contains(get(r.json, "message").(string), "shelves/a%2Fb") {
					t.Errorf("message does not name the decoded id: %s", r.raw)
				}
			}}},
		{name: "no route", method: "GET", path: "/v2/shelves", code: 404, checks: []check{jsonAt("code", float64(5))}},
		{name: "trailing slash", method: "GET", path: "/v1/shelves/", code: 404},
		{name: "method not allowed", method: "PUT", path: "/v1/shelves", code: 405,
			checks: []check{func(t *testing.T, r response) {
				if got := r.header.Get("Allow"); got != "GET, POST" {
					t.Errorf("Allow = %q", got)
				}
			}}},
		{name: "malformed query", method: "GET", path: "/v1/shelves?page_size=%zz", code: 400},
		{name: "body star bad json", method: "POST", path: "/v1/shelves", body: `{"shelf":`, code: 400},
		{name: "body star wrong type", method: "POST", path: "/v1/shelves", body: `{"shelf":{"displayName":5}}`, code: 400},
		{name: "body field bad timestamp", method: "POST", path: "/v1/shelves/classics/books", body: `{"title":"x","publishTime":"yesterday"}`, code: 400},
		{name: "unsupported content type", method: "POST", path: "/v1/shelves", body: `{}`,
			headers: []string{"Content-Type", "application/xml"}, code: 415},
		{name: "unacceptable accept", method: "GET", path: "/v1/shelves", headers: []string{"Accept", "text/html"}, code: 406},
		{name: "acceptable accept", method: "GET", path: "/v1/shelves", headers: []string{"Accept", "text/html, application/*;q=0.5"}, code: 200},
		{name: "accept refuses json, wildcard does not override", method: "GET", path: "/v1/shelves", headers: []string{"Accept", "application/json;q=0, */*"}, code: 406},
		{name: "null for a well-known type", method: "POST", path: "/v1/shelves/classics/books", body: `{"title":"Nulls","publishTime":null,"rating":null,"readingTime":null,"metadata":null}`, code: 200,
			checks: []check{jsonAt("book.title", "Nulls")}},
		{name: "bad grpc-timeout", method: "GET", path: "/v1/shelves", headers: []string{"Grpc-Timeout", "1x"}, code: 400},
		{name: "upstream failure knob", method: "GET", path: "/v1/shelves", headers: []string{"Grpc-Metadata-X-Demo-Fail", "PERMISSION_DENIED:nope"}, code: 403,
			checks: []check{jsonAt("code", float64(7))}},
		{name: "client streaming of one empty message reaches the upstream", method: "POST", path: "/v1/books:import", body: `{}`, code: 400,
			checks: []check{func(t *testing.T, r response) {
				if msg, _ := get(r.json, "message").(string); !strings.Contains(msg, "parent") {
					t.Errorf("not the upstream's validation of the message: %s", r.raw)
				}
			}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := e.do(t, tt.method, tt.path, tt.body, tt.headers...)
			if r.code != tt.code {
				t.Fatalf("%s %s: status %d, want %d; body %s", tt.method, tt.path, r.code, tt.code, r.raw)
			}
			if r.code >= 400 && (r.json == nil || r.json["code"] == nil) {
				t.Errorf("error body is not a google.rpc.Status: %s", r.raw)
			}
			for _, c := range tt.checks {
				c(t, r)
			}
		})
	}
}

// TestRESTMalformedPath sends a path no HTTP client library would: an
// invalid percent-escape is 400, not 404. (net/http refuses such a
// request line itself, with a plain-text body, before any handler runs.)
func TestRESTMalformedPath(t *testing.T) {
	e := newEnv(t)
	conn, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(conn, "GET /v1/shelves/%zz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Fatalf("malformed path: %d %s", res.StatusCode, body)
	}
}

// TestRESTWrites covers the rule shapes that change state, in order.
func TestRESTWrites(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "POST", "/v1/shelves", `{"shelf":{"display_name":"Poetry","labels":{"floor":"3"}},"shelfId":"poetry"}`)
	if r.code != 200 || get(r.json, "shelf.name") != "shelves/poetry" || get(r.json, "shelf.displayName") != "Poetry" {
		t.Fatalf("create shelf: %d %s", r.code, r.raw)
	}
	r = e.do(t, "POST", "/v1/shelves/poetry/books?book_id=odes", `{"title":"Odes","genre":"GENRE_POETRY","copiesSold":12,"chapters":[{"title":"I","startPage":1}]}`)
	if r.code != 200 || get(r.json, "book.name") != "shelves/poetry/books/odes" || get(r.json, "book.copiesSold") != "12" {
		t.Fatalf("create book: %d %s", r.code, r.raw)
	}
	// A query value never overrides the path: parent stays shelves/poetry.
	r = e.do(t, "POST", "/v1/shelves/poetry/books?parent=shelves/classics&bookId=epodes", `{"title":"Epodes"}`)
	if r.code != 200 || get(r.json, "book.name") != "shelves/poetry/books/epodes" {
		t.Fatalf("create book with parent in query: %d %s", r.code, r.raw)
	}
	// PATCH with no update_mask: only the fields in the body change.
	r = e.do(t, "PATCH", "/v1/shelves/poetry/books/odes", `{"author":"Horace","rating":5}`)
	if r.code != 200 || get(r.json, "book.author") != "Horace" || get(r.json, "book.title") != "Odes" || get(r.json, "book.rating") != float64(5) {
		t.Fatalf("patch book: %d %s", r.code, r.raw)
	}
	// An explicit mask from the query wins: only title changes.
	r = e.do(t, "PATCH", "/v1/shelves/poetry/books/odes?update_mask=title", `{"title":"Carmina","author":"Q. Horatius Flaccus"}`)
	if r.code != 200 || get(r.json, "book.title") != "Carmina" || get(r.json, "book.author") != "Horace" {
		t.Fatalf("patch book with mask: %d %s", r.code, r.raw)
	}
	// Custom verb with body "*": the path wins over the body's name.
	r = e.do(t, "POST", "/v1/shelves/poetry/books/odes:publish", `{"name":"shelves/x/books/y","publishTime":"2001-02-03T04:05:06Z"}`)
	if r.code != 200 || get(r.json, "book.publishTime") != "2001-02-03T04:05:06Z" {
		t.Fatalf("publish: %d %s", r.code, r.raw)
	}
	r = e.do(t, "POST", "/v1/shelves/poetry/books/odes:publish", `{}`)
	if r.code != 400 || get(r.json, "code") != float64(9) {
		t.Fatalf("publish twice: %d %s", r.code, r.raw)
	}
	// HttpBody request field: raw bytes and their content type.
	r = e.do(t, "POST", "/v1/shelves/poetry/books/odes:upload", "", "Content-Type", "text/plain")
	req, _ := http.NewRequest("POST", e.base+"/v1/shelves/poetry/books/odes:upload", strings.NewReader("Odi et amo."))
	req.Header.Set("Content-Type", "text/x-latin")
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var up map[string]any
	_ = json.NewDecoder(res.Body).Decode(&up)
	res.Body.Close()
	if res.StatusCode != 200 || up["sizeBytes"] != "11" || up["contentType"] != "text/x-latin" {
		t.Fatalf("upload: %d %v (empty upload gave %d)", res.StatusCode, up, r.code)
	}
	r = e.do(t, "GET", "/v1/shelves/poetry/books/odes:download", "")
	if string(r.raw) != "Odi et amo." || r.header.Get("Content-Type") != "text/x-latin" {
		t.Fatalf("download: %q %q", r.header.Get("Content-Type"), r.raw)
	}
	// DELETE with a query parameter.
	r = e.do(t, "DELETE", "/v1/shelves/poetry", "")
	if r.code != 400 {
		t.Fatalf("delete non-empty shelf: %d %s", r.code, r.raw)
	}
	r = e.do(t, "DELETE", "/v1/shelves/poetry?force=true", "")
	if r.code != 200 || string(r.raw) != "{}" {
		t.Fatalf("delete shelf: %d %s", r.code, r.raw)
	}
}

// TestRESTOversizeBody proves the body limit answers 413 before decoding.
func TestRESTOversizeBody(t *testing.T) {
	e := newEnv(t, transcoding.WithMaxBodyBytes(64))
	big := `{"shelf":{"displayName":"` + strings.Repeat("x", 100) + `"}}`
	r := e.do(t, "POST", "/v1/shelves", big)
	if r.code != 413 || get(r.json, "code") != float64(8) {
		t.Fatalf("oversize body: %d %s", r.code, r.raw)
	}
	// Without Content-Length the limit applies while reading.
	req, _ := http.NewRequest("POST", e.base+"/v1/shelves", struct{ *strings.Reader }{strings.NewReader(big)})
	req.Header.Set("Content-Type", "application/json")
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 413 {
		t.Fatalf("chunked oversize body: %d", res.StatusCode)
	}
}

// TestRESTDeepBody proves the depth limit answers before protojson runs.
func TestRESTDeepBody(t *testing.T) {
	e := newEnv(t)
	deep := strings.Repeat(`{"metadata":`, 1) + strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 71)
	r := e.do(t, "POST", "/v1/shelves/classics/books", deep)
	if r.code != 400 || !strings.Contains(get(r.json, "message").(string), "deeper") {
		t.Fatalf("deep body: %d %s", r.code, r.raw)
	}
}

// TestRESTHeadersAndMetadata checks the header allowlist, the
// Grpc-Metadata-* mapping both ways, trailers and deadlines.
func TestRESTHeadersAndMetadata(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "GET", "/v1/shelves/classics", "",
		"Grpc-Metadata-X-Echo-Color", "blue",
		"X-Echo-Direct", "not allowlisted",
		"Grpc-Timeout", "5S",
		"TE", "trailers")
	if r.code != 200 {
		t.Fatalf("status %d: %s", r.code, r.raw)
	}
	if got := r.header.Get("Grpc-Metadata-X-Echo-Color"); got != "blue" {
		t.Errorf("echoed header = %q, want blue (headers %v)", got, r.header)
	}
	if got := r.header.Get("Grpc-Metadata-X-Echo-Direct"); got != "" {
		t.Errorf("a header outside the allowlist reached the upstream: %q", got)
	}
	if got := r.header.Get("Grpc-Trailer-X-Echo-Color-Trailer"); got != "blue" {
		t.Errorf("echoed trailer = %q, want blue (headers %v)", got, r.header)
	}
	if got := r.header.Get("Grpc-Metadata-" + demo.HeaderMethod); got != "/sluice.demo.library.v1.LibraryService/GetShelf" {
		t.Errorf("method header = %q", got)
	}
	if ms := r.header.Get("Grpc-Metadata-" + demo.HeaderDeadlineMs); ms == "" || len(ms) > 4 {
		t.Errorf("deadline did not reach the upstream: %q", ms)
	}
	// Without TE: trailers, no trailers are sent.
	r = e.do(t, "GET", "/v1/shelves/classics", "", "Grpc-Metadata-X-Echo-Color", "blue")
	if got := r.header.Get("Grpc-Trailer-X-Echo-Color-Trailer"); got != "" {
		t.Errorf("trailer sent without TE: trailers: %q", got)
	}
	// A deadline that expires: 504.
	r = e.do(t, "GET", "/v1/shelves", "", "Grpc-Timeout", "20m", "Grpc-Metadata-X-Demo-Delay", "500ms")
	if r.code != 504 || get(r.json, "code") != float64(4) {
		t.Errorf("expired deadline: %d %s", r.code, r.raw)
	}
}

// TestRESTServerStreaming checks the newline-delimited {"result": ...}
// format of server-streaming methods.
func TestRESTServerStreaming(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "GET", "/v1/shelves/scifi/books:export", "")
	if r.code != 200 {
		t.Fatalf("export: %d %s", r.code, r.raw)
	}
	var titles []string
	sc := bufio.NewScanner(strings.NewReader(string(r.raw)))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		titles = append(titles, get(line, "result.book.title").(string))
	}
	if strings.Join(titles, "|") != "Dune|The Left Hand of Darkness" {
		t.Errorf("titles %v", titles)
	}
	r = e.do(t, "GET", "/v1/shelves/nope/books:export", "")
	if r.code != 404 || get(get(mustJSONLine(t, r.raw), "error"), "code") != float64(5) {
		t.Errorf("export of a missing shelf: %d %s", r.code, r.raw)
	}
	// A failure after the first message is an error line after a 200.
	r = e.do(t, "GET", "/v1/shelves/scifi/books:export", "", "Grpc-Metadata-X-Demo-Fail-After", "1")
	lines := strings.Split(strings.TrimSpace(string(r.raw)), "\n")
	if r.code != 200 || len(lines) != 2 || !strings.HasPrefix(lines[1], `{"error":`) {
		t.Errorf("failure mid-stream: %d %s", r.code, r.raw)
	}
}

func mustJSONLine(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%q: %v", b, err)
	}
	return m
}

// TestRESTAndGRPCLogTheSame proves acceptance 4: the same call over REST
// and over gRPC produces the same access log line but for the protocol
// (and the client's port and the duration, which differ by nature).
func TestRESTAndGRPCLogTheSame(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "GET", "/v1/shelves/classics/books/moby-dick", "")
	if r.code != 200 {
		t.Fatalf("rest: %d %s", r.code, r.raw)
	}
	cc := gatewaytest.Dial(t, e.addr)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := libraryv1.NewLibraryServiceClient(cc).GetBook(ctx, &libraryv1.GetBookRequest{Name: demo.SeedBookMobyDick}); err != nil {
		t.Fatal(err)
	}
	logs := e.logs.all()
	if len(logs) != 2 {
		t.Fatalf("got %d log lines, want 2: %v", len(logs), logs)
	}
	rest, grpcLine := logs[0], logs[1]
	if rest["protocol"] != "rest" || grpcLine["protocol"] != "grpc" {
		t.Fatalf("protocols %q %q", rest["protocol"], grpcLine["protocol"])
	}
	for _, l := range logs {
		host, _, _ := strings.Cut(l["peer"], ":")
		l["peer"] = host
		delete(l, "protocol")
		delete(l, "duration")
	}
	if len(rest) != len(grpcLine) {
		t.Fatalf("rest line %v\ngrpc line %v", rest, grpcLine)
	}
	for k, v := range rest {
		if grpcLine[k] != v {
			t.Errorf("%s: rest %q, grpc %q", k, v, grpcLine[k])
		}
	}
}

// TestRESTMetadataReachesUpstreamLikeGRPC checks that an allowlisted
// header and a Grpc-Metadata-* header arrive as the same metadata a gRPC
// client would send.
func TestRESTMetadataReachesUpstreamLikeGRPC(t *testing.T) {
	e := newEnv(t)
	r := e.do(t, "GET", "/v1/shelves/classics", "", "Grpc-Metadata-X-Echo-Bin", "AQID", "Grpc-Metadata-Grpc-Status", "0")
	if r.code != 200 {
		t.Fatalf("%d %s", r.code, r.raw)
	}
	cc := gatewaytest.Dial(t, e.addr)
	var hdr metadata.MD
	ctx := metadata.AppendToOutgoingContext(context.Background(), "x-echo-bin", string([]byte{1, 2, 3}))
	if _, err := libraryv1.NewLibraryServiceClient(cc).GetShelf(ctx, &libraryv1.GetShelfRequest{Name: demo.SeedShelfClassics}, grpc.Header(&hdr)); err != nil {
		t.Fatal(err)
	}
	// Binary values travel base64-encoded in HTTP headers, both ways.
	if got, want := r.header.Get("Grpc-Metadata-X-Echo-Bin"), "AQID"; got != want {
		t.Errorf("REST echo %q, want %q", got, want)
	}
	if got := hdr.Get("x-echo-bin"); len(got) != 1 || got[0] != string([]byte{1, 2, 3}) {
		t.Errorf("gRPC echo %q", got)
	}
}

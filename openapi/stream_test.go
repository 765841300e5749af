package openapi_test

import (
	"bufio"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/sluice-dev/sluice/frame"
	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/openapi"
	"github.com/sluice-dev/sluice/registry"
	"github.com/sluice-dev/sluice/registry/protosource"
	"github.com/sluice-dev/sluice/transcoding"
)

// exportDispatcher answers every call with two ExportBooksResponse
// messages, then fails with NOT_FOUND, or fails at once when early.
type exportDispatcher struct{ early bool }

func (d exportDispatcher) Dispatch(ss grpc.ServerStream, _ string, _, _ bool) error {
	var req frame.Frame
	if err := ss.RecvMsg(&req); err != nil {
		return err
	}
	req.Free()
	if d.early {
		return status.Error(codes.NotFound, "no such shelf")
	}
	for _, title := range []string{"Moby-Dick", "Dubliners"} {
		b, err := proto.Marshal(&libraryv1.ExportBooksResponse{Book: &libraryv1.Book{Name: "shelves/s/books/" + strings.ToLower(title[:4]), Title: title}})
		if err != nil {
			return err
		}
		if err := ss.SendMsg(frame.FromBytes(b)); err != nil {
			return err
		}
	}
	return status.Error(codes.Internal, "the disk is on fire")
}

// What a server stream's 200 and default responses document for each
// Accept is what the transcoder serves: every line (or event) of a stream
// that fails after two messages validates against the schema of the
// response's content type, and so does the body of a stream that fails
// before its first message. Both default formats are checked.
func TestStreamingResponsesAreWhatIsServed(t *testing.T) {
	t.Parallel()
	for _, format := range []transcoding.StreamFormat{transcoding.StreamEnvelope, transcoding.StreamNDJSON} {
		doc := loadDemo(t, openapi.WithStreamFormat(format))
		op := doc.Paths.Value("/v1/shelves/{shelvesId}/books:export").Get
		ok := op.Responses.Status(200).Value
		_, hasJSON := ok.Content["application/json"]
		if hasJSON != (format == transcoding.StreamEnvelope) {
			t.Errorf("%s: application/json documented: %v; it is served only by the envelope format", format, hasJSON)
		}
		routes, err := transcoding.BuildRoutes(demoSnapshot(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, early := range []bool{false, true} {
			h, err := transcoding.NewREST(func() *transcoding.Routes { return routes }, exportDispatcher{early: early}, transcoding.WithStreamFormat(format))
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			for _, accept := range []string{"", "application/json", "*/*", "application/x-ndjson", "text/event-stream"} {
				req, err := http.NewRequest(http.MethodGet, srv.URL+"/v1/shelves/s/books:export", nil)
				if err != nil {
					t.Fatal(err)
				}
				if accept != "" {
					req.Header.Set("Accept", accept)
				}
				resp, err := srv.Client().Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				if err != nil {
					t.Fatal(err)
				}
				name := string(format) + ", Accept " + accept
				ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
				if early {
					if resp.StatusCode != http.StatusNotFound {
						t.Errorf("%s, early error: status %d", name, resp.StatusCode)
					}
					checkJSON(t, name+", early error", op.Responses.Default().Value, ct, body)
					continue
				}
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s: status %d: %s", name, resp.StatusCode, body)
				}
				if ct == "text/event-stream" {
					checkSSE(t, name, body)
					continue
				}
				checkJSON(t, name, ok, ct, body)
			}
			srv.Close()
		}
	}
}

// checkJSON validates each line of body against resp's schema for ct.
func checkJSON(t *testing.T, name string, resp *openapi3.Response, ct string, body []byte) {
	t.Helper()
	media := resp.Content[ct]
	if media == nil {
		t.Errorf("%s: served %s, which the document does not list (%v)", name, ct, keys(resp.Content))
		return
	}
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(string(body)))
	for sc.Scan() {
		var v any
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s: line %q: %v", name, sc.Text(), err)
		}
		if err := media.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
			t.Errorf("%s: line %s does not validate against the documented %s schema: %v", name, sc.Text(), ct, err)
		}
		lines++
	}
	if lines == 0 {
		t.Errorf("%s: empty body", name)
	}
}

// checkSSE checks the events of a stream that failed after two messages:
// two message events, then the documented error event.
func checkSSE(t *testing.T, name string, body []byte) {
	t.Helper()
	events := strings.Split(strings.TrimSpace(string(body)), "\n\n")
	if len(events) != 3 || !strings.HasPrefix(events[0], "data: {") || !strings.HasPrefix(events[2], "event: grpc-error\nretry: 86400000\ndata: {") {
		t.Errorf("%s: events %q, want two messages and an event named grpc-error", name, events)
	}
}

func keys(c openapi3.Content) []string {
	var out []string
	for k := range c {
		out = append(out, k)
	}
	return out
}

// A client stream whose rule names no body is served as `body: "*"` (one
// message per JSON value in the body, never a query): the document says
// so, with a request body and no query parameters.
func TestClientStreamWithoutBodyRule(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const src = `syntax = "proto3";
package test.v1;
import "google/api/annotations.proto";
message Note { string text = 1; int32 page = 2; }
message Summary { int32 count = 1; }
service Notes {
  rpc Upload(stream Note) returns (Summary) {
    option (google.api.http) = { post: "/v1/notes:upload" };
  }
  rpc UploadTo(stream Note) returns (Summary) {
    option (google.api.http) = { post: "/v1/pages/{page}/notes:upload" };
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "notes.proto"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	ps, err := protosource.New([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	snap, err := registry.Build(ps)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi.Generate(snap)
	if err != nil {
		t.Fatal(err)
	}
	for path, bound := range map[string]string{"/v1/notes:upload": "", "/v1/pages/{page}/notes:upload": "page"} {
		item := doc.Paths.Value(path)
		if item == nil || item.Post == nil {
			t.Fatalf("%s: no POST operation", path)
		}
		op := item.Post
		if op.RequestBody == nil || op.RequestBody.Value == nil {
			t.Errorf("%s: no request body documented", path)
			continue
		}
		for _, p := range op.Parameters {
			if p.Value.In == "query" {
				t.Errorf("%s: query parameter %q documented; the body carries every field", path, p.Value.Name)
			}
		}
		mt := op.RequestBody.Value.Content.Get("application/x-ndjson")
		if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
			t.Errorf("%s: no newline-delimited JSON schema for the body: %v", path, op.RequestBody.Value.Content)
			continue
		}
		props := mt.Schema.Value.Properties
		if _, ok := props["text"]; !ok {
			t.Errorf("%s: the body schema lacks text: %v", path, props)
		}
		if _, ok := props[bound]; bound != "" && ok {
			t.Errorf("%s: the body schema still has %q, which the path binds", path, bound)
		}
	}
}

package openapi_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"weak"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluice-dev/sluice/openapi"
	"github.com/sluice-dev/sluice/registry"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	first := demoSnapshot(t)
	var current atomic.Pointer[registry.Snapshot]
	current.Store(first)
	var calls atomic.Int32
	h := openapi.Handler(func() *registry.Snapshot { calls.Add(1); return current.Load() })
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	get := func(t *testing.T, method, etag string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+"/openapi.json", nil)
		if err != nil {
			t.Fatal(err)
		}
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, b
	}

	resp, body := get(t, http.MethodGet, "")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	doc, err := openapi.Generate(first)
	if err != nil {
		t.Fatal(err)
	}
	want, err := openapi.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(body, want) {
		t.Error("the handler serves another document than Generate+Marshal")
	}
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if resp, _ := get(t, http.MethodGet, etag); resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match: status %d, want 304", resp.StatusCode)
	}
	if resp, b := get(t, http.MethodHead, ""); resp.StatusCode != http.StatusOK || len(b) != 0 {
		t.Errorf("HEAD: status %d, %d bytes", resp.StatusCode, len(b))
	}
	if resp, _ := get(t, http.MethodPost, ""); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q", resp.StatusCode, resp.Header.Get("Allow"))
	}

	// A new snapshot with other contracts: a new document and ETag.
	data, err := os.ReadFile(demoSet)
	if err != nil {
		t.Fatal(err)
	}
	set := new(descriptorpb.FileDescriptorSet)
	if err := proto.Unmarshal(data, set); err != nil {
		t.Fatal(err)
	}
	for _, f := range set.GetFile() {
		if f.GetName() == "sluice/demo/library/v1/library.proto" {
			f.Service[0].Method = f.Service[0].Method[1:] // drop ListShelves
		}
	}
	data, err = proto.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	second, err := registry.Build(registry.DescriptorSet("v2.binpb", data))
	if err != nil {
		t.Fatal(err)
	}
	current.Store(second)
	resp, body = get(t, http.MethodGet, etag)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("ETag") == etag {
		t.Fatalf("after a reload: status %d, ETag %q (was %q)", resp.StatusCode, resp.Header.Get("ETag"), etag)
	}
	if strings.Contains(string(body), "LibraryService_ListShelves") {
		t.Error("the document of the new snapshot still has ListShelves")
	}
	if calls.Load() != 4 { // GET, GET 304, HEAD, GET after the reload; POST is refused first
		t.Errorf("snapshot called %d times, want once per request", calls.Load())
	}
}

// The handler's cache does not keep a snapshot the registry replaced: a
// large contract set would otherwise be held twice after a reload until
// the document is asked for again.
func TestHandlerDoesNotKeepOldSnapshots(t *testing.T) {
	t.Parallel()
	var current atomic.Pointer[registry.Snapshot]
	current.Store(demoSnapshot(t))
	gone := weak.Make(current.Load())
	h := openapi.Handler(current.Load)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d", rec.Code)
	}
	current.Store(demoSnapshot(t)) // a reload
	for i := 0; i < 10 && gone.Value() != nil; i++ {
		runtime.GC()
	}
	if gone.Value() != nil {
		t.Error("the handler keeps the replaced snapshot in memory")
	}
	runtime.KeepAlive(h)
}

func TestRoutesGolden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := openapi.WriteRoutes(&buf, demoSnapshot(t)); err != nil {
		t.Fatal(err)
	}
	golden(t, "demo.routes.txt", buf.Bytes())
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 19 { // the header and one row per binding
		t.Errorf("%d lines, want 19:\n%s", len(lines), buf.String())
	}
	if err := openapi.WriteRoutes(&buf, nil); err == nil {
		t.Error("WriteRoutes(nil) succeeded")
	}
}

// If-None-Match compares as RFC 9110 says: weakly, through lists and
// several header lines, and "*" matches; errors are google.rpc.Status JSON.
func TestHandlerConditionalAndErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(openapi.Handler(func() *registry.Snapshot { return demoSnapshot(t) }))
	t.Cleanup(srv.Close)
	do := func(method string, inm ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range inm {
			req.Header.Add("If-None-Match", v)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	resp, _ := do(http.MethodGet)
	etag := resp.Header.Get("ETag")
	for _, tc := range []struct {
		inm  []string
		want int
	}{
		{[]string{etag}, http.StatusNotModified},
		{[]string{"W/" + etag}, http.StatusNotModified},
		{[]string{`"other", ` + etag}, http.StatusNotModified},
		{[]string{`W/"a,b", W/` + etag}, http.StatusNotModified},
		{[]string{`"other"`, etag}, http.StatusNotModified},
		{[]string{"*"}, http.StatusNotModified},
		{[]string{`"other"`}, http.StatusOK},
		{[]string{strings.Trim(etag, `"`)}, http.StatusOK}, // unquoted: not an entity tag
		{[]string{`"other", garbage ` + etag}, http.StatusOK},
	} {
		if resp, _ := do(http.MethodGet, tc.inm...); resp.StatusCode != tc.want {
			t.Errorf("If-None-Match %q: status %d, want %d", tc.inm, resp.StatusCode, tc.want)
		}
	}

	resp, body := do(http.MethodPost)
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Content-Type") != "application/json" ||
		!strings.Contains(string(body), `"code":12`) || !strings.Contains(string(body), `"message":"method POST is not allowed`) {
		t.Errorf("POST: %d %q %s, want 405 with a google.rpc.Status", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}

	// No document can be generated: 500 with a google.rpc.Status.
	bad := httptest.NewServer(openapi.Handler(func() *registry.Snapshot { return nil }))
	t.Cleanup(bad.Close)
	res, err := bad.Client().Get(bad.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusInternalServerError || res.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(b), `"code":13`) {
		t.Errorf("no document: %d %q %s, want 500 with a google.rpc.Status", res.StatusCode, res.Header.Get("Content-Type"), b)
	}
}

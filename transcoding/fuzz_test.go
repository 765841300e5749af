package transcoding_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/sluice-dev/sluice/transcoding"
)

// fuzzHandlers are the demo API (generated types) and the things API
// (dynamic types only), each behind a capturing dispatcher that echoes
// nothing.
func fuzzHandlers(f *testing.F) (demo, things http.Handler) {
	demo = newHandler(f, &captureDispatcher{})
	routes, err := transcoding.BuildRoutes(thingsSnapshot(f, defaultThingRules))
	if err != nil {
		f.Fatal(err)
	}
	things, err = transcoding.NewREST(func() *transcoding.Routes { return routes }, &captureDispatcher{})
	if err != nil {
		f.Fatal(err)
	}
	return demo, things
}

// checkOutcome asserts what any input may produce: success, or a client
// error carried as a google.rpc.Status with the matching code.
func checkOutcome(t *testing.T, w *httptest.ResponseRecorder, what string) {
	t.Helper()
	switch w.Code {
	case http.StatusOK:
		return
	case http.StatusBadRequest:
	default:
		t.Fatalf("%s: status %d: %s", what, w.Code, w.Body)
	}
	var st struct {
		Code    codes.Code `json:"code"`
		Message string     `json:"message"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &st); err != nil || st.Code != codes.InvalidArgument || st.Message == "" {
		t.Fatalf("%s: error body %q (%v)", what, w.Body, err)
	}
}

// FuzzQueryBinding feeds arbitrary query strings to routes whose request
// messages have every kind of field: scalars, enums, well-known types,
// maps, repeated fields, nested messages.
func FuzzQueryBinding(f *testing.F) {
	for _, q := range []string{
		"page_size=5&genre=GENRE_POETRY", "genre=7", "genre=-1", "book.title=x", "book.chapters.title=x",
		"update_mask=a,b", "book.rating=3", "book.reading_time=1h", "book.publish_time=2020-01-01T00:00:00Z",
		"book.labels[a]=b", "book.labels[a]=b&book.labels[a]=c", "book.labels=x", "book.metadata={\"a\":1}",
		"book.cover_image=AQI=", "book.copies_sold=9223372036854775808", "kind=KIND_ROUND&count=1&tags=a&tags=b",
		"attrs[k]=v", "seen_time=0000-01-01T00:00:00Z", "child.child.child.name=x", "update_mask=", "child=x",
		"a[b]c]=d", "[]=1", "name=x&name=y", "%zz=1", "a=1;b=2",
	} {
		f.Add(q)
	}
	demo, things := fuzzHandlers(f)
	f.Fuzz(func(t *testing.T, q string) {
		for _, c := range []struct {
			h      http.Handler
			method string
			path   string
		}{
			{demo, "GET", "/v1/shelves/s/books"},
			{demo, "PATCH", "/v1/shelves/s/books/b"},
			{things, "GET", "/v1/things/t"},
		} {
			req := httptest.NewRequest(c.method, c.path, nil)
			req.URL.RawQuery = q
			w := httptest.NewRecorder()
			c.h.ServeHTTP(w, req)
			checkOutcome(t, w, c.method+" "+c.path+"?"+q)
		}
	})
}

// FuzzJSONBody feeds arbitrary bodies to every body shape: "*", a message
// field, the PATCH update-mask inference, on generated and dynamic types.
func FuzzJSONBody(f *testing.F) {
	for _, b := range []string{
		`{}`, `{"shelf":{"displayName":"a"}}`, `{"title":"t","rating":null,"publishTime":null,"metadata":{"a":[1,{"b":null}]}}`,
		`{"copiesSold":"1","copies_sold":2}`, `{"readingTime":"1.5s","labels":{"a":"b"},"chapters":[{"title":"c"}]}`,
		`null`, `[]`, `"x"`, `{"metadata":null}`, `{"rating":{"value":1}}`, `{"kind":"KIND_ROUND","attrs":{"k":"v"},"child":{"child":{}}}`,
		`{"update_mask":"a,b"}`, `{"@type":"x"}`, `{"a":` + strings.Repeat("[", 100), "\xff", `{"title":"\ud800"}`,
	} {
		f.Add([]byte(b))
	}
	demo, things := fuzzHandlers(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, c := range []struct {
			h      http.Handler
			method string
			path   string
		}{
			{demo, "POST", "/v1/shelves"},
			{demo, "POST", "/v1/shelves/s/books"},
			{demo, "PATCH", "/v1/shelves/s/books/b"},
			{things, "POST", "/v1/things"},
			{things, "PATCH", "/v1/things/t/child"},
		} {
			req := httptest.NewRequest(c.method, c.path, strings.NewReader(string(body)))
			req.Header.Set("Content-Type", "application/json")
			w := httptest.NewRecorder()
			c.h.ServeHTTP(w, req)
			checkOutcome(t, w, c.method+" "+c.path+" "+string(body))
		}
	})
}

package explorer_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/server/explorer"
)

func TestHandler(t *testing.T) {
	t.Parallel()
	h, err := explorer.NewHandler("/docs", "/openapi.json", explorer.WithTitle("Library <API>"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		method, path string
		status       int
		contentType  string
		contains     string
	}{
		{"GET", "/docs", http.StatusOK, "text/html", `<title>Library &lt;API&gt;</title>`},
		{"HEAD", "/docs", http.StatusOK, "text/html", ""},
		{"GET", "/docs/", http.StatusMovedPermanently, "", ""},
		{"GET", "/docs/init.js", http.StatusOK, "text/javascript", "SwaggerUIBundle("},
		{"GET", "/docs/swagger-ui-bundle.js", http.StatusOK, "text/javascript", "SwaggerUIBundle"},
		{"GET", "/docs/swagger-ui.css", http.StatusOK, "text/css", ".swagger-ui"},
		{"GET", "/docs/LICENSE", http.StatusOK, "text/plain", "Apache License"},
		{"GET", "/docs/swagger-ui-bundle.js.map", http.StatusNotFound, "", ""},
		{"GET", "/docs/../go.mod", http.StatusNotFound, "", ""},
		{"GET", "/other", http.StatusNotFound, "", ""},
		{"POST", "/docs", http.StatusMethodNotAllowed, "", ""},
	} {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			t.Parallel()
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, nil)
			req.URL.Opaque = tt.path // keep "..", as a hostile client would send it
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if !strings.HasPrefix(resp.Header.Get("Content-Type"), tt.contentType) {
				t.Errorf("Content-Type %q, want %q", resp.Header.Get("Content-Type"), tt.contentType)
			}
			if !strings.Contains(string(body), tt.contains) {
				t.Errorf("body does not contain %q: %.300s", tt.contains, body)
			}
		})
	}
}

func TestNewHandlerRefuses(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ prefix, doc string }{{"docs", "/openapi.json"}, {"/docs/", "/openapi.json"}, {"", "/x"}, {"/docs", ""}} {
		if _, err := explorer.NewHandler(tt.prefix, tt.doc); err == nil {
			t.Errorf("NewHandler(%q, %q) accepted", tt.prefix, tt.doc)
		}
	}
}

func ExampleNewHandler() {
	h, err := explorer.NewHandler("/docs", "/openapi.json")
	if err != nil {
		panic(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/docs", h)
	mux.Handle("/docs/", h)
	_ = mux // serve it on the admin port
	// Output:
}

package cors_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/cors"
)

// next records the requests that got past the policy and answers like a
// gRPC-Web call with metadata.
type next struct{ calls atomic.Int32 }

func (n *next) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	n.calls.Add(1)
	w.Header().Set("Content-Type", "application/grpc-web+proto")
	w.Header().Set("X-Up", "1")
	w.Header().Set("Grpc-Status", "0")
	w.WriteHeader(http.StatusOK)
}

func serve(h http.Handler, method string, headers ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, "/pkg.Service/Method", nil)
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func newHandler(t *testing.T, n http.Handler, p cors.Policy) *cors.Handler {
	t.Helper()
	h, err := cors.NewHandler(n, p)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Preflights are answered without reaching the next handler; actual
// requests from allowed origins get the allow headers and every header of
// their response exposed.
func TestPolicy(t *testing.T) {
	t.Parallel()
	n := &next{}
	h := newHandler(t, n, cors.Policy{AllowedOrigins: []string{"https://app.example"}, AllowCredentials: true, MaxAge: time.Hour})
	w := serve(h, http.MethodOptions, "Origin", "https://app.example", "Access-Control-Request-Method", "POST",
		"Access-Control-Request-Headers", "content-type, x-grpc-web, x-user-agent, grpc-timeout, connect-protocol-version, authorization")
	hd := w.Header()
	if w.Code != http.StatusNoContent || hd.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		hd.Get("Access-Control-Allow-Credentials") != "true" || hd.Get("Access-Control-Max-Age") != "3600" ||
		!strings.Contains(hd.Get("Access-Control-Allow-Methods"), "POST") || !strings.Contains(hd.Get("Access-Control-Allow-Headers"), "x-grpc-web") {
		t.Errorf("preflight: %d %v", w.Code, hd)
	}
	for _, refused := range [][]string{
		{"Origin", "https://evil.example", "Access-Control-Request-Method", "POST"},
		{"Origin", "https://app.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-secret"},
		{"Origin", "https://app.example", "Access-Control-Request-Method", "TRACE"},
	} {
		w := serve(h, http.MethodOptions, refused...)
		if w.Code != http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "" || w.Header().Get("Access-Control-Allow-Headers") != "" {
			t.Errorf("refused preflight %v: %d %v", refused, w.Code, w.Header())
		}
	}
	if got := n.calls.Load(); got != 0 {
		t.Errorf("%d preflights reached the next handler", got)
	}
	w = serve(h, http.MethodPost, "Origin", "https://app.example")
	exposed := w.Header().Get("Access-Control-Expose-Headers")
	if w.Code != http.StatusOK || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example" ||
		!strings.Contains(exposed, "X-Up") || !strings.Contains(exposed, "Grpc-Status-Details-Bin") || strings.Contains(exposed, "Content-Type") {
		t.Errorf("actual request: %d %v", w.Code, w.Header())
	}
	w = serve(h, http.MethodPost, "Origin", "https://evil.example")
	if w.Code != http.StatusOK || w.Header().Get("Access-Control-Allow-Origin") != "" || w.Header().Get("Access-Control-Expose-Headers") != "" {
		t.Errorf("request from another origin: %d %v", w.Code, w.Header())
	}
	w = serve(h, http.MethodPost)
	if w.Header().Get("Vary") != "" || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("request without Origin: %v", w.Header())
	}

	fixed := newHandler(t, n, cors.Policy{AllowedOrigins: []string{"*"}, ExposedHeaders: []string{"X-Only"}})
	w = serve(fixed, http.MethodPost, "Origin", "https://any.example")
	if w.Header().Get("Access-Control-Allow-Origin") != "*" || w.Header().Get("Access-Control-Expose-Headers") != "X-Only" {
		t.Errorf("fixed exposed headers: %v", w.Header())
	}
}

// TestOrigins checks how allowed origins match: case-insensitively, with
// subdomain wildcards that look-alike hosts cannot fool.
func TestOrigins(t *testing.T) {
	t.Parallel()
	h := newHandler(t, &next{}, cors.Policy{AllowedOrigins: []string{"HTTPS://App.Example.com", "https://*.example.org"}, AllowCredentials: true})
	for origin, allowed := range map[string]bool{
		"https://app.example.com":       true,
		"https://a.example.org":         true,
		"https://a.b.example.org":       true,
		"https://example.org":           false,
		"https://example.org.evil.com":  false,
		"https://evilexample.org":       false,
		"http://a.example.org":          false,
		"https://a.example.org:8443":    false,
		"https://app.example.com.evil":  false,
		"null":                          false,
		"https://app.example.com/":      false,
		"https://a.example.org@evil.io": false,
	} {
		w := serve(h, http.MethodOptions, "Origin", origin, "Access-Control-Request-Method", "POST")
		got := w.Header().Get("Access-Control-Allow-Origin")
		if allowed && got != origin || !allowed && got != "" {
			t.Errorf("preflight from %q: Access-Control-Allow-Origin %q, allowed %v", origin, got, allowed)
		}
		w = serve(h, http.MethodGet, "Origin", origin)
		if got := w.Header().Get("Access-Control-Allow-Origin"); allowed && got != origin || !allowed && got != "" {
			t.Errorf("GET from %q: Access-Control-Allow-Origin %q, allowed %v", origin, got, allowed)
		}
	}
}

func TestNewHandlerRefuses(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		p    cors.Policy
		want string
	}{
		"no origins":          {cors.Policy{}, "no allowed origins"},
		"path":                {cors.Policy{AllowedOrigins: []string{"https://app.example.com/"}}, "no path"},
		"null":                {cors.Policy{AllowedOrigins: []string{"null"}}, `"null"`},
		"misplaced wildcard":  {cors.Policy{AllowedOrigins: []string{"https://app.*.example"}}, "wildcard"},
		"no scheme":           {cors.Policy{AllowedOrigins: []string{"app.example.com"}}, "SCHEME://HOST"},
		"credentials for any": {cors.Policy{AllowedOrigins: []string{"*"}, AllowCredentials: true}, "credentials"},
		"negative max age":    {cors.Policy{AllowedOrigins: []string{"*"}, MaxAge: -time.Second}, "max age"},
	} {
		_, err := cors.NewHandler(&next{}, tc.p)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error saying %q", name, err, tc.want)
		}
	}
	// The policy's slices are the caller's: changing them later changes
	// nothing.
	p := cors.Policy{AllowedOrigins: []string{"https://app.example"}, AllowedMethods: []string{"POST"}}
	h := newHandler(t, &next{}, p)
	p.AllowedMethods[0] = "DELETE"
	w := serve(h, http.MethodOptions, "Origin", "https://app.example", "Access-Control-Request-Method", "DELETE")
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a method changed in the caller's slice afterwards was allowed: %v", w.Header())
	}
}

func ExampleNewHandler() {
	api := http.NotFoundHandler() // the gateway's gRPC-Web, Connect and REST handlers
	h, err := cors.NewHandler(api, cors.Policy{AllowedOrigins: []string{"https://app.example.com", "https://*.example.dev"}})
	if err != nil {
		panic(err)
	}
	_ = http.ListenAndServe // serve h on the gateway's port
	_ = h
}

package transcoding_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluice-dev/sluice/demo"
	"github.com/sluice-dev/sluice/interceptors/logging"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/transcoding"
)

// env is a real gateway on loopback with the REST handler in front of the
// in-memory demo upstream, also on loopback.
type env struct {
	base   string // http://127.0.0.1:port
	addr   string
	client *http.Client
	logs   *recorder
	lib    *demo.Library
	rest   *transcoding.REST
}

// recorder is a slog.Handler that keeps every record, for the access log
// comparisons.
type recorder struct {
	mu      sync.Mutex
	records []map[string]string
}

func (r *recorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *recorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *recorder) WithGroup(string) slog.Handler            { return r }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	m := map[string]string{"msg": rec.Message}
	rec.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	r.mu.Lock()
	r.records = append(r.records, m)
	r.mu.Unlock()
	return nil
}

func (r *recorder) all() []map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]string(nil), r.records...)
}

// startDemo serves the demo library on loopback.
func startDemo(t testing.TB) (addr string, lib *demo.Library) {
	t.Helper()
	lib = demo.NewLibrary()
	addr = gatewaytest.Serve(t, demo.NewServer(lib))
	t.Cleanup(lib.Close) // before the server stops
	return addr, lib
}

// newEnv starts the demo upstream and a gateway serving REST for the demo
// API. The caller's goroutines are checked for leaks when the test ends.
func newEnv(t *testing.T, opts ...transcoding.Option) *env {
	t.Helper()
	gatewaytest.CheckLeaks(t)
	upAddr, lib := startDemo(t)

	logs := &recorder{}
	e := startREST(t, demoRoutes(t), upAddr, "sluice.demo.library.v1", logs, newClient(), opts...)
	e.logs, e.lib = logs, lib
	return e
}

// startREST runs a gateway serving REST by routes, through the logging
// interceptor writing to logs, in front of the upstream at target for the
// methods that match pattern. The env's client is closed at cleanup,
// before the gateway shuts down.
func startREST(t testing.TB, routes *transcoding.Routes, target, pattern string, logs slog.Handler, client *http.Client, opts ...transcoding.Option) *env {
	t.Helper()
	return startWrappedREST(t, routes, target, pattern, logs, client, nil, opts...)
}

// startWrappedREST is startREST with the REST handler behind wrap (the
// CORS policy, say) when wrap is not nil.
func startWrappedREST(t testing.TB, routes *transcoding.Routes, target, pattern string, logs slog.Handler, client *http.Client,
	wrap func(http.Handler) http.Handler, opts ...transcoding.Option) *env {
	t.Helper()
	gw := gatewaytest.NewGateway(t, gatewaytest.Route(target, pattern), logging.StreamServerInterceptor(slog.New(logs)))
	rest, err := transcoding.NewREST(func() *transcoding.Routes { return routes }, gw.Dispatcher, opts...)
	if err != nil {
		t.Fatal(err)
	}
	var h http.Handler = rest
	if wrap != nil {
		h = wrap(rest)
	}
	gw.Start(t, server.WithHTTPHandler(h))
	t.Cleanup(client.CloseIdleConnections)
	return &env{base: "http://" + gw.Addr, addr: gw.Addr, client: client, rest: rest}
}

// response is what a test looks at: status, headers and the body, parsed
// as JSON when it is JSON.
type response struct {
	code   int
	header http.Header
	raw    []byte
	json   map[string]any
}

func (e *env) do(t *testing.T, method, path string, body string, headers ...string) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	out := response{code: res.StatusCode, header: res.Header, raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") && len(raw) > 0 {
		_ = json.Unmarshal(raw, &out.json)
	}
	// Trailers are only complete once the body was read.
	for k, v := range res.Trailer {
		out.header[k] = v
	}
	return out
}

// get returns the value at a dotted path of a decoded JSON object.
func get(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// newClient returns a client with its own connections, closed by the test.
func newClient() *http.Client {
	return &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
}

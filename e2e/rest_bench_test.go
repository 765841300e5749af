package e2e_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

// restGateways are the two sides of every REST benchmark: each starts a
// gateway in front of upstream and returns its base URL.
var restGateways = []struct {
	name  string
	start func(testing.TB, string) string
}{
	{"sluice", func(tb testing.TB, upstream string) string { return startSluice(tb, upstream) }},
	{"grpc-gateway", startGRPCGateway},
}

// restCalls are the benchmarked calls: a read with response_body and a
// create with a JSON body bound to a field (the server chooses the id, so
// every iteration creates a new book).
var restCalls = []struct {
	name   string
	method string
	path   string
	body   string
}{
	{"GetBook", http.MethodGet, "/v1/shelves/classics/books/moby-dick", ""},
	{"CreateBook", http.MethodPost, "/v1/shelves/classics/books",
		`{"title":"Benchmarks","author":"A. Author","genre":"GENRE_NON_FICTION","rating":4,"pageCount":320,` +
			`"copiesSold":"1000","readingTime":"3600s","labels":{"language":"en"}}`},
}

// BenchmarkRESTUnary is one unary REST call through sluice and through
// grpc-gateway's generated handler, each over loopback with a keep-alive
// client in front of its own demo upstream. Client, gateway and upstream
// all run in this process, so allocs/op counts all three; the upstream and
// client share is the same for both gateways, so the difference is the
// gateways'. BenchmarkRESTGatewayCPU measures the gateway alone.
func BenchmarkRESTUnary(b *testing.B) {
	for _, call := range restCalls {
		for _, gw := range restGateways {
			b.Run(gw.name+"/"+call.name, func(b *testing.B) {
				base := gw.start(b, startDemo(b))
				do := restCaller(b, newClient(b), base, call.method, call.path, call.body)
				do() // connect and warm up outside the timer
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					do()
				}
			})
		}
	}
}

// restCaller returns a function that makes the call once and fails the
// benchmark on anything but 200.
func restCaller(b *testing.B, c *http.Client, base, method, path, body string) func() {
	url := base + path
	payload := []byte(body)
	return func() {
		var r io.Reader
		if body != "" {
			r = bytes.NewReader(payload)
		}
		req, err := http.NewRequest(method, url, r)
		if err != nil {
			b.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := c.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, err = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != http.StatusOK {
			b.Fatalf("%s %s: status %d, err %v", method, path, res.StatusCode, err)
		}
	}
}

//go:build unix

package e2e_test

import (
	"io"
	"net/http"
	"testing"
)

// compressedGateway is the child gateway of BenchmarkRESTCompression:
// sluice compressing every response a client lets it (zstd, then gzip).
const compressedGateway = "sluice-compressed"

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// BenchmarkRESTCompression measures what response compression costs and
// saves, with the gateway in a child process as in BenchmarkRESTGatewayCPU:
// a unary call (ListBooks, about 1.4 KB of JSON) and a server stream
// (ExportBooks as NDJSON, flushed per message), each asked for without
// compression and with gzip and zstd. wire-B/op is the response body as
// it crossed the wire; gw-cpu-ns/op the gateway process's CPU per call.
// The client does not decode what it gets (its CPU is not the gateway's).
//
//	go test ./e2e -run '^$' -bench BenchmarkRESTCompression -benchtime 2000x
func BenchmarkRESTCompression(b *testing.B) {
	calls := []struct{ name, path, accept string }{
		{"ListBooks", "/v1/shelves/classics/books", ""},
		{"ExportBooks", "/v1/shelves/classics/books:export", "application/x-ndjson"},
	}
	for _, call := range calls {
		for _, enc := range []string{"identity", "gzip", "zstd"} {
			b.Run(call.name+"/"+enc, func(b *testing.B) {
				p := startGatewayProcess(b, compressedGateway, startDemo(b))
				c := newClient(b)
				var wire int64
				do := func() {
					req, err := http.NewRequest(http.MethodGet, p.base+call.path, nil)
					if err != nil {
						b.Fatal(err)
					}
					req.Header.Set("Accept-Encoding", enc)
					if call.accept != "" {
						req.Header.Set("Accept", call.accept)
					}
					res, err := c.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					cr := &countingReader{r: res.Body}
					_, err = io.Copy(io.Discard, cr)
					res.Body.Close()
					if err != nil || res.StatusCode != http.StatusOK {
						b.Fatalf("%s: status %d, err %v", call.path, res.StatusCode, err)
					}
					if got := res.Header.Get("Content-Encoding"); (enc == "identity") != (got == "") {
						b.Fatalf("%s: Content-Encoding %q for Accept-Encoding %s", call.path, got, enc)
					}
					wire += cr.n
				}
				do()
				wire = 0
				before := p.usage(b)
				b.ResetTimer()
				n := 0
				for b.Loop() {
					do()
					n++
				}
				b.StopTimer()
				after := p.usage(b)
				b.ReportMetric(float64(wire)/float64(n), "wire-B/op")
				b.ReportMetric(float64(after.cpu-before.cpu)/float64(n), "gw-cpu-ns/op")
			})
		}
	}
}

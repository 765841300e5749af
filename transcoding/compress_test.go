package transcoding_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/sluice-dev/sluice/transcoding"
)

// rawClient does not decode responses itself, so the test sees the
// encoding on the wire.
func rawClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DisableCompression: true}, Timeout: 20 * time.Second}
}

func decode(t *testing.T, encoding string, r io.Reader) io.Reader {
	t.Helper()
	switch encoding {
	case "gzip":
		gz, err := gzip.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		return gz
	case "zstd":
		zd, err := zstd.NewReader(r)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(zd.Close)
		return zd
	}
	return r
}

func TestCompressionUnary(t *testing.T) {
	e := newEnv(t, transcoding.WithCompression(64, "zstd", "gzip"))
	e.client = rawClient()
	plain := e.do(t, "GET", "/v1/shelves/classics/books", "")
	if plain.code != 200 || plain.header.Get("Content-Encoding") != "" || plain.header.Get("Vary") != "Accept-Encoding" {
		t.Fatalf("uncompressed: %d %v", plain.code, plain.header)
	}
	for _, tc := range []struct{ accept, want string }{
		{"gzip", "gzip"},
		{"zstd", "zstd"},
		{"gzip, zstd", "zstd"},
		{"zstd;q=0, gzip", "gzip"},
		{"*", "zstd"},
		{"br", ""},
	} {
		got := e.do(t, "GET", "/v1/shelves/classics/books", "", "Accept-Encoding", tc.accept)
		if got.code != 200 || got.header.Get("Content-Encoding") != tc.want {
			t.Errorf("Accept-Encoding %q: %d, Content-Encoding %q, want %q", tc.accept, got.code, got.header.Get("Content-Encoding"), tc.want)
			continue
		}
		body, err := io.ReadAll(decode(t, tc.want, bytes.NewReader(got.raw)))
		if err != nil || !bytes.Equal(body, plain.raw) {
			t.Errorf("Accept-Encoding %q: decoded %q (%v), want %q", tc.accept, body, err, plain.raw)
		}
	}
}

func TestCompressionThreshold(t *testing.T) {
	e := newEnv(t, transcoding.WithCompression(1<<20, "gzip"))
	e.client = rawClient()
	got := e.do(t, "GET", "/v1/shelves/classics/books", "", "Accept-Encoding", "gzip")
	if got.code != 200 || got.header.Get("Content-Encoding") != "" || got.json == nil || got.header.Get("Vary") != "Accept-Encoding" {
		t.Errorf("under the threshold: %d %v %q", got.code, got.header, got.raw)
	}
}

// TestCompressionStreamsPerMessage checks that a compressed stream
// delivers each message when it is sent: the client reads the first event
// of a watch before the change that makes the second one happens.
func TestCompressionStreamsPerMessage(t *testing.T) {
	e := newEnv(t, transcoding.WithCompression(1<<20, "gzip", "zstd"))
	raw := rawClient()
	for _, enc := range []string{"gzip", "zstd"} {
		for _, accept := range []string{"application/x-ndjson", "text/event-stream", "application/json"} {
			t.Run(enc+"/"+accept, func(t *testing.T) {
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"/v1/shelves/classics:watch", nil)
				req.Header.Set("Accept", accept)
				req.Header.Set("Accept-Encoding", enc)
				res, err := raw.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer res.Body.Close()
				if res.Header.Get("Content-Encoding") != enc {
					t.Fatalf("Content-Encoding %q", res.Header.Get("Content-Encoding"))
				}
				lines := bufio.NewReader(decode(t, enc, res.Body))
				for i := range 2 {
					title := fmt.Sprintf("Compressed %s %s %d", enc, accept, i)
					if r := e.do(t, "POST", "/v1/shelves/classics/books", `{"title":"`+title+`"}`); r.code != 200 {
						t.Fatalf("create: %d %s", r.code, r.raw)
					}
					for {
						line, err := lines.ReadString('\n')
						if err != nil {
							t.Fatalf("message %d: %v", i, err)
						}
						if strings.Contains(line, title) {
							break
						}
					}
				}
			})
		}
	}
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCompressedRequestBodies(t *testing.T) {
	e := newEnv(t)
	body := []byte(`{"title":"Squeezed","author":"Z"}`)
	zb, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	zbody := zb.EncodeAll(body, nil)
	_ = zb.Close()
	for _, tc := range []struct {
		encoding string
		body     []byte
		code     int
	}{
		{"gzip", gzipBytes(t, body), 200},
		{"zstd", zbody, 200},
		{"identity", body, 200},
		{"br", body, 415},
		{"gzip", body, 400}, // not gzip
	} {
		req, _ := http.NewRequest("POST", e.base+"/v1/shelves/classics/books", bytes.NewReader(tc.body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", tc.encoding)
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.encoding, res.StatusCode, got, tc.code)
			continue
		}
		if tc.code == 200 && !bytes.Contains(got, []byte(`"Squeezed"`)) {
			t.Errorf("%s: %s", tc.encoding, got)
		}
	}
	// A streamed body too: an import of two gzipped NDJSON messages.
	req, _ := http.NewRequest("POST", e.base+"/v1/books:import", bytes.NewReader(gzipBytes(t,
		[]byte(`{"parent":"shelves/classics","book":{"title":"G1"}}`+"\n"+`{"book":{"title":"G2"}}`+"\n"))))
	req.Header.Set("Content-Encoding", "gzip")
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var summary map[string]any
	_ = json.Unmarshal(got, &summary)
	if res.StatusCode != 200 || summary["importedCount"] != float64(2) {
		t.Errorf("gzipped import: %d %s", res.StatusCode, got)
	}
}

// TestGzipBomb sends a 4 MiB gzip body that expands to 4 GiB: it is
// refused with 413 once the decompressed bytes cross the body limit, and
// the gateway allocates nowhere near what it expands to.
func TestGzipBomb(t *testing.T) {
	const limit = 8 << 20
	e := newEnv(t, transcoding.WithMaxBodyBytes(limit), transcoding.WithMaxBufferedBytes(4*limit))
	member := gzipBytes(t, make([]byte, 64<<20)) // 64 MiB of zeros
	bomb := bytes.Repeat(member, 64)             // gzip members concatenate: 4 GiB
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	req, _ := http.NewRequest("POST", e.base+"/v1/shelves/classics/books", bytes.NewReader(bomb))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	runtime.ReadMemStats(&after)
	if res.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("bomb: %d %s, want 413", res.StatusCode, got)
	}
	// Everything the process allocated while serving it (the client's
	// side included): a few times the limit, not gigabytes.
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 256<<20 {
		t.Errorf("serving the bomb allocated %d MiB", alloc>>20)
	}
	if n := e.rest.BufferedBytes(); n != 0 {
		t.Errorf("%d bytes still held in the budget", n)
	}
}

// TestCompressionTrailers checks that a unary response for a client that
// reads trailers, compressed whatever its length, keeps its trailers
// trailers.
func TestCompressionTrailers(t *testing.T) {
	e := newEnv(t, transcoding.WithCompression(1<<20, "gzip"))
	req, _ := http.NewRequest("GET", e.base+"/v1/shelves/classics", nil)
	req.Header.Set("Accept-Encoding", "gzip")
	req.Header.Set("TE", "trailers")
	req.Header.Set("Grpc-Metadata-X-Echo-Color", "blue")
	res, err := rawClient().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(decode(t, "gzip", res.Body))
	if res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "gzip" || err != nil || !bytes.Contains(body, []byte(`"shelves/classics"`)) {
		t.Fatalf("%d %v %q: %v", res.StatusCode, res.Header, body, err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	if res.Header.Get("Grpc-Trailer-X-Echo-Color-Trailer") != "" || res.Trailer.Get("Grpc-Trailer-X-Echo-Color-Trailer") != "blue" {
		t.Errorf("headers %v, trailers %v: want the echoed trailer as a trailer only", res.Header, res.Trailer)
	}
}

// TestCompressedBodyBudget: a compressed body's length is unknown until it
// is decompressed, and the buffer it is read into never grows past the
// body limit, so a body under the limit passes even when the budget is
// the limit itself (it grew to 1.5 times its size and was refused with
// 429 before), and one over it is 413, not 429.
func TestCompressedBodyBudget(t *testing.T) {
	const limit = 1 << 20
	e := newEnv(t, transcoding.WithMaxBodyBytes(limit), transcoding.WithMaxBufferedBytes(limit))
	for _, tc := range []struct {
		pad  int
		code int
	}{{900 << 10, 200}, {limit - 64, 200}, {limit + 1, 413}, {3 * limit / 2, 413}} {
		body := gzipBytes(t, []byte(`{"title":"Padded"`+strings.Repeat(" ", tc.pad)+`}`))
		req, _ := http.NewRequest("POST", e.base+"/v1/shelves/classics/books", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Content-Encoding", "gzip")
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.code {
			t.Errorf("%d bytes decompressed: %d %s, want %d", tc.pad, res.StatusCode, got, tc.code)
		}
	}
	if n := e.rest.BufferedBytes(); n != 0 {
		t.Errorf("%d bytes still held in the budget", n)
	}
}

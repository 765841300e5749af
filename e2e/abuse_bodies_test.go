package e2e_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// gzipBomb returns size zero bytes (a multiple of 1 MiB) gzip-compressed,
// about 1 KiB per MiB: one gzip member of 1 MiB of zeros repeated, which
// is a valid gzip stream (RFC 1952 allows members back to back) and
// costs nothing to build.
func gzipBomb(t *testing.T, size int) []byte {
	t.Helper()
	var member bytes.Buffer
	zw, err := gzip.NewWriterLevel(&member, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.Repeat(member.Bytes(), size>>20)
}

// TestAbuseGzipBomb sends a gRPC message compressed with gzip that
// expands far past the maximum message size (4 MiB) and checks that it is
// refused with RESOURCE_EXHAUSTED without reaching the upstream and
// without the gateway holding the expanded bytes; then the same as a REST
// body with Content-Encoding: gzip, which the transcoder does not
// decompress.
func TestAbuseGzipBomb(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startAbuseGateway(t, abuseOptions{})
	size := abuseCount(64<<20, 1<<30)
	bomb := gzipBomb(t, size)
	t.Logf("%d bytes of gzip expand to %d", len(bomb), size)

	t.Run("grpc", func(t *testing.T) {
		before := heapInuse()
		h := dialH2(t, g.addr)
		id := newTestID("gzip")
		sid, err := h.open(false, grpcHeaders(g.addr, svcPrefix+"GetShelf", "grpc-encoding", "gzip", testIDKey, id)...)
		if err != nil {
			t.Fatal(err)
		}
		_ = h.data(sid, grpcMessage(true, bomb), true) // the server may refuse before reading it all
		r, ok := h.wait(sid)
		if !ok {
			t.Fatal("the call did not end")
		}
		if r.grpcStatus != "8" {
			t.Errorf("a gzip bomb: %v, want grpc-status 8 (RESOURCE_EXHAUSTED)", r)
		}
		if seen := g.rec.seen(id); len(seen) > 0 {
			t.Errorf("a gzip bomb reached the upstream")
		}
		checkHeapGrowth(t, "gzip bomb", before, 32<<20)
		g.healthy(t)
	})

	t.Run("rest", func(t *testing.T) {
		before := heapInuse()
		for proto, c := range httpClients(t, "") {
			id := newTestID("gzip")
			ctx, cancel := context.WithTimeout(context.Background(), abuseWait)
			req, err := http.NewRequestWithContext(ctx, "POST", g.base+"/v1/shelves", bytes.NewReader(bomb))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Content-Encoding", "gzip")
			req.Header.Set("X-Api-Key", apiKeyCI)
			req.Header.Set("Grpc-Metadata-"+testIDKey, id)
			resp, err := c.Do(req)
			if err != nil {
				cancel()
				t.Fatalf("%s: %v", proto, err)
			}
			_ = resp.Body.Close()
			cancel()
			if resp.StatusCode/100 != 4 {
				t.Errorf("%s: a gzip-encoded body: HTTP %d, want a 4xx", proto, resp.StatusCode)
			}
			if seen := g.rec.seen(id); len(seen) > 0 {
				t.Errorf("%s: a gzip-encoded body reached the upstream", proto)
			}
			t.Logf("%s: HTTP %d", proto, resp.StatusCode)
		}
		checkHeapGrowth(t, "gzip-encoded REST body", before, 32<<20)
		g.healthy(t)
	})
}

// TestAbuseDeepJSON sends JSON bodies nested 100,000 deep, as arrays and
// as objects, in a field and at the top, and checks that each gets 400
// (INVALID_ARGUMENT) before reaching the upstream, with a bounded heap.
func TestAbuseDeepJSON(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	g := startAbuseGateway(t, abuseOptions{})
	const depth = 100000
	bodies := map[string]string{
		"arrays in a field":  `{"shelf":{"displayName":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}}`,
		"objects in a field": `{"shelf":{"displayName":` + strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth) + `}}`,
		"arrays at the top":  strings.Repeat("[", depth) + strings.Repeat("]", depth),
		"unterminated":       `{"shelf":` + strings.Repeat(`{"a":[`, depth),
		"unknown field":      `{"shelf":{"displayName":"x"},"junk":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`,
	}
	before := heapInuse()
	clients := httpClients(t, "")
	for name, body := range bodies {
		for proto, c := range clients {
			t.Run(name+"/"+proto, func(t *testing.T) {
				id := newTestID("deep")
				code, resp, _ := restCall(t, c, "POST", g.base+"/v1/shelves", body, "application/json", id, http.Header{"X-Api-Key": {apiKeyCI}})
				if code != http.StatusBadRequest {
					t.Errorf("%d %.200s, want 400", code, resp)
				}
				if len(g.rec.seen(id)) > 0 {
					t.Error("the body reached the upstream")
				}
			})
		}
	}
	checkHeapGrowth(t, "deep JSON", before, 32<<20)
	g.healthy(t)
}

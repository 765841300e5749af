package flowtest_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"google.golang.org/grpc/codes"
	"io"
	"net/http"
	"testing"
	"time"
)

// TestCompressedBombRefused: a small gzip message that inflates far past
// the gateway's 4 MiB receive limit is refused with RESOURCE_EXHAUSTED,
// and the gateway's heap grows by about the limit, not the inflated size.
// grpc-go inflates through a reader capped at the limit plus one byte.
func TestCompressedBombRefused(t *testing.T) {
	inflated := int64(64 << 20)
	if long() {
		inflated = 1 << 30
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		t.Fatal(err)
	}
	zeros := make([]byte, 1<<20)
	for range inflated >> 20 {
		_, _ = zw.Write(zeros)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	// One gRPC message: compressed flag, length, payload.
	body := make([]byte, 5, 5+gz.Len())
	body[0] = 1
	binary.BigEndian.PutUint32(body[1:], uint32(gz.Len()))
	body = append(body, gz.Bytes()...)

	up := startUpstream(t)
	gw := startGatewayProc(t, up.addr)
	// Cleartext HTTP/2 (h2c) with prior knowledge, as gRPC clients speak it.
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	t.Cleanup(tr.CloseIdleConnections)
	base, _ := gw.ask(t, "base")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+gw.addr+"/flow.Test/Upload", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("TE", "trailers")
	req.Header.Set("Grpc-Encoding", "gzip")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	code := resp.Trailer.Get("Grpc-Status")
	if code == "" {
		code = resp.Header.Get("Grpc-Status") // trailers-only response
	}
	msg := resp.Trailer.Get("Grpc-Message") + resp.Header.Get("Grpc-Message")
	peak, _ := gw.ask(t, "peak")
	t.Logf("%s of gzip inflating to %s: grpc-status %s %q; gateway heap base %s, peak %s (+%s)",
		mib(int64(gz.Len())), mib(inflated), code, msg, mib(base), mib(peak), mib(peak-base))
	if want := "8"; code != want {
		t.Errorf("grpc-status = %q, want %s (%v)", code, want, codes.ResourceExhausted)
	}
	if up.received.Load() != 0 {
		t.Errorf("upstream received %d messages, want none", up.received.Load())
	}
	// The limit (4 MiB) plus the compressed message and decoder state;
	// far below the inflated size.
	if growth := peak - base; growth > 16<<20 {
		t.Errorf("gateway heap grew by %s while refusing the bomb, want at most 16MiB", mib(growth))
	}
}

package main

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// WebSocket and compression through a real sluice serve: a bidirectional
// call from an origin cors allows (through the CORS handler and the front
// door, which must let the connection be taken over), a refused origin,
// and the default response compression.
func TestServeWebSocketAndCompression(t *testing.T) {
	t.Parallel()
	upstream := startDemoUpstream(t)
	descriptors, err := filepath.Abs("../../gen/descriptors/demo.binpb")
	if err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, fmt.Sprintf(`listen: 127.0.0.1:0
admin: "off"
descriptor_sets: [%q]
upstreams:
  - name: demo
    target: %q
    methods: ["sluice.demo.library.v1.*"]
cors:
  allowed_origins: ["https://app.example"]
`, descriptors, upstream))
	p := startSluice(t, "serve", "--config", cfg)
	addr := p.waitLog(t, "gateway listening", "addr")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	dial := func(origin string) (*websocket.Conn, *http.Response, error) {
		return websocket.Dial(ctx, "ws://"+addr+"/v1/books:discuss", &websocket.DialOptions{
			HTTPHeader: http.Header{"Origin": {origin}},
			HTTPClient: &http.Client{Transport: &http.Transport{}},
		})
	}
	c, _, err := dial("https://app.example")
	if err != nil {
		t.Fatalf("allowed origin: %v", err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"name":"shelves/classics/books/moby-dick","text":"hi"}`)); err != nil {
		t.Fatal(err)
	}
	_, msg, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(msg), `"speaker":"librarian"`) {
		t.Fatalf("answer %s: %v", msg, err)
	}
	_ = c.Write(ctx, websocket.MessageText, nil)
	_, final, err := c.Read(ctx)
	if err != nil || !strings.Contains(string(final), `"code":0`) {
		t.Errorf("final status %s: %v", final, err)
	}
	_, _, err = c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
		t.Errorf("close: %v", err)
	}

	if _, res, err := dial("https://evil.example"); err == nil || res == nil || res.StatusCode != http.StatusForbidden {
		t.Errorf("refused origin: %v %v", res, err)
	}

	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+"/v1/shelves/classics/books", nil)
	req.Header.Set("Accept-Encoding", "zstd, gzip")
	res, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.Header.Get("Content-Encoding") != "zstd" || res.Header.Get("Vary") == "" {
		t.Errorf("compression by default: %v", res.Header)
	}
}

package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
)

// The browser protocols through a real sluice serve: a gRPC-Web call and
// a REST call from an allowed origin pass one CORS policy, their
// preflights are answered by the gateway (no call reaches the chain, so
// none is logged, and none reaches an upstream), and a POST on a method's
// path with a content type no protocol speaks is 415.
func TestServeBrowserProtocols(t *testing.T) {
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
	base := "http://" + p.waitLog(t, "gateway listening", "addr")
	const method = "/sluice.demo.library.v1.LibraryService/GetShelf"

	for _, path := range []string{method, "/v1/shelves"} {
		req, _ := http.NewRequest(http.MethodOptions, base+path, nil)
		req.Header.Set("Origin", "https://app.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type, x-grpc-web, x-user-agent, grpc-timeout")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
			!strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "x-grpc-web") {
			t.Errorf("preflight of %s: %d %v", path, resp.StatusCode, resp.Header)
		}
	}

	in, _ := proto.Marshal(&libraryv1.GetShelfRequest{Name: "shelves/scifi"})
	body := binary.BigEndian.AppendUint32([]byte{0}, uint32(len(in)))
	req, _ := http.NewRequest(http.MethodPost, base+method, bytes.NewReader(append(body, in...)))
	req.Header.Set("Content-Type", "application/grpc-web+proto")
	req.Header.Set("Origin", "https://app.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Access-Control-Allow-Origin") != "https://app.example" || len(out) < 5 {
		t.Fatalf("gRPC-Web call: %d %v %q", resp.StatusCode, resp.Header, out)
	}
	var got libraryv1.GetShelfResponse
	n := binary.BigEndian.Uint32(out[1:5])
	if err := proto.Unmarshal(out[5:5+n], &got); err != nil || got.GetShelf().GetName() != "shelves/scifi" {
		t.Errorf("gRPC-Web response %v (%v): %q", &got, err, out)
	}
	if !bytes.Contains(out[5+n:], []byte("grpc-status: 0")) {
		t.Errorf("no OK status in the trailer frame: %q", out[5+n:])
	}

	req, _ = http.NewRequest(http.MethodPost, base+method, strings.NewReader("12345678"))
	req.Header.Set("Content-Type", "image/jpeg")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("image/jpeg on a method path: %d, want 415", resp.StatusCode)
	}
	// Plain text: a JSON body would be read as a Connect error by Connect
	// clients (connectrpc's conformance suite checks this).
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") || !bytes.Contains(body, []byte("image/jpeg")) ||
		!strings.Contains(resp.Header.Get("Accept-Post"), "application/connect+proto") || resp.Header.Get("Grpc-Status") != strconv.Itoa(int(codes.Unknown)) {
		t.Errorf("415: Content-Type %q, Accept-Post %q, Grpc-Status %q, body %q", ct, resp.Header.Get("Accept-Post"), resp.Header.Get("Grpc-Status"), body)
	}

	p.waitLog(t, "call", "method") // the gRPC-Web call, logged once it ended
	p.mu.Lock()
	defer p.mu.Unlock()
	calls := 0
	for _, l := range p.lines {
		if l["msg"] == "call" {
			calls++
			if l["protocol"] != "grpc-web" {
				t.Errorf("a call other than the gRPC-Web one reached the chain: %v", l)
			}
		}
	}
	if calls != 1 {
		t.Errorf("%d calls logged, want the gRPC-Web one alone", calls)
	}
}

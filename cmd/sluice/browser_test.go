package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
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

// The embedded demo from a browser: the API explorer is served on the
// admin port with its assets (nothing from a CDN), the OpenAPI document's
// servers entry names the port the gateway got, the document answers CORS
// (preflight too) for any origin, and so does the gateway, for a write
// with a bearer token from the explorer's origin. The banner points at
// /docs.
func TestServeDemoExplorer(t *testing.T) {
	t.Parallel()
	p := startSluice(t, "serve", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	addr := p.waitLog(t, "gateway listening", "addr")
	admin := "http://" + p.waitLog(t, "admin listening", "addr")
	waitHTTP(t, admin+"/readyz", http.StatusOK)

	get := func(url string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return resp, body
	}
	resp, page := get(admin + "/docs")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
		!bytes.Contains(page, []byte(`src="/docs/swagger-ui-bundle.js"`)) || !bytes.Contains(page, []byte(`data-url="/openapi.json"`)) ||
		!strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("GET /docs: %d %v\n%s", resp.StatusCode, resp.Header, page)
	}
	for _, asset := range []string{"/docs/swagger-ui-bundle.js", "/docs/swagger-ui.css", "/docs/init.js"} {
		if resp, body := get(admin + asset); resp.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("GET %s: %d, %d bytes", asset, resp.StatusCode, len(body))
		}
	}

	const origin = "https://anywhere.example"
	resp, body := get(admin+"/openapi.json", "Origin", origin)
	var doc struct {
		Servers []struct{ URL string } `json:"servers"`
	}
	if err := json.Unmarshal(body, &doc); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /openapi.json: %d %v %.200s", resp.StatusCode, err, body)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("/openapi.json Access-Control-Allow-Origin = %q, want *", got)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "http://"+addr {
		t.Errorf("servers = %+v, want the gateway's address http://%s", doc.Servers, addr)
	}

	preflight := func(url, method, headers string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodOptions, url, nil)
		req.Header.Set("Origin", admin)
		req.Header.Set("Access-Control-Request-Method", method)
		if headers != "" {
			req.Header.Set("Access-Control-Request-Headers", headers)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		return resp
	}
	if resp := preflight(admin+"/openapi.json", "GET", "if-none-match"); resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("preflight of /openapi.json: %d %v", resp.StatusCode, resp.Header)
	}
	if resp := preflight("http://"+addr+"/v1/shelves", "POST", "authorization, content-type"); resp.StatusCode != http.StatusNoContent ||
		resp.Header.Get("Access-Control-Allow-Origin") != "*" || !strings.Contains(resp.Header.Get("Access-Control-Allow-Headers"), "authorization") ||
		resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("preflight of the demo's CreateShelf: %d %v", resp.StatusCode, resp.Header)
	}
	p.mu.Lock()
	banner := p.stdout.String()
	p.mu.Unlock()
	if !strings.Contains(banner, "/docs is the API explorer") {
		t.Errorf("the demo's banner does not point at /docs:\n%s", banner)
	}
}

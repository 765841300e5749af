package frontdoor_test

import (
	"bytes"
	"io"
	"net/http"
	"testing"
)

func TestGRPCReachesGRPCServer(t *testing.T) {
	t.Parallel()
	clear := startHarness(t, harnessOptions{})
	secure := startHarness(t, harnessOptions{tls: true})
	tests := []struct {
		name     string
		h        *harness
		withCert bool
		want     map[string]string // response header -> value; "" means absent
	}{
		{"insecure", clear, false, map[string]string{"x-auth-type": "none", "x-peer-cn": ""}},
		{"tls", secure, false, map[string]string{"x-auth-type": "tls", "x-security-level": "PrivacyAndIntegrity", "x-peer-cn": ""}},
		{"mtls", secure, true, map[string]string{"x-auth-type": "tls", "x-security-level": "PrivacyAndIntegrity", "x-peer-cn": "client-1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			md := tt.h.grpcCheck(t, tt.withCert)
			for k, want := range tt.want {
				var got string
				if v := md.Get(k); len(v) > 0 {
					got = v[0]
				}
				if got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}
		})
	}
}

func TestHTTPReachesHandler(t *testing.T) {
	t.Parallel()
	clear := startHarness(t, harnessOptions{})
	secure := startHarness(t, harnessOptions{tls: true})
	tests := []struct {
		name        string
		h           *harness
		mode        httpMode
		withCert    bool
		contentType string
		wantProto   string
		wantTLS     string
		wantPeerCN  string
	}{
		{name: "modeHTTP1", h: clear, mode: modeHTTP1, wantProto: "1", wantTLS: "false"},
		{name: "h2c", h: clear, mode: modeHTTP2, wantProto: "2", wantTLS: "false"},
		{name: "modeHTTP1/tls", h: secure, mode: modeHTTP1, wantProto: "1", wantTLS: "true"},
		{name: "h2/tls", h: secure, mode: modeHTTP2, wantProto: "2", wantTLS: "true"},
		{name: "modeHTTP1/mtls", h: secure, mode: modeHTTP1, withCert: true, wantProto: "1", wantTLS: "true", wantPeerCN: "client-1"},
		{name: "h2/mtls", h: secure, mode: modeHTTP2, withCert: true, wantProto: "2", wantTLS: "true", wantPeerCN: "client-1"},
		// gRPC-Web is for the HTTP side even though it starts like gRPC.
		{name: "h2c/grpc-web", h: clear, mode: modeHTTP2, contentType: "application/grpc-web+proto", wantProto: "2", wantTLS: "false"},
		{name: "h2/tls/grpc-web-text", h: secure, mode: modeHTTP2, contentType: "application/grpc-web-text", wantProto: "2", wantTLS: "true"},
		// Over HTTP/1 nothing is sniffed: native gRPC needs HTTP/2.
		{name: "modeHTTP1/grpc content type", h: clear, mode: modeHTTP1, contentType: "application/grpc", wantProto: "1", wantTLS: "false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodPost, tt.h.url("/v1/things"), bytes.NewReader([]byte("{}")))
			if err != nil {
				t.Fatal(err)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := tt.h.httpClient(t, tt.mode, tt.withCert).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != http.StatusOK || string(body) != "ok" {
				t.Fatalf("got %d %q, want 200 \"ok\"", resp.StatusCode, body)
			}
			got := map[string]string{
				"X-Handler":     resp.Header.Get("X-Handler"),
				"X-Proto-Major": resp.Header.Get("X-Proto-Major"),
				"X-TLS":         resp.Header.Get("X-TLS"),
				"X-Peer-CN":     resp.Header.Get("X-Peer-CN"),
			}
			want := map[string]string{
				"X-Handler":     "http",
				"X-Proto-Major": tt.wantProto,
				"X-TLS":         tt.wantTLS,
				"X-Peer-CN":     tt.wantPeerCN,
			}
			for k := range want {
				if got[k] != want[k] {
					t.Errorf("%s = %q, want %q", k, got[k], want[k])
				}
			}
		})
	}
}

// A plain HTTP/2 client sending application/grpc is native gRPC too: the
// door looks at the request, not at the client library.
func TestHTTP2ClientWithGRPCContentTypeReachesGRPCServer(t *testing.T) {
	t.Parallel()
	for _, withTLS := range []bool{false, true} {
		h := startHarness(t, harnessOptions{tls: withTLS})
		// An empty grpc.health.v1.HealthCheckRequest in gRPC framing.
		req, err := http.NewRequest(http.MethodPost, h.url("/grpc.health.v1.Health/Check"), bytes.NewReader([]byte{0, 0, 0, 0, 0}))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/grpc+proto")
		req.Header.Set("TE", "trailers")
		resp, err := h.httpClient(t, modeHTTP2, false).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.Header.Get("X-Handler") != "" {
			t.Fatalf("tls=%v: request reached the HTTP handler", withTLS)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/grpc+proto" && ct != "application/grpc" {
			t.Errorf("tls=%v: content-type = %q, want application/grpc", withTLS, ct)
		}
		if s := resp.Trailer.Get("Grpc-Status"); s != "0" {
			t.Errorf("tls=%v: grpc-status = %q, want 0", withTLS, s)
		}
		// SERVING (1) in field 1: a 5-byte prefix and 2 bytes of message.
		if want := []byte{0, 0, 0, 0, 2, 8, 1}; !bytes.Equal(body, want) {
			t.Errorf("tls=%v: body = %v, want %v", withTLS, body, want)
		}
	}
}

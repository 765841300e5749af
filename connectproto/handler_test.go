package connectproto_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/connectproto"
)

// connectError is Connect's JSON error, as a client reads it.
type connectError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details []struct {
		Type  string `json:"type"`
		Value string `json:"value"`
	} `json:"details"`
}

// endStream is the end-of-stream message, as a client reads it.
type endStream struct {
	Error    *connectError       `json:"error"`
	Metadata map[string][]string `json:"metadata"`
}

func decodeError(t testing.TB, b []byte) connectError {
	t.Helper()
	var e connectError
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("error body %q is not Connect's JSON error: %v", b, err)
	}
	return e
}

func decodeEnd(t testing.TB, b []byte) endStream {
	t.Helper()
	var e endStream
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("end-of-stream %q is not JSON: %v", b, err)
	}
	return e
}

// do sends req and returns the status, headers and whole body.
func do(t testing.TB, c *http.Client, req *http.Request) (int, http.Header, []byte) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func post(t testing.TB, url, ctype string, body io.Reader, hdr map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return req
}

func TestUnary(t *testing.T) {
	t.Parallel()
	h := startHarness(t, []connectproto.Option{connectproto.WithMaxMessageBytes(64 << 10)})
	unary := h.url + "/" + svc + "/Unary"
	get := func(q url.Values) *http.Request {
		req, err := http.NewRequest(http.MethodGet, unary+"?"+q.Encode(), nil)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	long := strings.Repeat("x", 8<<10)
	cases := []struct {
		name     string
		req      func() *http.Request
		status   int
		code     string // Connect error code; "" for success
		want     string // the echoed value, on success
		gzipResp bool
	}{
		{name: "proto", req: func() *http.Request {
			return post(t, unary, "application/proto", bytes.NewReader(wire(t, "hi")), nil)
		}, status: 200, want: "hi"},
		{name: "json with charset", req: func() *http.Request {
			return post(t, unary, "application/json; charset=utf-8", strings.NewReader(`"hi"`), nil)
		}, status: 200, want: "hi"},
		{name: "zero-length proto message", req: func() *http.Request {
			return post(t, unary, "application/proto", nil, nil)
		}, status: 200, want: ""},
		{name: "bad JSON", req: func() *http.Request {
			return post(t, unary, "application/json", strings.NewReader(`{"value":`), nil)
		}, status: 400, code: "invalid_argument"},
		{name: "empty JSON body", req: func() *http.Request {
			return post(t, unary, "application/json", nil, nil)
		}, status: 400, code: "invalid_argument"},
		{name: "gzip both ways", req: func() *http.Request {
			return post(t, unary, "application/proto", bytes.NewReader(gzipped(t, wire(t, long))),
				map[string]string{"Content-Encoding": "gzip", "Accept-Encoding": "gzip"})
		}, status: 200, want: long, gzipResp: true},
		{name: "unsupported compression", req: func() *http.Request {
			return post(t, unary, "application/proto", bytes.NewReader(wire(t, "hi")), map[string]string{"Content-Encoding": "br"})
		}, status: 501, code: "unimplemented"},
		{name: "message over the limit", req: func() *http.Request {
			return post(t, unary, "application/proto", bytes.NewReader(wire(t, strings.Repeat("y", 65<<10))), nil)
		}, status: 429, code: "resource_exhausted"},
		{name: "gzip bomb over the limit", req: func() *http.Request {
			return post(t, unary, "application/proto", bytes.NewReader(gzipped(t, wire(t, strings.Repeat("y", 1<<20)))),
				map[string]string{"Content-Encoding": "gzip"})
		}, status: 429, code: "resource_exhausted"},
		{name: "unsupported codec", req: func() *http.Request {
			return post(t, unary, "application/xml", strings.NewReader(`<x/>`), map[string]string{"Connect-Protocol-Version": "1"})
		}, status: 415},
		{name: "stream media type on a unary method", req: func() *http.Request {
			return post(t, unary, "application/connect+proto", bytes.NewReader(envelope(0, wire(t, "hi"))), nil)
		}, status: 415},
		{name: "protocol version 2", req: func() *http.Request {
			return post(t, unary, "application/proto", bytes.NewReader(wire(t, "hi")), map[string]string{"Connect-Protocol-Version": "2"})
		}, status: 400, code: "invalid_argument"},
		{name: "malformed timeout", req: func() *http.Request {
			return post(t, unary, "application/proto", bytes.NewReader(wire(t, "hi")), map[string]string{"Connect-Timeout-Ms": "12345678901"})
		}, status: 400, code: "invalid_argument"},
		{name: "timeout", req: func() *http.Request {
			return post(t, unary, "application/proto", bytes.NewReader(wire(t, "sleep:30s")), map[string]string{"Connect-Timeout-Ms": "100"})
		}, status: 504, code: "deadline_exceeded"},
		{name: "upstream error", req: func() *http.Request {
			return post(t, unary, "application/json", strings.NewReader(`"fail:7"`), nil)
		}, status: 403, code: "permission_denied"},
		{name: "unknown method", req: func() *http.Request {
			return post(t, h.url+"/"+svc+"/Nope", "application/proto", nil, map[string]string{"Connect-Protocol-Version": "1"})
		}, status: 404, code: "unimplemented"},
		{name: "GET proto base64", req: func() *http.Request {
			return get(url.Values{"encoding": {"proto"}, "base64": {"1"}, "connect": {"v1"},
				"message": {base64.RawURLEncoding.EncodeToString(wire(t, "got"))}})
		}, status: 200, want: "got"},
		{name: "GET JSON", req: func() *http.Request {
			return get(url.Values{"encoding": {"json"}, "message": {`"got json"`}})
		}, status: 200, want: "got json"},
		{name: "GET base64 and gzip", req: func() *http.Request {
			return get(url.Values{"encoding": {"proto"}, "base64": {"1"}, "compression": {"gzip"},
				"message": {base64.URLEncoding.EncodeToString(gzipped(t, wire(t, "zipped")))}})
		}, status: 200, want: "zipped"},
		{name: "GET without a message", req: func() *http.Request {
			return get(url.Values{"encoding": {"proto"}})
		}, status: 400, code: "invalid_argument"},
		{name: "GET with connect=v2", req: func() *http.Request {
			return get(url.Values{"encoding": {"json"}, "message": {`"x"`}, "connect": {"v2"}})
		}, status: 400, code: "invalid_argument"},
		{name: "GET on a method with side effects", req: func() *http.Request {
			req, err := http.NewRequest(http.MethodGet, h.url+"/"+svc+"/Write?encoding=json&message=%22x%22", nil)
			if err != nil {
				t.Fatal(err)
			}
			return req
		}, status: 405},
		{name: "DELETE", req: func() *http.Request {
			req, err := http.NewRequest(http.MethodDelete, unary, nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Connect-Protocol-Version", "1")
			return req
		}, status: 405},
		{name: "POST of another media type with Connect's header", req: func() *http.Request {
			return post(t, unary, "text/plain", strings.NewReader(`x`), map[string]string{"Connect-Protocol-Version": "1"})
		}, status: 415},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for tname, c := range h.transports() {
				status, hdr, body := do(t, c, tc.req())
				if status != tc.status {
					t.Fatalf("%s: HTTP %d, want %d; body %q", tname, status, tc.status, body)
				}
				if tc.status == 415 || tc.status == 405 {
					continue
				}
				if tc.code != "" {
					if e := decodeError(t, body); e.Code != tc.code {
						t.Errorf("%s: error %+v, want code %s", tname, e, tc.code)
					}
					continue
				}
				if gz := hdr.Get("Content-Encoding") == "gzip"; gz != tc.gzipResp {
					t.Errorf("%s: response gzipped %v, want %v", tname, gz, tc.gzipResp)
				} else if gz {
					body = gunzip(t, body)
				}
				got := ""
				if strings.HasPrefix(hdr.Get("Content-Type"), "application/json") {
					if err := json.Unmarshal(body, &got); err != nil {
						t.Fatalf("%s: body %q: %v", tname, body, err)
					}
				} else {
					got = stringOf(t, body)
				}
				if got != tc.want {
					t.Errorf("%s: echoed %.30q, want %.30q", tname, got, tc.want)
				}
			}
		})
	}
	t.Run("GET on a method with side effects names POST", func(t *testing.T) {
		t.Parallel()
		req, _ := http.NewRequest(http.MethodGet, h.url+"/"+svc+"/Write?encoding=json&message=%22x%22", nil)
		_, hdr, _ := do(t, h.h1, req)
		if got := hdr.Get("Allow"); got != "POST" {
			t.Errorf("Allow: %q, want POST", got)
		}
	})
	t.Run("not Connect goes to the next handler", func(t *testing.T) {
		t.Parallel()
		for _, req := range []*http.Request{
			post(t, h.url+"/v1/things", "application/json", strings.NewReader(`{}`), nil),
			post(t, unary, "application/grpc-web+proto", strings.NewReader(`x`), nil),
			post(t, unary, "text/plain", strings.NewReader(`x`), nil),
		} {
			status, hdr, _ := do(t, h.h1, req)
			if status != http.StatusTeapot || hdr.Get(nextHeader) != "1" {
				t.Errorf("%s %s: HTTP %d, want the next handler's 418", req.Method, req.URL.Path, status)
			}
		}
	})
	t.Run("deadline reaches the upstream", func(t *testing.T) {
		t.Parallel()
		status, _, body := do(t, h.h1, post(t, unary, "application/proto", bytes.NewReader(wire(t, "deadline-probe")),
			map[string]string{"Connect-Timeout-Ms": "60000"}))
		if status != 200 {
			t.Fatalf("HTTP %d: %s", status, body)
		}
		found := false
		for _, c := range h.echo.Calls() {
			if c.Deadline > 0 && c.Deadline <= time.Minute {
				found = true
			}
		}
		if !found {
			t.Errorf("no upstream call had the 60s deadline: %+v", h.echo.Calls())
		}
	})
}

// streamCall posts a streaming request and returns the response.
func streamCall(t testing.TB, c *http.Client, url string, body io.Reader, hdr map[string]string) (*http.Response, error) {
	t.Helper()
	return c.Do(post(t, url, "application/connect+proto", body, hdr))
}

// refuse is a policy that refuses calls carrying x-refuse before they
// read anything, as authorization does.
func refuse(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	if md, _ := metadata.FromIncomingContext(ss.Context()); len(md.Get("x-refuse")) > 0 {
		return status.Error(codes.PermissionDenied, "refused")
	}
	return handler(srv, ss)
}

func TestStreams(t *testing.T) {
	t.Parallel()
	h := startHarness(t, []connectproto.Option{connectproto.WithMaxMessageBytes(64 << 10)}, refuse)
	method := func(m string) string { return h.url + "/" + svc + "/" + m }

	run := func(t *testing.T, c *http.Client, m string, body io.Reader, hdr map[string]string) ([]string, endStream) {
		t.Helper()
		resp, err := streamCall(t, c, method(m), body, hdr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/connect+proto" {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("HTTP %d %s, want 200 application/connect+proto; body %q", resp.StatusCode, resp.Header.Get("Content-Type"), b)
		}
		msgs, end := readEnvelopes(t, resp.Body)
		var got []string
		for _, m := range msgs {
			got = append(got, stringOf(t, m))
		}
		return got, decodeEnd(t, end)
	}
	code := func(e endStream) string {
		if e.Error == nil {
			return ""
		}
		return e.Error.Code
	}

	t.Run("envelope split across reads", func(t *testing.T) {
		t.Parallel()
		for tname, c := range h.transports() {
			pr, pw := io.Pipe()
			go func() {
				// One byte per write: every read of the body ends inside
				// a prefix or a payload.
				all := append(envelope(0, wire(t, "split")), envelope(0, wire(t, "again"))...)
				for i := range all {
					if _, err := pw.Write(all[i : i+1]); err != nil {
						return
					}
				}
				_ = pw.Close()
			}()
			got, end := run(t, c, "ClientStream", pr, nil)
			if strings.Join(got, "|") != "split,again" || end.Error != nil {
				t.Errorf("%s: got %q, end %+v; want split,again and success", tname, got, end)
			}
		}
	})
	t.Run("zero-length message", func(t *testing.T) {
		t.Parallel()
		body := append(envelope(0, nil), envelope(0, wire(t, "x"))...)
		got, end := run(t, h.h2c, "ClientStream", bytes.NewReader(body), nil)
		if strings.Join(got, "|") != ",x" || end.Error != nil {
			t.Errorf("got %q, end %+v; want \",x\" and success", got, end)
		}
	})
	t.Run("oversized length prefix", func(t *testing.T) {
		t.Parallel()
		body := []byte{0, 0xff, 0xff, 0xff, 0xff}
		_, end := run(t, h.h2c, "ClientStream", bytes.NewReader(body), nil)
		if code(end) != "resource_exhausted" {
			t.Errorf("end %+v, want resource_exhausted", end)
		}
	})
	t.Run("end-stream flag from the client", func(t *testing.T) {
		t.Parallel()
		body := append(envelope(0, wire(t, "a")), envelope(0x02, []byte("{}"))...)
		_, end := run(t, h.h2c, "ClientStream", bytes.NewReader(body), nil)
		if code(end) != "invalid_argument" {
			t.Errorf("end %+v, want invalid_argument", end)
		}
	})
	t.Run("envelope cut short", func(t *testing.T) {
		t.Parallel()
		body := envelope(0, wire(t, "abc"))
		_, end := run(t, h.h1, "ClientStream", bytes.NewReader(body[:len(body)-1]), nil)
		if code(end) != "invalid_argument" {
			t.Errorf("end %+v, want invalid_argument", end)
		}
	})
	t.Run("server stream with gzip both ways", func(t *testing.T) {
		t.Parallel()
		long := strings.Repeat("z", 4<<10)
		body := envelope(0x01, gzipped(t, wire(t, long)))
		resp, err := streamCall(t, h.h2c, method("Bidi"), bytes.NewReader(body),
			map[string]string{"Connect-Content-Encoding": "gzip", "Connect-Accept-Encoding": "gzip"})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.Header.Get("Connect-Content-Encoding") != "gzip" {
			t.Errorf("Connect-Content-Encoding %q, want gzip", resp.Header.Get("Connect-Content-Encoding"))
		}
		var prefix [5]byte
		if _, err := io.ReadFull(resp.Body, prefix[:]); err != nil {
			t.Fatal(err)
		}
		if prefix[0] != 0x01 {
			t.Errorf("first envelope flags %#x, want compressed", prefix[0])
		}
		msgs, end := readEnvelopes(t, io.MultiReader(bytes.NewReader(prefix[:]), resp.Body))
		if len(msgs) != 1 || stringOf(t, msgs[0]) != long || decodeEnd(t, end).Error != nil {
			t.Errorf("got %d messages, end %s; want the long one echoed and success", len(msgs), end)
		}
	})
	t.Run("compressed envelope without an encoding", func(t *testing.T) {
		t.Parallel()
		_, end := run(t, h.h2c, "ClientStream", bytes.NewReader(envelope(0x01, gzipped(t, wire(t, "a")))), nil)
		if code(end) == "" {
			t.Errorf("end %+v, want an error", end)
		}
	})
	t.Run("error before the first message", func(t *testing.T) {
		t.Parallel()
		got, end := run(t, h.h2c, "Bidi", bytes.NewReader(envelope(0, wire(t, "fail:5"))), map[string]string{"X-Echo": "v"})
		if len(got) != 0 || code(end) != "not_found" || len(end.Error.Details) != 1 || end.Error.Details[0].Type != "google.rpc.ErrorInfo" {
			t.Errorf("got %q, end %+v; want no message and not_found with an ErrorInfo", got, end)
		}
		if v := end.Metadata["X-Echo-T"]; len(v) != 1 || v[0] != "v" {
			t.Errorf("end metadata %v, want the upstream's trailer x-echo-t", end.Metadata)
		}
	})
	t.Run("error after the first message", func(t *testing.T) {
		t.Parallel()
		body := append(envelope(0, wire(t, "one")), envelope(0, wire(t, "fail:9"))...)
		got, end := run(t, h.h2c, "Bidi", bytes.NewReader(body), nil)
		if strings.Join(got, ",") != "one" || code(end) != "failed_precondition" {
			t.Errorf("got %q, end %+v; want one then failed_precondition", got, end)
		}
	})
	t.Run("server stream without its request", func(t *testing.T) {
		t.Parallel()
		for tname, c := range h.transports() {
			_, end := run(t, c, "ServerStream", bytes.NewReader(nil), nil)
			if code(end) != "unimplemented" {
				t.Errorf("%s: end %+v, want unimplemented", tname, end)
			}
		}
	})
	t.Run("server stream with two requests", func(t *testing.T) {
		t.Parallel()
		for tname, c := range h.transports() {
			body := append(envelope(0, wire(t, "count:1")), envelope(0, wire(t, "count:1"))...)
			_, end := run(t, c, "ServerStream", bytes.NewReader(body), nil)
			if code(end) != "unimplemented" {
				t.Errorf("%s: end %+v, want unimplemented", tname, end)
			}
		}
	})
	t.Run("HTTP/1.1 connection reused after streams", func(t *testing.T) {
		t.Parallel()
		// Streams that fail before reading their requests, then unary
		// calls, on one keep-alive connection: none may break the next.
		for range 3 {
			_, end := run(t, h.h1, "ServerStream", bytes.NewReader(envelope(0, wire(t, "count:2"))), nil)
			if end.Error != nil {
				t.Fatalf("server stream: %+v", end.Error)
			}
			_, end = run(t, h.h1, "ClientStream", bytes.NewReader(envelope(0, wire(t, "fail:10"))), nil)
			if code(end) != "aborted" {
				t.Fatalf("client stream: %+v, want aborted", end)
			}
			for _, m := range []string{"ServerStream", "ClientStream", "Bidi"} {
				_, end = run(t, h.h1, m, bytes.NewReader(envelope(0, wire(t, "unread"))), map[string]string{"X-Refuse": "1"})
				if code(end) != "permission_denied" {
					t.Fatalf("refused %s: %+v, want permission_denied", m, end)
				}
			}
			status, _, body := do(t, h.h1, post(t, method("Unary"), "application/proto", bytes.NewReader(wire(t, "after")), nil))
			if status != 200 || stringOf(t, body) != "after" {
				t.Fatalf("unary after streams: HTTP %d %q", status, body)
			}
		}
	})
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		got, end := run(t, h.h2c, "ServerStream", bytes.NewReader(envelope(0, wire(t, "sleep:30s"))), map[string]string{"Connect-Timeout-Ms": "100"})
		if len(got) != 0 || code(end) != "deadline_exceeded" {
			t.Errorf("got %q, end %+v; want deadline_exceeded", got, end)
		}
	})
	t.Run("unary media type on a streaming method", func(t *testing.T) {
		t.Parallel()
		status, _, _ := do(t, h.h1, post(t, method("Bidi"), "application/proto", bytes.NewReader(wire(t, "a")), nil))
		if status != http.StatusUnsupportedMediaType {
			t.Errorf("HTTP %d, want 415", status)
		}
	})
}

// The client going away ends the upstream call: a bidi stream whose
// client closes its connection after the first answer leaves no call
// running upstream.
func TestClientCloseCancelsUpstream(t *testing.T) {
	t.Parallel()
	for _, h2c := range []bool{false, true} {
		name := "http1"
		if h2c {
			name = "h2c"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			h := startHarness(t, nil)
			conns := make(chan net.Conn, 1)
			tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
				if err == nil {
					conns <- c
				}
				return c, err
			}}
			if h2c {
				var p http.Protocols
				p.SetUnencryptedHTTP2(true)
				tr.Protocols = &p
			}
			t.Cleanup(tr.CloseIdleConnections)
			c := &http.Client{Transport: tr}
			pr, pw := io.Pipe()
			defer pw.Close()
			req := post(t, h.url+"/"+svc+"/Bidi", "application/connect+proto", pr, nil)
			done := make(chan *http.Response, 1)
			go func() {
				resp, err := c.Do(req)
				if err != nil {
					done <- nil
					return
				}
				done <- resp
			}()
			if _, err := pw.Write(envelope(0, wire(t, "first"))); err != nil {
				t.Fatal(err)
			}
			var resp *http.Response
			select {
			case resp = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("no response headers")
			}
			if resp == nil {
				t.Fatal("request failed")
			}
			defer resp.Body.Close()
			var prefix [5]byte
			if _, err := io.ReadFull(resp.Body, prefix[:]); err != nil {
				t.Fatalf("first message: %v", err)
			}
			(<-conns).Close() // the client goes away
			deadline := time.Now().Add(20 * time.Second)
			for {
				ended := h.echo.Ended()
				if len(ended) == 1 {
					if !errors.Is(ended[0], context.Canceled) {
						t.Errorf("upstream call ended with %v, want Canceled", ended[0])
					}
					return
				}
				if time.Now().After(deadline) {
					t.Fatal("the upstream call is still running 20s after the client went away")
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

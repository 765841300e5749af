package transcoding_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/interceptors/concurrency"
	"github.com/sluice-dev/sluice/interceptors/deadline"
	"github.com/sluice-dev/sluice/interceptors/logging"
	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/server"
	"github.com/sluice-dev/sluice/transcoding"
)

// startPolicyREST serves REST for the demo API through logging and chain,
// in front of the demo upstream.
func startPolicyREST(t *testing.T, chain []grpc.StreamServerInterceptor, opts ...transcoding.Option) *env {
	t.Helper()
	gatewaytest.CheckLeaks(t)
	upAddr, _ := startDemo(t)
	routes := demoRoutes(t)
	all := append([]grpc.StreamServerInterceptor{logging.StreamServerInterceptor(slog.New(slog.DiscardHandler))}, chain...)
	gw := gatewaytest.NewGateway(t, gatewaytest.Route(upAddr, "sluice.demo.library.v1"), all...)
	rest, err := transcoding.NewREST(func() *transcoding.Routes { return routes }, gw.Dispatcher, opts...)
	if err != nil {
		t.Fatal(err)
	}
	gw.Start(t, server.WithHTTPHandler(rest))
	client := newClient()
	t.Cleanup(client.CloseIdleConnections)
	return &env{base: "http://" + gw.Addr, addr: gw.Addr, client: client, rest: rest}
}

// stalledPost opens an HTTP/1.1 connection and sends a POST to path
// announcing length bytes of body, then only sent of them. The caller
// reads the answer with readAnswer, or closes the connection.
func stalledPost(t *testing.T, addr, path string, length, sent int) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	body := `{"shelf":{"displayName":"` + strings.Repeat("x", max(length, sent))
	if _, err := fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		path, length, body[:sent]); err != nil {
		t.Fatal(err)
	}
	return conn
}

// readAnswer reads the response on conn, waiting at most wait, and
// returns its status and google.rpc.Status code.
func readAnswer(t *testing.T, conn net.Conn, wait time.Duration) (httpStatus int, code codes.Code) {
	t.Helper()
	_ = conn.SetReadDeadline(time.Now().Add(wait))
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer within %v: %v", wait, err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var st struct{ Code int }
	_ = json.Unmarshal(raw, &st)
	return res.StatusCode, codes.Code(st.Code)
}

// refuseAll is a policy that refuses every call on its headers.
func refuseAll(any, grpc.ServerStream, *grpc.StreamServerInfo, grpc.StreamHandler) error {
	return status.Error(codes.PermissionDenied, "refused")
}

// A call a policy refuses never reads its body: the refusal answers a
// client whose body has stalled, at once, with no read timeout to wait
// for. (Before, the body was read whole before any policy ran.)
func TestRESTPoliciesRunBeforeTheBody(t *testing.T) {
	e := startPolicyREST(t, []grpc.StreamServerInterceptor{refuseAll}, transcoding.WithBodyReadTimeout(0))
	conn := stalledPost(t, e.addr, "/v1/shelves", 4000, 10)
	if got, code := readAnswer(t, conn, 10*time.Second); got != http.StatusForbidden || code != codes.PermissionDenied {
		t.Fatalf("refused stalled call: %d %v, want 403 PERMISSION_DENIED", got, code)
	}
}

// A stalled unary body is given up after the body-read timeout: 408 with
// DEADLINE_EXCEEDED, and the connection is not kept.
func TestRESTBodyReadTimeout(t *testing.T) {
	e := startPolicyREST(t, nil, transcoding.WithBodyReadTimeout(200*time.Millisecond))
	conn := stalledPost(t, e.addr, "/v1/shelves", 4000, 10)
	if got, code := readAnswer(t, conn, 10*time.Second); got != http.StatusRequestTimeout || code != codes.DeadlineExceeded {
		t.Fatalf("stalled body: %d %v, want 408 DEADLINE_EXCEEDED", got, code)
	}
	// A normal call still works.
	if r := e.do(t, "POST", "/v1/shelves", `{"shelf":{"displayName":"Poetry"}}`); r.code != 200 {
		t.Fatalf("normal call after: %d %s", r.code, r.raw)
	}
}

// The call's deadline ends a body read in flight, over HTTP/1.1 and
// HTTP/2 alike.
func TestRESTDeadlineEndsBodyRead(t *testing.T) {
	d, err := deadline.New(deadline.WithLimits(deadline.Limits{Max: 300 * time.Millisecond}))
	if err != nil {
		t.Fatal(err)
	}
	e := startPolicyREST(t, []grpc.StreamServerInterceptor{d.StreamServerInterceptor()}, transcoding.WithBodyReadTimeout(0))
	conn := stalledPost(t, e.addr, "/v1/shelves", 4000, 10)
	if got, code := readAnswer(t, conn, 10*time.Second); got != http.StatusGatewayTimeout || code != codes.DeadlineExceeded {
		t.Fatalf("stalled body past the deadline: %d %v, want 504 DEADLINE_EXCEEDED", got, code)
	}

	// HTTP/2 (h2c): a request body that never ends.
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte(`{"shelf":`)) }()
	req, err := http.NewRequest("POST", e.base+"/v1/shelves", pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	tr := &http.Transport{Protocols: new(http.Protocols)}
	tr.Protocols.SetUnencryptedHTTP2(true)
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := (&http.Client{Transport: tr}).Do(req.WithContext(ctx))
	if err != nil {
		t.Fatalf("h2c stalled body: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("h2c stalled body past the deadline: %d, want 504", res.StatusCode)
	}
}

// A REST call counts against the concurrency limit from the moment its
// headers arrive: a call whose body is still coming holds the one slot,
// and the next call is refused.
func TestRESTCountedFromHeaders(t *testing.T) {
	lim, err := concurrency.New(concurrency.WithMaxInFlight(1))
	if err != nil {
		t.Fatal(err)
	}
	e := startPolicyREST(t, []grpc.StreamServerInterceptor{lim.StreamServerInterceptor()}, transcoding.WithBodyReadTimeout(0))
	conn := stalledPost(t, e.addr, "/v1/shelves", 4000, 10)
	waitFor(t, func() bool { return lim.InFlight() == 1 }, "the stalled call to take its slot")
	if r := e.do(t, "GET", "/v1/shelves", ""); r.code != http.StatusTooManyRequests {
		t.Fatalf("call while a stalled body holds the slot: %d %s, want 429", r.code, r.raw)
	}
	conn.Close()
	waitFor(t, func() bool { return lim.InFlight() == 0 }, "the stalled call to give its slot back")
	if r := e.do(t, "GET", "/v1/shelves", ""); r.code != 200 {
		t.Fatalf("call after: %d %s", r.code, r.raw)
	}
}

// The request bytes buffered across all calls stay within the budget: a
// body that would cross it is refused with 429 RESOURCE_EXHAUSTED, before
// it is read when Content-Length announces it, as soon as it would cross
// otherwise; once the bodies holding the budget are done, calls pass
// again.
func TestRESTBufferedBytesBudget(t *testing.T) {
	e := startPolicyREST(t, nil, transcoding.WithBodyReadTimeout(0),
		transcoding.WithMaxBodyBytes(64<<10), transcoding.WithMaxBufferedBytes(64<<10))
	hold := stalledPost(t, e.addr, "/v1/shelves", 60<<10, 100)
	// The stalled body holds its share before the others come (a call
	// that came first would hold it instead).
	waitFor(t, func() bool { return e.rest.BufferedBytes() >= 60<<10 }, "the stalled body to hold its share of the budget")
	// Unknown fields are dropped: the padding only makes the body large.
	small := `{"shelf":{"displayName":"Poetry"},"padding":"` + strings.Repeat("y", 10<<10) + `"}`
	waitFor(t, func() bool {
		return e.do(t, "POST", "/v1/shelves", small).code == http.StatusTooManyRequests
	}, "a body past the budget to be refused")
	r := e.do(t, "POST", "/v1/shelves", small)
	if r.code != http.StatusTooManyRequests || get(r.json, "code") != float64(codes.ResourceExhausted) {
		t.Fatalf("body past the budget: %d %s", r.code, r.raw)
	}
	// Without Content-Length, the body is refused as it grows past it.
	req, _ := http.NewRequest("POST", e.base+"/v1/shelves", struct{ io.Reader }{strings.NewReader(small)})
	req.Header.Set("Content-Type", "application/json")
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("chunked body past the budget: %d, want 429", res.StatusCode)
	}
	hold.Close()
	waitFor(t, func() bool { return e.rest.BufferedBytes() == 0 }, "the stalled body to give its share back")
	waitFor(t, func() bool { return e.do(t, "POST", "/v1/shelves", small).code == 200 }, "the budget to be given back")
}

// waitFor polls cond for up to 20 seconds.
func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

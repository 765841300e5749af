package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/keepalive"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/server"
)

// An idle HTTP/1.1 keep-alive connection is closed after the idle time,
// so that idle clients cannot hold the gateway's connections forever.
func TestHTTPIdleConnectionsClosed(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	gw := gatewaytest.NewGateway(t, nil)
	gw.Start(t, server.WithKeepalive(keepalive.ServerParameters{MaxConnectionIdle: 200 * time.Millisecond}, keepalive.EnforcementPolicy{}))
	conn, err := net.Dial("tcp", gw.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := fmt.Fprintf(conn, "GET /nothing HTTP/1.1\r\nHost: test\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("idle connection: read gave %v, want the gateway to close it (EOF)", err)
	}
}

package server_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/upstream"
)

// A call to an upstream the gateway cannot reach fails with UNAVAILABLE
// naming the upstream, never with grpc-go's dial error, which shows the
// upstream's address to the client.
func TestUpstreamAddressNotRevealed(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	// A loopback port with nothing behind it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := ln.Addr().String()
	ln.Close()
	for _, path := range forwardPaths {
		t.Run(path.name, func(t *testing.T) {
			ups := []upstream.Spec{{Name: "library", Target: dead, Methods: []string{"test"}}}
			gw := gatewaytest.NewGatewayWithProxy(t, ups, path.opts)
			gw.Start(t)
			cc := gatewaytest.Dial(t, gw.Addr)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, method := range []string{"/test.Echo/Get", "/test.Echo/Chat"} {
				_, _, err := gatewaytest.Call(ctx, cc, method, "hi")
				st := status.Convert(err)
				if st.Code() != codes.Unavailable {
					t.Fatalf("%s: %v, want UNAVAILABLE", method, err)
				}
				host, port, _ := net.SplitHostPort(dead)
				if msg := st.Message(); strings.Contains(msg, port) || strings.Contains(msg, host) || strings.Contains(msg, "dial") {
					t.Errorf("%s: message %q shows the upstream's address", method, msg)
				}
				if !strings.Contains(st.Message(), "library") {
					t.Errorf("%s: message %q does not name the upstream", method, st.Message())
				}
			}
		})
	}
}

package server_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
	"github.com/sluice-dev/sluice/server"
)

// serveHTTPFrontend serves srv through grpc.Server.ServeHTTP behind
// net/http's h2c server: the road not taken, measured for comparison with
// grpc-go's own transport, which the gateway uses.
func serveHTTPFrontend(b *testing.B, srv *grpc.Server) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: srv, Protocols: new(http.Protocols)}
	hs.Protocols.SetUnencryptedHTTP2(true)
	go func() { _ = hs.Serve(ln) }()
	b.Cleanup(func() { _ = hs.Close() })
	return ln.Addr().String()
}

// BenchmarkProxy compares calls made straight to an upstream with the same
// calls through the gateway, over loopback TCP, in one process (so
// allocs/op count client, gateway and upstream together; the difference
// between the two rows is the gateway's share).
//
//	go test ./server -run '^$' -bench BenchmarkProxy -benchmem -count 5
func BenchmarkProxy(b *testing.B) {
	up := gatewaytest.StartEcho(b)
	gw := gatewaytest.StartGateway(b, gatewaytest.Route(up.Addr, "test.Echo"))
	// With contracts the proxy knows which calls are unary and forwards
	// them through its unary path, as `sluice serve` does.
	withKinds := gatewaytest.NewGatewayWithProxy(b, gatewaytest.Route(up.Addr, "test.Echo"), []server.ProxyOption{
		server.WithMethodKinds(func(method string) (bool, bool, bool) {
			if method == "/test.Echo/Unary" {
				return false, false, true
			}
			return false, false, false
		})})
	withKinds.Start(b)
	targets := []struct {
		name string
		addr string
	}{
		{"direct", up.Addr}, {"sluice", gw.Addr}, {"sluice-contract", withKinds.Addr},
		{"sluice-servehttp", serveHTTPFrontend(b, gw.Gateway.GRPCServer())},
	}

	for _, tg := range targets {
		cc := gatewaytest.Dial(b, tg.addr)
		b.Run("unary/"+tg.name, func(b *testing.B) {
			ctx := context.Background()
			in, out := wrapperspb.String("hello, library"), new(wrapperspb.StringValue)
			b.ReportAllocs()
			for b.Loop() {
				if err := cc.Invoke(ctx, "/test.Echo/Unary", in, out); err != nil {
					b.Fatal(err)
				}
			}
		})
		// 64 KiB each way: were the gateway to copy frames, B/op would grow
		// by at least 128 KiB over the direct row; it stays within a few KiB.
		b.Run("unary64k/"+tg.name, func(b *testing.B) {
			ctx := context.Background()
			in, out := wrapperspb.String(strings.Repeat("x", 64<<10)), new(wrapperspb.StringValue)
			b.ReportAllocs()
			for b.Loop() {
				if err := cc.Invoke(ctx, "/test.Echo/Unary", in, out); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run("stream1000/"+tg.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				s, err := cc.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, "/test.Echo/ServerStream")
				if err != nil {
					b.Fatal(err)
				}
				if err := s.SendMsg(wrapperspb.String("count:1000")); err != nil {
					b.Fatal(err)
				}
				if err := s.CloseSend(); err != nil {
					b.Fatal(err)
				}
				m := new(wrapperspb.StringValue)
				n := 0
				for {
					err := s.RecvMsg(m)
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
					n++
				}
				if n != 1000 {
					b.Fatalf("got %d messages", n)
				}
			}
		})
	}
}

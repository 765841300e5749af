package grpcweb_test

import (
	"bytes"
	"net/http"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/sluice-dev/sluice/internal/gatewaytest"
)

// clients are the transports every gRPC-Web test runs over.
var clients = []struct {
	name string
	new  func() *http.Client
}{{"HTTP/1.1", h1Client}, {"h2c", h2cClient}}

func value(t testing.TB, b []byte) string {
	t.Helper()
	var v wrapperspb.StringValue
	if err := proto.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.GetValue()
}

func TestUnaryKeepAlive(t *testing.T) {
	gatewaytest.CheckLeaks(t)
	_, addr := startWeb(t)
	for _, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			client := c.new()
			defer client.CloseIdleConnections()
			for i := range 200 {
				resp := post(t, client, addr, "/test.Echo/Unary", "application/grpc-web+proto",
					bytes.NewReader(frameMsg(0, str(t, "ping"))), nil)
				if resp.status() != "0" || len(resp.messages) != 1 || value(t, resp.messages[0]) != "ping" {
					t.Fatalf("call %d: status %q, %d messages, trailers %v", i, resp.status(), len(resp.messages), resp.trailers)
				}
			}
		})
	}
}

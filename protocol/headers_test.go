package protocol_test

import (
	"testing"

	"github.com/sluice-dev/sluice/protocol"
)

func TestHopByHop(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]bool{
		"connection": true, "te": true, "trailer": true, "transfer-encoding": true, "upgrade": true,
		"host": true, "content-type": true, "content-length": true, "user-agent": true, "proxy-authorization": true,
		"authorization": false, "x-request-id": false, "grpc-trace-bin": false, "traceparent": false, "cookie": false, "": false,
	} {
		if got := protocol.HopByHop(key); got != want {
			t.Errorf("HopByHop(%q) = %v, want %v", key, got, want)
		}
	}
}

package frontdoor_test

import (
	"context"
	"net"
	"testing"

	"github.com/sluice-dev/sluice/server/frontdoor"
)

// The TLS door case is covered end to end in TestGRPCReachesGRPCServer;
// these are the refusals.
func TestTransportCredentialsRefuseWhatTheyCannotDo(t *testing.T) {
	t.Parallel()
	creds := frontdoor.TransportCredentials()
	if got := creds.Info().SecurityProtocol; got != "tls" {
		t.Errorf("SecurityProtocol = %q, want tls", got)
	}
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if _, _, err := creds.ServerHandshake(a); err == nil {
		t.Error("ServerHandshake on a cleartext conn succeeded")
	}
	if _, _, err := creds.Clone().ClientHandshake(context.Background(), "x", a); err == nil {
		t.Error("ClientHandshake succeeded")
	}
}

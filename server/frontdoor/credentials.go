package frontdoor

import (
	"context"
	"crypto/tls"
	"errors"
	"net"

	"google.golang.org/grpc/credentials"
)

// TransportCredentials returns server credentials for a grpc.Server fed by
// a door that terminates TLS (grpc.Creds(frontdoor.TransportCredentials())).
// They do no handshake of their own: ServerHandshake returns the connection
// as is, with a credentials.TLSInfo built from its TLS state, so that
// peer.FromContext exposes the negotiated TLS state, client certificates
// included, as grpc-go's own TLS credentials would. On a connection that
// did not come through a TLS door, ServerHandshake fails, so a door/server
// TLS mismatch is loud. The credentials cannot dial.
func TransportCredentials() credentials.TransportCredentials { return terminatedTLS{} }

type terminatedTLS struct{}

var _ credentials.TransportCredentials = terminatedTLS{}

type connectionStater interface {
	ConnectionState() tls.ConnectionState
}

func (terminatedTLS) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	cs, ok := c.(connectionStater)
	if !ok {
		return nil, nil, errors.New("frontdoor: connection was not terminated by a TLS door")
	}
	return c, credentials.TLSInfo{
		State:          cs.ConnectionState(),
		CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
	}, nil
}

func (terminatedTLS) ClientHandshake(context.Context, string, net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return nil, nil, errors.New("frontdoor: TransportCredentials are server-only")
}

func (terminatedTLS) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "tls"}
}

func (t terminatedTLS) Clone() credentials.TransportCredentials { return t }

// OverrideServerName is a no-op: it only matters to clients.
func (terminatedTLS) OverrideServerName(string) error { return nil }

package protocol

import (
	"encoding/base64"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
)

// Peer describes the client of an HTTP request as grpc-go describes a
// gRPC one, so that policies keyed on the peer, and the access log, see
// the same whatever protocol (REST, gRPC-Web, Connect) the client used.
func Peer(r *http.Request) *peer.Peer {
	p := &peer.Peer{Addr: addrOf(r.RemoteAddr)}
	if la, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		p.LocalAddr = la
	}
	if r.TLS != nil {
		p.AuthInfo = credentials.TLSInfo{
			State:          *r.TLS,
			CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity},
		}
	}
	return p
}

func addrOf(remote string) net.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return stringAddr(remote)
}

// stringAddr is a remote address that is not host:port (a Unix socket, or
// a test's made-up one).
type stringAddr string

func (a stringAddr) Network() string { return "unknown" }
func (a stringAddr) String() string  { return string(a) }

// DecodeBinaryHeader decodes the value of a "-bin" header (binary
// metadata), accepting padded and unpadded standard base64 as gRPC
// implementations send both. Several values sharing one header, separated
// by commas, are the caller's to split.
func DecodeBinaryHeader(v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	if len(v)%4 == 0 {
		return base64.StdEncoding.DecodeString(v)
	}
	return base64.RawStdEncoding.DecodeString(v)
}

// PrintableASCII reports whether v may be carried as the value of a
// (non-binary) gRPC metadata key: printable ASCII only.
func PrintableASCII(v string) bool {
	for i := 0; i < len(v); i++ {
		if v[i] < 0x20 || v[i] > 0x7e {
			return false
		}
	}
	return true
}

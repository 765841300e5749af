package protocol_test

import (
	"net/http/httptest"
	"testing"

	"github.com/sluice-dev/sluice/protocol"
)

func TestDecodeBinaryHeader(t *testing.T) {
	for _, v := range []string{"aGk=", "aGk", " aGk= "} {
		b, err := protocol.DecodeBinaryHeader(v)
		if err != nil || string(b) != "hi" {
			t.Errorf("DecodeBinaryHeader(%q) = %q, %v; want \"hi\"", v, b, err)
		}
	}
	if _, err := protocol.DecodeBinaryHeader("a*b="); err == nil {
		t.Error("DecodeBinaryHeader accepted a value that is not base64")
	}
}

func TestPeer(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:4321"
	if p := protocol.Peer(r); p.Addr.Network() != "tcp" || p.Addr.String() != "127.0.0.1:4321" || p.AuthInfo != nil {
		t.Errorf("peer of a plain TCP client: %v %v %v", p.Addr.Network(), p.Addr, p.AuthInfo)
	}
	r.RemoteAddr = "@socket"
	if p := protocol.Peer(r); p.Addr.Network() != "unknown" || p.Addr.String() != "@socket" {
		t.Errorf("peer of a non host:port address: %v %v", p.Addr.Network(), p.Addr)
	}
}

func TestPrintableASCII(t *testing.T) {
	if !protocol.PrintableASCII("a b~") || protocol.PrintableASCII("a\x7f") || protocol.PrintableASCII("é") {
		t.Error("PrintableASCII: wrong verdict")
	}
}

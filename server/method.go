package server

import (
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// CheckMethod reports whether path is a canonical gRPC method path,
// "/package.Service/Method": a leading slash, then exactly two non-empty
// segments. grpc-go itself tolerates a missing leading slash and routes
// "//pkg.S/M" to the unknown-service handler; the gateway refuses both so
// that no policy ever sees a method name that two spellings could reach.
// The error is an UNIMPLEMENTED status naming the path.
func CheckMethod(path string) error {
	if len(path) < 4 || path[0] != '/' {
		return status.Errorf(codes.Unimplemented, "malformed method name %q: want /package.Service/Method", path)
	}
	rest := path[1:]
	slash := strings.IndexByte(rest, '/')
	if slash <= 0 || slash == len(rest)-1 || strings.IndexByte(rest[slash+1:], '/') >= 0 {
		return status.Errorf(codes.Unimplemented, "malformed method name %q: want /package.Service/Method", path)
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c <= ' ' || c == 0x7f {
			return status.Errorf(codes.Unimplemented, "malformed method name %q: control or space character", path)
		}
	}
	return nil
}

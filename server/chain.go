package server

import (
	"google.golang.org/grpc"
)

// chainStream composes interceptors into one, the first outermost. The
// gateway builds its chain once with it and uses that one value both for
// the native gRPC server and for Dispatch, so that no protocol can take a
// different path through the policies.
func chainStream(interceptors []grpc.StreamServerInterceptor) grpc.StreamServerInterceptor {
	switch len(interceptors) {
	case 0:
		return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			return h(srv, ss)
		}
	case 1:
		return interceptors[0]
	}
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		return interceptors[0](srv, ss, info, chainedHandler(interceptors, 1, info, h))
	}
}

func chainedHandler(interceptors []grpc.StreamServerInterceptor, i int, info *grpc.StreamServerInfo, final grpc.StreamHandler) grpc.StreamHandler {
	if i == len(interceptors) {
		return final
	}
	return func(srv any, ss grpc.ServerStream) error {
		return interceptors[i](srv, ss, info, chainedHandler(interceptors, i+1, info, final))
	}
}

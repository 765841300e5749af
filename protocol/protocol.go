// Package protocol is what the client-facing protocols share.
//
// Every call reaches the one interceptor chain as a grpc.ServerStream,
// whatever protocol the client spoke. The adapters that turn REST,
// WebSocket, gRPC-Web and Connect requests into streams build them as a
// Stream, and record the protocol in the call's context so that observers
// (logs, metrics) can tell calls apart, while policies stay keyed on the
// gRPC method and never on the protocol. The package also holds the
// call-ending context, the peer and the header rules they all apply.
package protocol

import "context"

// Protocol is the wire protocol a client used to reach the gateway.
type Protocol string

// The protocols sluice serves on its one port.
const (
	GRPC    Protocol = "grpc"
	REST    Protocol = "rest"
	GRPCWeb Protocol = "grpc-web"
	Connect Protocol = "connect"
	// WebSocket is a REST binding of a streaming method called over a
	// WebSocket: its own name, since its wire (and what a client can
	// hold on it) is not REST's.
	WebSocket Protocol = "websocket"
)

type contextKey struct{}

// NewContext returns a copy of ctx that records p as the call's protocol.
func NewContext(ctx context.Context, p Protocol) context.Context {
	return context.WithValue(ctx, contextKey{}, p)
}

// FromContext returns the protocol recorded in ctx. Calls that no adapter
// marked are native gRPC calls, so the default is GRPC.
func FromContext(ctx context.Context) Protocol {
	if p, ok := ctx.Value(contextKey{}).(Protocol); ok {
		return p
	}
	return GRPC
}

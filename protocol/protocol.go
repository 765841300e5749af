// Package protocol names the client-facing protocol a call arrived on.
//
// Every call reaches the one interceptor chain as a grpc.ServerStream,
// whatever protocol the client spoke. The adapters that turn REST and
// gRPC-Web requests into streams record the protocol in the call's context
// so that observers (logs, metrics) can tell calls apart, while policies
// stay keyed on the gRPC method and never on the protocol.
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

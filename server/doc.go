// Package server owns the gateway's data path below the HTTP edge: the one
// port every protocol arrives on, the native gRPC server and its
// interceptor chain, the frame-forwarding proxy, and the pool of upstream
// connections it forwards to.
//
// A call travels: listener -> front door (classifies the connection) ->
// grpc-go's own HTTP/2 transport for native gRPC, or the HTTP handler for
// REST and gRPC-Web, which adapt requests into grpc.ServerStreams -> the
// interceptor chain -> Proxy -> the upstream chosen by the method's route.
// Nothing here decodes a message: frames cross the proxy as bytes.
package server

// Package server owns the gateway's data path below the HTTP edge: the one
// port every protocol arrives on, the native gRPC server and its
// interceptor chain, and the frame-forwarding proxy. The pool of upstream
// connections the proxy forwards to, with its routes and retries, is
// package upstream's.
//
// A call travels: listener -> front door (classifies the connection) ->
// grpc-go's own HTTP/2 transport for native gRPC, or the HTTP handler for
// REST and gRPC-Web, which adapt requests into grpc.ServerStreams -> the
// interceptor chain -> Proxy -> the upstream chosen by the method's route.
// Nothing here decodes a message: frames cross the proxy as bytes.
package server

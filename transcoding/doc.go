// Package transcoding owns the HTTP side of the gateway: the mapping of
// google.api.http rules to gRPC methods, the adapters that carry REST and
// gRPC-Web requests into the one interceptor chain as grpc.ServerStreams,
// and the single translation of gRPC statuses into HTTP responses.
//
// It knows nothing of authentication or limits: those are interceptors,
// and they see a transcoded call exactly as they see a native gRPC one.
//
// REST: BuildRoutes compiles the rules of a registry snapshot into Routes
// (a route trie, see httprule); REST is the http.Handler that matches a
// request, builds the request message (body, then path variables, then
// query parameters, as grpc-gateway does; generated types when linked,
// dynamicpb otherwise), and hands the call to a Dispatcher as a
// grpc.ServerStream carrying metadata from allowlisted headers, the peer,
// the Grpc-Timeout deadline and protocol.REST. JSON follows grpc-gateway's
// default marshaler so clients can switch gateways unchanged.
package transcoding

// Package transcoding owns the HTTP side of the gateway: the mapping of
// google.api.http rules to gRPC methods, the adapters that carry REST and
// gRPC-Web requests into the one interceptor chain as grpc.ServerStreams,
// and the single translation of gRPC statuses into HTTP responses.
//
// It knows nothing of authentication or limits: those are interceptors,
// and they see a transcoded call exactly as they see a native gRPC one.
package transcoding

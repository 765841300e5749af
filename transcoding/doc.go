// Package transcoding owns the HTTP side of the gateway: the mapping of
// google.api.http rules to gRPC methods, the adapters that carry REST and
// gRPC-Web requests into the one interceptor chain as grpc.ServerStreams,
// and the single translation of gRPC statuses into HTTP responses.
//
// It knows nothing of authentication or limits: those are interceptors,
// and they see a transcoded call exactly as they see a native gRPC one.
//
// REST: BuildRoutes compiles the rules of a registry snapshot into Routes
// (a route trie, see httprule). One binding never stops the others: one
// sluice cannot serve is skipped, and of two identical ones the later
// shadows the earlier, each listed with its reason (Routes.All,
// Routes.Problems) unless WithStrictRoutes makes them errors. REST is the http.Handler that matches a
// request, builds the request message (body, then path variables, then
// query parameters, as grpc-gateway does; generated types when linked,
// dynamicpb otherwise), and hands the call to a Dispatcher as a
// grpc.ServerStream carrying metadata from allowlisted headers, the peer,
// the Grpc-Timeout deadline and protocol.REST. JSON follows grpc-gateway's
// default marshaler so clients can switch gateways unchanged.
//
// Streams over HTTP: a server stream is written one message at a time,
// each flushed before the proxy hands over the next, so a slow client
// slows the upstream and nothing queues in between. Its format is
// negotiated by Accept: grpc-gateway's {"result": ...} lines by default
// (StreamEnvelope; WithStreamFormat(StreamNDJSON) changes the default),
// plain NDJSON for application/x-ndjson, Server-Sent Events for
// text/event-stream. A failure after the first message ends the body with
// a typed error line or event carrying the google.rpc.Status (an SSE
// stream always ends with a named event, "end" or "grpc-error", so that
// an EventSource closes instead of calling again), and the
// status travels as Grpc-Status/Grpc-Message trailers to clients that read
// trailers (HTTP/2, or HTTP/1.1 with TE: trailers). A client stream reads
// its messages from the request body, one JSON value (an NDJSON line) per
// message, as the upstream asks for them, also when its rule names no
// body; a bidirectional stream reads and
// writes at once (full duplex over HTTP/2, and over HTTP/1.1 where the
// client allows it). WebSocket is not spoken.
package transcoding

// Package connectproto serves the Connect protocol (connectrpc.com/docs/protocol)
// on the gateway's one port: unary calls as POST (application/proto,
// application/json) or, for methods without side effects, GET; streams of
// every kind as application/connect+proto and application/connect+json
// envelopes ending in an end-of-stream message.
//
// Why an adapter and not a server of its own: like REST, a Connect call is
// turned into a grpc.ServerStream and handed to the gateway's one
// Dispatcher, so authentication, authorization, limits, deadlines and flow
// control apply to it exactly as to a native gRPC call of the same method,
// and the proxy forwards it to the upstream as wire-format frames. Proto
// payloads pass through without being decoded; JSON ones are transcoded
// through the contracts by the fast JSON codecs.
//
// The package is named connectproto, not connect, so that code (and tests)
// can import it next to connectrpc.com/connect without renaming either.
//
// Which requests are Connect: a Content-Type of application/connect+*,
// any request carrying Connect-Protocol-Version, and a POST of
// application/proto or application/json, or a GET with an encoding query
// parameter, to a path that names a method of the contracts
// ("/pkg.Service/Method"). Everything else goes to the next handler (REST;
// sluice serve answers 415 to a POST on a method path that nothing claims).
// Connect-Protocol-Version is checked when present (it must be 1) but not
// required, as connect-go's own handlers do by default: curl and plain
// fetch calls work without it.
package connectproto

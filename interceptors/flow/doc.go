// Package flow keeps a stream's pace in the hands of its slowest peer and
// bounds what one stream may cost the gateway: it cuts streams whose
// client stops accepting data (the send-stall timeout), paces the
// messages a client may send per second, per stream and per key, and
// enforces per-method message size limits in both directions.
//
// Pacing works by delaying RecvMsg: a message the gateway has not read
// stays in the HTTP/2 flow-control window, so an over-eager sender is
// slowed by flow control rather than buffered. The send-stall timeout
// watches SendMsg towards the client: grpc-go blocks SendMsg while the
// stream's write quota is spent, and when no message is accepted for the
// timeout the call ends with DEADLINE_EXCEEDED; the proxy then cancels the
// upstream stream, and grpc-go's ending of the client stream releases the
// stalled write.
//
// It belongs last in the chain, right before the proxy, so that the
// limits apply to the messages the proxy moves and no earlier policy
// waits on a paced stream.
package flow

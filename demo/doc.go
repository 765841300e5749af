// Package demo is an in-memory implementation of the demo API,
// sluice.demo.library.v1.LibraryService: shelves, the books on them and
// files attached to shelves.
//
// It is the upstream that `sluice serve` runs in-process and that
// `sluice demo-upstream` runs alone, and the service every gateway test
// calls. It behaves like a production API so that what a test sees through
// the gateway is what a real service would send: validation failures are
// INVALID_ARGUMENT with google.rpc.BadRequest field violations, missing
// resources NOT_FOUND with google.rpc.ErrorInfo and google.rpc.ResourceInfo,
// duplicates ALREADY_EXISTS, lists are paginated with opaque page tokens and
// updates honour field masks.
//
// A Library is safe for concurrent use. It starts with a few shelves and
// books (see WithoutSeed).
//
// # Watching
//
// WatchShelf registers a subscriber before sending the response header, so
// a client that has received the header sees every later change. Each
// subscriber has a bounded buffer (WithWatchBuffer). Writers never wait for
// watchers: when a subscriber's buffer is full, it is dropped and its stream
// ends, after the buffered events, with RESOURCE_EXHAUSTED (ErrorInfo reason
// WATCH_BUFFER_OVERFLOW), the way a real watch API tells a client it must
// re-read and watch again. The stream ends with OK once the shelf is deleted,
// and with UNAVAILABLE when Library.Close is called (do that before a
// graceful stop, which would otherwise wait for every watcher).
//
// # Test knobs
//
// Calls through a server where the library was registered with
// Library.Register honour these request metadata keys, so that gateway tests
// can check what crosses the proxy:
//
//   - Every call sends the response header `x-demo-method: <full method>`.
//   - Every incoming key starting with `x-echo-` is sent back as a response
//     header of the same key and values, and as a trailer `<key>-trailer`
//     (for binary keys `x-echo-k-bin`, the trailer is `x-echo-k-trailer-bin`).
//   - When the call has a deadline, the header `x-demo-deadline-ms` carries
//     the milliseconds left when the call reached the service.
//   - `x-demo-fail: CODE[:message]` fails the call with CODE, given by name
//     (`NOT_FOUND`) or number (`5`), after the response header is sent. The
//     status carries an ErrorInfo with reason DEMO_INJECTED and domain
//     demo.sluice.dev. CODE must not be OK.
//   - `x-demo-fail-after: N` (streams only) fails the call after N messages
//     were sent (server streaming) or received (client and bidi streaming):
//     with the code of `x-demo-fail` when given, ABORTED otherwise. A server
//     stream fails as soon as its Nth message is sent, even when the next
//     message is not due yet (WatchShelf); a client stream fails when the
//     service asks for message N+1.
//   - `x-demo-delay: DURATION` (Go syntax, `150ms`) sleeps before each
//     message a stream sends, and before a unary call runs; the sleep ends
//     early with the call's context (CANCELLED or DEADLINE_EXCEEDED).
//   - In DiscussBook, a message whose text is `fail` ends the call with
//     ABORTED while the client may still be sending.
//
// A malformed knob fails the call with INVALID_ARGUMENT and a field
// violation naming the metadata key.
package demo

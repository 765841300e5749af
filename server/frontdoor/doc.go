// Package frontdoor owns sluice's single listening port: it accepts every
// connection, classifies it, and hands it to the server that speaks its
// protocol, so that native gRPC, REST/JSON and gRPC-Web share one address.
//
// Native gRPC is served by grpc-go's own HTTP/2 transport
// ((*grpc.Server).Serve on [Door.GRPC]) because it is much faster than
// grpc.Server.ServeHTTP. Everything else goes to net/http's server
// ([Door.ServeHTTP]), HTTP/1.1 and HTTP/2 alike. The choice is made once per
// connection, at accept time:
//
//   - With TLS ([WithTLS]) the door terminates TLS itself and offers ALPN "h2"
//     and "http/1.1". "http/1.1" (or no ALPN) goes to the HTTP side; "h2" is
//     sniffed as below.
//   - In cleartext, a connection that starts with the HTTP/2 client preface is
//     sniffed as below; anything else is HTTP/1.x and goes to the HTTP side.
//   - HTTP/2 sniffing reads frames until the first request's header block is
//     complete and decodes its content-type: "application/grpc", or
//     "application/grpc+..." / "application/grpc;..." goes to gRPC, anything
//     else (gRPC-Web included) to the HTTP side. Every byte read is replayed
//     to the chosen server.
//
// The first request decides a connection's side: later requests on an
// HTTP/2 connection classified for the HTTP side may be native gRPC, and the
// HTTP handler is expected to route them to grpc.Server.ServeHTTP.
//
// Classification is bounded: each connection sniffs in its own goroutine,
// within [WithSniffTimeout] and a byte budget (what an HTTP/2 client sends
// before its first request is complete, header block included, must fit in
// 64 KiB plus one frame), and a connection that does not classify in time is
// closed without delaying anyone else. Malformed HTTP/2 (no SETTINGS first,
// GOAWAY, RST_STREAM or DATA before the first request, an undecodable header
// block, an oversized frame) is closed at once.
//
// Cleartext HTTP/1.1 "Upgrade: h2c" is not supported: RFC 9113 deprecates it,
// net/http does not implement it, and x/net's h2c package is deprecated.
// Cleartext HTTP/2 clients use prior knowledge, which is supported.
package frontdoor

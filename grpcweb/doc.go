// Package grpcweb serves gRPC-Web (grpc/grpc's PROTOCOL-WEB.md) on the
// gateway's one port: browsers, which cannot speak gRPC's HTTP/2 trailers,
// call the same methods through the same interceptor chain as native gRPC
// and REST clients.
//
// Handler is an http.Handler in front of the REST handler: requests whose
// Content-Type is application/grpc-web or application/grpc-web-text (with
// the +proto or +json subtype) are adapted into a grpc.ServerStream and
// dispatched to the chain and the proxy; every other request goes to the
// next handler. Proto messages are carried as frames, never decoded; +json
// messages are transcoded through the contracts with the fast JSON codecs.
// Status and trailers travel in the body's trailer frame (0x80), or in the
// response headers when a call fails before any message (trailers-only).
//
// Messages are read from the request body only when the upstream asks for
// the next one, so a slow upstream slows the browser and at most one
// request message per call is held; responses are written and flushed one
// message at a time.
package grpcweb

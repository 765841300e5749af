// Package openapi documents the REST side of the live contracts: an
// OpenAPI 3.1 document generated from a registry.Snapshot (every
// google.api.http binding, its parameters, bodies and responses, message
// schemas in the proto3 JSON mapping, comments as descriptions), an HTTP
// handler serving it, and the route table printed by `sluice routes`.
//
// The routes come from transcoding.BuildRoutes, so the document and the
// table describe exactly what the REST transcoder serves. The document is
// built with github.com/getkin/kin-openapi, which reads, writes and
// validates OpenAPI 3.1.
//
// The document describes what the gateway serves, no more: a server
// stream's response lists each format a client can ask for by Accept
// (WithStreamFormat says which one application/json and no Accept get),
// operations carry the security requirements of their method under the
// configured authentication (WithSecurity; methods every call is refused
// are left out), and bindings the transcoder always answers with 501
// (client-streamed google.api.HttpBody) are left out too.
//
// A path variable that spans several segments, like
// `/v1/{name=shelves/*/books/*}`, becomes one OpenAPI path parameter per
// wildcard: `/v1/shelves/{shelvesId}/books/{booksId}`. OpenAPI path
// parameters can not hold a slash, so the form grpc-gateway's openapiv2
// uses by default (`/v1/{name}` with a pattern) makes tools escape the
// slashes, which then no longer match the route; and templates of the
// same shape would collide as `/v1/{name}`. Naming each parameter after
// the collection before it (`{shelvesId}`, as Google's discovery-based
// documents do) needs no guessing at singular forms.
package openapi

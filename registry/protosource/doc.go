// Package protosource is a contract source that compiles .proto files, so
// sluice can serve an API straight from its sources: no `buf build -o`
// step, and an edit is served a moment after it is saved.
//
// Compilation is protocompile's (the compiler behind buf), with source
// information kept so documentation (OpenAPI) gets the comments. Roots are
// import roots whose every .proto file is compiled; a buf.yaml (v1 or v2)
// or buf.work.yaml in a root is honoured for its module layout (module
// paths become import roots, excludes are left out). Imports resolve, in
// this order, from the roots, the import paths, the directories of files
// named on their own, then from the googleapis files sluice ships
// (google/api/annotations.proto, http.proto, httpbody.proto,
// field_behavior.proto, google/rpc/*) and protobuf's well-known types. A
// user's own copy of a googleapis file therefore wins, as protoc's first
// matching -I would; protobuf's own files (google/protobuf/*) always come
// from the binary, as the registry does for every source.
//
// Hidden directories (".git", the "..data" generations of a Kubernetes
// ConfigMap volume) are not walked; the files a ConfigMap links to are
// compiled under their own names.
//
// Every compile error is reported at once, each as file:line:column:
// message (Errors). Watch polls the files for changes and coalesces a
// burst of saves into one notification.
package protosource

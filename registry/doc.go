// Package registry loads API contracts (protobuf descriptors) and builds
// immutable snapshots of the services and methods they define.
//
// Contracts come from generated code linked into the binary, from
// descriptor set files (`buf build -o`, `protoc --descriptor_set_out
// --include_imports`) and, later, from upstream server reflection. A
// Snapshot never changes once built; a Registry holds the current one and
// swaps it atomically on reload, so a call keeps the snapshot it started
// with. gRPC proxying does not need a contract; REST transcoding and
// policies that read messages do.
package registry

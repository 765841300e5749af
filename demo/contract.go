package demo

import _ "embed"

// descriptorSet is the demo API's descriptor set with its comments, as
// `make generate` builds it (a copy of gen/descriptors/demo.binpb). The
// generated Go code linked into the binary carries no comments; this does,
// so documents generated from the contract (OpenAPI) can describe it.
//
//go:embed library.binpb
var descriptorSet []byte

// DescriptorSet returns the demo API's serialized FileDescriptorSet, with
// source comments and every import. The caller must not modify it.
func DescriptorSet() []byte { return descriptorSet }

// Package jsonwire decodes JSON request bodies straight into protobuf wire
// bytes, without building a message in between.
//
// The REST adapter used to run protojson into a message and then
// proto.Marshal it for the upstream; that round trip was a large share of the
// CPU of a REST call. A [Decoder] does the same job in one pass over the
// JSON, without allocating once its scratch buffers are warm.
//
// The decoder is a fast path, not a second implementation of the JSON
// mapping: protojson stays the referee. For any input,
// [Decoder.AppendMessage] either returns [ErrFallback], or protojson accepts
// the same input and decodes a message equal (proto.Equal) to the one the
// returned wire bytes unmarshal to. It returns ErrFallback for everything
// protojson rejects, and for what it leaves to protojson:
//
//   - google.protobuf.Any values;
//   - messages with proto2 required fields or groups, and MessageSets;
//   - extension field names ("[pkg.ext]");
//   - numbers of a closed (proto2) enum that the enum does not declare;
//   - unknown enum names in map values (with DiscardUnknown);
//   - nesting deeper than 100 levels;
//   - numbers with an exponent but no exponent digits ("1e"), which
//     protojson tolerates in some places.
//
// The caller then runs protojson, which also produces the canonical error
// message.
//
// The wire encoding follows proto.Marshal's conventions: fields in the order
// they appear in the JSON, implicit-presence zero values omitted, repeated
// scalars packed when the field is packed, map entries with both key and
// value. Appending a second encoding merges into the first, as proto defines
// for concatenated messages.
package jsonwire

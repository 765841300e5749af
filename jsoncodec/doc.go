// Package jsoncodec converts between the protobuf JSON mapping and
// protobuf wire bytes directly, in both directions, without building a
// message in between. protojson stays the referee: for every input the
// codec either produces exactly what protojson (with proto.Marshal or
// proto.Unmarshal around it) would, or returns an error wrapping
// [ErrFallback] so the caller takes the protojson path, which then also
// words protojson's own error.
//
// The REST adapter turns every upstream response into JSON and every JSON
// request body into wire bytes; going through a message and protojson's
// reflection cost a large share of the gateway's CPU. The gRPC-Web and
// Connect JSON adapters need the same two conversions. The package follows
// protojson's layout: encode*.go ([Encoder], wire bytes to JSON),
// decode*.go ([Decoder], JSON to wire bytes), well_known_types.go (the one
// table of well-known types and their ranges), plan.go (the per-type plan
// cache both directions use).
//
// # Encoding
//
// An [Encoder] scans the wire bytes once per message, records where each
// field's occurrences are, and prints the fields in protojson's order
// (declaration index) from those offsets, with per-type plans (quoted
// names, enum names, zero values) built once and cached. Semantics follow
// a proto.Unmarshal followed by protojson.Marshal: last-one-wins for
// singular scalars, merged singular messages, last member wins in a oneof,
// packed and unpacked repeated fields, implicit presence (a zero scalar is
// not printed), unknown fields dropped, map entries deduplicated and
// sorted, and protojson's formats for the well-known types (Timestamp,
// Duration, FieldMask, Struct, Value, ListValue, wrappers).
//
// The encoder falls back for:
//   - google.protobuf.Any (needs a type resolver), proto1 MessageSets,
//     groups (and delimited-encoded messages) present on the wire, field
//     numbers in an extension range;
//   - messages with proto2 required fields that are missing;
//   - values protojson refuses to print: a Timestamp or Duration out of
//     range, a google.protobuf.Value with no kind or a NaN/Infinity number,
//     a FieldMask path that is not a reversible lowerCamel name;
//   - rare wire shapes whose dropped data proto.Unmarshal would still have
//     to validate: a oneof whose message member is replaced by another
//     member, a duplicated map key whose dropped value is a message, a
//     map entry carrying its message value twice, an overwritten string
//     (field, oneof member, map key or value) that is not valid UTF-8;
//   - AppendField on a oneof member that is not set, or on a message with
//     required fields.
//
// Malformed wire data (truncated or oversized lengths and varints, invalid
// field numbers, invalid UTF-8 in a printed string, nesting deeper than
// 10000 messages) yields a plain error, never a panic.
//
// # Decoding
//
// A [Decoder] turns a JSON object into wire bytes in one pass, without
// allocating once its scratch buffers are warm. For any input,
// [Decoder.AppendMessage] either returns ErrFallback, or protojson accepts
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
// The wire encoding follows proto.Marshal's conventions: fields in the order
// they appear in the JSON, implicit-presence zero values omitted, repeated
// scalars packed when the field is packed, map entries with both key and
// value. Appending a second encoding merges into the first, as proto defines
// for concatenated messages.
package jsoncodec

// Package wirejson writes the protobuf JSON mapping of a message straight
// from its wire-format bytes, producing exactly what protojson writes
// (modulo protojson's randomised insignificant whitespace) without building
// a message first.
//
// The REST adapter turns every upstream response into JSON; unmarshalling
// into a message and walking it with protojson's reflection costs a large
// share of the gateway's CPU. wirejson instead scans the wire bytes once per
// message, records where each field's occurrences are, and prints the
// fields in protojson's order (declaration index) from those offsets, with
// per-type plans (quoted names, enum names, zero values) built once and
// cached.
//
// Semantics follow a proto.Unmarshal followed by protojson.Marshal:
// last-one-wins for singular scalars, merged singular messages, last member
// wins in a oneof, packed and unpacked repeated fields, implicit presence
// (a zero scalar is not printed), unknown fields dropped, map entries
// deduplicated and sorted, and protojson's formats for the well-known types
// (Timestamp, Duration, FieldMask, Struct, Value, ListValue, wrappers).
//
// Anything the encoder does not reproduce exactly returns an error wrapping
// [ErrFallback]; the caller then takes the proto.Unmarshal + protojson path,
// which also reports protojson's own error for semantically invalid input.
// The fallback cases are:
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
package wirejson

// Package wellknown tells which of protobuf's well-known types a message
// is. The protobuf JSON mapping writes these types in forms of their own
// (a Timestamp as an RFC 3339 string, a wrapper as its bare value, a Struct
// as a plain object), so the REST adapter's JSON codecs, which work on wire
// bytes without protojson, look the kind up once per message type.
package wellknown

import "google.golang.org/protobuf/reflect/protoreflect"

// Kind is a message's JSON mapping: None for ordinary messages, or one of
// the well-known types with a form of its own.
type Kind uint8

// The kinds, named after the google.protobuf types they stand for.
const (
	None Kind = iota
	Any
	Timestamp
	Duration
	// Wrapper is any of the nine wrappers (BoolValue through BytesValue),
	// written as their bare value.
	Wrapper
	Struct
	ListValue
	Value
	FieldMask
	Empty
)

// Of returns the kind of the message named name. Like protojson, it goes
// by the full name alone.
func Of(name protoreflect.FullName) Kind {
	if name.Parent() != "google.protobuf" {
		return None
	}
	switch name.Name() {
	case "Any":
		return Any
	case "Timestamp":
		return Timestamp
	case "Duration":
		return Duration
	case "BoolValue", "Int32Value", "Int64Value", "UInt32Value", "UInt64Value",
		"FloatValue", "DoubleValue", "StringValue", "BytesValue":
		return Wrapper
	case "Struct":
		return Struct
	case "ListValue":
		return ListValue
	case "Value":
		return Value
	case "FieldMask":
		return FieldMask
	case "Empty":
		return Empty
	}
	return None
}

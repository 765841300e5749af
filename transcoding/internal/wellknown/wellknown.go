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

// WellFormed reports whether md has the fields the JSON mapping of its
// kind relies on. Kinds go by name alone, so a descriptor set can carry a
// look-alike (say a google.protobuf.BoolValue without a value field); the
// codecs leave such a type to protojson instead of misprinting it or
// indexing fields that are not there. Ordinary messages, Any and Empty are
// always well formed.
func WellFormed(md protoreflect.MessageDescriptor) bool {
	fds := md.Fields()
	has := func(num protoreflect.FieldNumber, kind protoreflect.Kind, list bool) bool {
		fd := fds.ByNumber(num)
		return fd != nil && fd.Kind() == kind && fd.IsList() == list && !fd.IsMap()
	}
	isValue := func(fd protoreflect.FieldDescriptor) bool {
		return fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Value"
	}
	switch Of(md.FullName()) {
	case Timestamp, Duration:
		return has(1, protoreflect.Int64Kind, false) && has(2, protoreflect.Int32Kind, false)
	case Wrapper:
		fd := fds.ByNumber(1)
		return fds.Len() == 1 && fd != nil && !fd.IsList() && !fd.IsMap() && fd.Message() == nil && fd.Enum() == nil
	case Struct:
		fd := fds.ByNumber(1)
		return fd != nil && fd.IsMap() && fd.MapKey().Kind() == protoreflect.StringKind && isValue(fd.MapValue())
	case ListValue:
		fd := fds.ByNumber(1)
		return fd != nil && fd.IsList() && isValue(fd)
	case Value:
		od := md.Oneofs().ByName("kind")
		if od == nil || od.Fields().Len() != 6 || md.Oneofs().Len() != 1 {
			return false
		}
		for i := range fds.Len() {
			if fd := fds.Get(i); fd.ContainingOneof() != od || fd.IsList() || fd.IsMap() {
				return false
			}
		}
		return has(1, protoreflect.EnumKind, false) && has(2, protoreflect.DoubleKind, false) &&
			has(3, protoreflect.StringKind, false) && has(4, protoreflect.BoolKind, false) &&
			has(5, protoreflect.MessageKind, false) && has(6, protoreflect.MessageKind, false)
	case FieldMask:
		return has(1, protoreflect.StringKind, true)
	}
	return true
}

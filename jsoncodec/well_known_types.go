package jsoncodec

import "google.golang.org/protobuf/reflect/protoreflect"

// The one table of protobuf's well-known types, shared by the encoder and
// the decoder. The protobuf JSON mapping writes these types in forms of
// their own (a Timestamp as an RFC 3339 string, a wrapper as its bare
// value, a Struct as a plain object); both directions look the kind up
// once per message type, when they build its plan.

// Ranges protojson accepts, in both directions.
const (
	// Timestamp range: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
	minTimestampSeconds = -62135596800
	maxTimestampSeconds = 253402300799
	// Duration range: about ±10000 years.
	maxDurationSeconds = 315576000000
	maxNanos           = 999999999
)

// wkt is a message's JSON mapping: wktNone for ordinary messages, or one of
// the well-known types with a form of its own.
type wkt uint8

// The kinds, named after the google.protobuf types they stand for.
const (
	wktNone wkt = iota
	wktAny
	wktTimestamp
	wktDuration
	// wktWrapper is any of the nine wrappers (BoolValue through
	// BytesValue), written as their bare value.
	wktWrapper
	wktStruct
	wktListValue
	wktValue
	wktFieldMask
	wktEmpty
)

// wellKnownOf returns the kind of the message named name. Like protojson,
// it goes by the full name alone.
func wellKnownOf(name protoreflect.FullName) wkt {
	if name.Parent() != "google.protobuf" {
		return wktNone
	}
	switch name.Name() {
	case "Any":
		return wktAny
	case "Timestamp":
		return wktTimestamp
	case "Duration":
		return wktDuration
	case "BoolValue", "Int32Value", "Int64Value", "UInt32Value", "UInt64Value",
		"FloatValue", "DoubleValue", "StringValue", "BytesValue":
		return wktWrapper
	case "Struct":
		return wktStruct
	case "ListValue":
		return wktListValue
	case "Value":
		return wktValue
	case "FieldMask":
		return wktFieldMask
	case "Empty":
		return wktEmpty
	}
	return wktNone
}

// wellFormed reports whether md has the fields the JSON mapping of its
// kind relies on. Kinds go by name alone, so a descriptor set can carry a
// look-alike (say a google.protobuf.BoolValue without a value field); the
// codecs leave such a type to protojson instead of misprinting it or
// indexing fields that are not there. Ordinary messages, wktAny and Empty are
// always well formed.
func wellFormed(md protoreflect.MessageDescriptor) bool {
	fds := md.Fields()
	has := func(num protoreflect.FieldNumber, kind protoreflect.Kind, list bool) bool {
		fd := fds.ByNumber(num)
		return fd != nil && fd.Kind() == kind && fd.IsList() == list && !fd.IsMap()
	}
	isValue := func(fd protoreflect.FieldDescriptor) bool {
		return fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Value"
	}
	switch wellKnownOf(md.FullName()) {
	case wktTimestamp, wktDuration:
		return has(1, protoreflect.Int64Kind, false) && has(2, protoreflect.Int32Kind, false)
	case wktWrapper:
		fd := fds.ByNumber(1)
		return fds.Len() == 1 && fd != nil && !fd.IsList() && !fd.IsMap() && fd.Message() == nil && fd.Enum() == nil
	case wktStruct:
		fd := fds.ByNumber(1)
		return fd != nil && fd.IsMap() && fd.MapKey().Kind() == protoreflect.StringKind && isValue(fd.MapValue())
	case wktListValue:
		fd := fds.ByNumber(1)
		return fd != nil && fd.IsList() && isValue(fd)
	case wktValue:
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
	case wktFieldMask:
		return has(1, protoreflect.StringKind, true)
	}
	return true
}

package jsoncodec_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/dynamicpb"

	// The well-known types the test messages import must be registered.
	_ "google.golang.org/protobuf/types/known/anypb"
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/emptypb"
	_ "google.golang.org/protobuf/types/known/fieldmaskpb"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

// The demo API has no field of many scalar kinds, no oneof and only string
// maps, so the tests also use these messages, built as descriptors:
//
//	syntax = "proto3"; package jsoncodec.test;
//	enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; COLOR_GREEN = 2; }
//	message All { every scalar kind, singular, optional and repeated; maps of
//	  every key kind; oneof choice; nested and repeated All; every
//	  well-known type; a field with a json_name option }
//
//	syntax = "proto2"; package jsoncodec.test2;
//	enum Closed { CLOSED_ONE = 1; CLOSED_TWO = 2; }
//	message Legacy { optional Closed e = 1; repeated Closed re = 2;
//	  repeated int32 unpacked = 3; optional int32 opt = 4; }
//	message Required { required int32 req = 1; }
//	message Grouped { optional group G = 1 { optional int32 x = 2; } }

type fieldType = descriptorpb.FieldDescriptorProto_Type

const (
	tInt32    = descriptorpb.FieldDescriptorProto_TYPE_INT32
	tInt64    = descriptorpb.FieldDescriptorProto_TYPE_INT64
	tUint32   = descriptorpb.FieldDescriptorProto_TYPE_UINT32
	tUint64   = descriptorpb.FieldDescriptorProto_TYPE_UINT64
	tSint32   = descriptorpb.FieldDescriptorProto_TYPE_SINT32
	tSint64   = descriptorpb.FieldDescriptorProto_TYPE_SINT64
	tFixed32  = descriptorpb.FieldDescriptorProto_TYPE_FIXED32
	tFixed64  = descriptorpb.FieldDescriptorProto_TYPE_FIXED64
	tSfixed32 = descriptorpb.FieldDescriptorProto_TYPE_SFIXED32
	tSfixed64 = descriptorpb.FieldDescriptorProto_TYPE_SFIXED64
	tFloat    = descriptorpb.FieldDescriptorProto_TYPE_FLOAT
	tDouble   = descriptorpb.FieldDescriptorProto_TYPE_DOUBLE
	tBool     = descriptorpb.FieldDescriptorProto_TYPE_BOOL
	tString   = descriptorpb.FieldDescriptorProto_TYPE_STRING
	tBytes    = descriptorpb.FieldDescriptorProto_TYPE_BYTES
	tEnum     = descriptorpb.FieldDescriptorProto_TYPE_ENUM
	tMessage  = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
	tGroup    = descriptorpb.FieldDescriptorProto_TYPE_GROUP

	lOptional = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	lRepeated = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	lRequired = descriptorpb.FieldDescriptorProto_LABEL_REQUIRED
)

// scalarTypes are the scalar kinds with the short names the test fields
// use.
var scalarTypes = []struct {
	name string
	typ  fieldType
}{
	{"i32", tInt32}, {"i64", tInt64}, {"u32", tUint32}, {"u64", tUint64},
	{"s32", tSint32}, {"s64", tSint64}, {"f32", tFixed32}, {"f64", tFixed64},
	{"sf32", tSfixed32}, {"sf64", tSfixed64}, {"float", tFloat}, {"double", tDouble},
	{"bool", tBool}, {"str", tString}, {"bytes", tBytes},
}

type msgBuilder struct {
	m *descriptorpb.DescriptorProto
}

func (b msgBuilder) add(name string, num int32, label descriptorpb.FieldDescriptorProto_Label, typ fieldType, typeName string) *descriptorpb.FieldDescriptorProto {
	f := &descriptorpb.FieldDescriptorProto{
		Name:   proto.String(name),
		Number: proto.Int32(num),
		Label:  label.Enum(),
		Type:   typ.Enum(),
	}
	if typeName != "" {
		f.TypeName = proto.String(typeName)
	}
	b.m.Field = append(b.m.Field, f)
	return f
}

// optional adds a proto3 optional field with its synthetic oneof.
func (b msgBuilder) optional(name string, num int32, typ fieldType, typeName string) {
	f := b.add(name, num, lOptional, typ, typeName)
	f.Proto3Optional = proto.Bool(true)
	f.OneofIndex = proto.Int32(int32(len(b.m.OneofDecl)))
	b.m.OneofDecl = append(b.m.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("_" + name)})
}

// mapField adds a map field and its entry message.
func (b msgBuilder) mapField(pkg, name string, num int32, key fieldType, val fieldType, valTypeName string) {
	entry := mapEntryName(name)
	e := msgBuilder{&descriptorpb.DescriptorProto{
		Name:    proto.String(entry),
		Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
	}}
	e.add("key", 1, lOptional, key, "")
	e.add("value", 2, lOptional, val, valTypeName)
	b.m.NestedType = append(b.m.NestedType, e.m)
	b.add(name, num, lRepeated, tMessage, "."+pkg+"."+b.m.GetName()+"."+entry)
}

func enumProto(name string, values ...string) *descriptorpb.EnumDescriptorProto {
	e := &descriptorpb.EnumDescriptorProto{Name: proto.String(name)}
	for i, v := range values {
		e.Value = append(e.Value, &descriptorpb.EnumValueDescriptorProto{Name: proto.String(v), Number: proto.Int32(int32(i))})
	}
	return e
}

func allFile() *descriptorpb.FileDescriptorProto {
	all := msgBuilder{&descriptorpb.DescriptorProto{Name: proto.String("All")}}
	// Real oneofs come before the synthetic ones of optional fields.
	const choice = 0
	all.m.OneofDecl = append(all.m.OneofDecl, &descriptorpb.OneofDescriptorProto{Name: proto.String("choice")})
	for i, st := range scalarTypes {
		all.add(st.name, int32(1+i), lOptional, st.typ, "")
		all.add("r_"+st.name, int32(30+i), lRepeated, st.typ, "")
		all.optional("opt_"+st.name, int32(130+i), st.typ, "")
	}
	all.add("color", 16, lOptional, tEnum, ".jsoncodec.test.Color")
	all.add("r_color", 45, lRepeated, tEnum, ".jsoncodec.test.Color")
	all.optional("opt_color", 145, tEnum, ".jsoncodec.test.Color")

	all.mapField("jsoncodec.test", "m_i32", 50, tInt32, tString, "")
	all.mapField("jsoncodec.test", "m_i64", 51, tInt64, tInt64, "")
	all.mapField("jsoncodec.test", "m_u32", 52, tUint32, tBool, "")
	all.mapField("jsoncodec.test", "m_u64", 53, tUint64, tDouble, "")
	all.mapField("jsoncodec.test", "m_s32", 54, tSint32, tBytes, "")
	all.mapField("jsoncodec.test", "m_s64", 55, tSint64, tEnum, ".jsoncodec.test.Color")
	all.mapField("jsoncodec.test", "m_f32", 56, tFixed32, tMessage, ".jsoncodec.test.All")
	all.mapField("jsoncodec.test", "m_f64", 57, tFixed64, tFloat, "")
	all.mapField("jsoncodec.test", "m_sf32", 58, tSfixed32, tUint64, "")
	all.mapField("jsoncodec.test", "m_sf64", 59, tSfixed64, tMessage, ".google.protobuf.Timestamp")
	all.mapField("jsoncodec.test", "m_bool", 60, tBool, tString, "")
	all.mapField("jsoncodec.test", "m_str", 61, tString, tMessage, ".jsoncodec.test.All")
	all.mapField("jsoncodec.test", "m_val", 62, tString, tMessage, ".google.protobuf.Value")
	all.mapField("jsoncodec.test", "m_wi64", 63, tString, tMessage, ".google.protobuf.Int64Value")
	all.mapField("jsoncodec.test", "m_null", 64, tString, tEnum, ".google.protobuf.NullValue")

	for _, f := range []struct {
		name     string
		num      int32
		typ      fieldType
		typeName string
	}{
		{"o_str", 70, tString, ""},
		{"o_i32", 71, tInt32, ""},
		{"o_msg", 72, tMessage, ".jsoncodec.test.All"},
		{"o_val", 73, tMessage, ".google.protobuf.Value"},
		{"o_null", 74, tEnum, ".google.protobuf.NullValue"},
		{"o_color", 75, tEnum, ".jsoncodec.test.Color"},
	} {
		all.add(f.name, f.num, lOptional, f.typ, f.typeName).OneofIndex = proto.Int32(choice)
	}

	all.add("child", 80, lOptional, tMessage, ".jsoncodec.test.All")
	all.add("children", 81, lRepeated, tMessage, ".jsoncodec.test.All")

	for i, w := range []string{"Timestamp", "Duration", "FieldMask", "Struct", "Value", "ListValue", "Empty", "Any"} {
		all.add("wkt_"+w, int32(90+i), lOptional, tMessage, ".google.protobuf."+w)
		all.add("r_wkt_"+w, int32(190+i), lRepeated, tMessage, ".google.protobuf."+w)
	}
	for i, w := range []string{"BoolValue", "Int32Value", "Int64Value", "UInt32Value", "UInt64Value", "FloatValue", "DoubleValue", "StringValue", "BytesValue"} {
		all.add("w_"+w, int32(100+i), lOptional, tMessage, ".google.protobuf."+w)
		all.add("r_w_"+w, int32(200+i), lRepeated, tMessage, ".google.protobuf."+w)
	}
	all.add("null_v", 112, lOptional, tEnum, ".google.protobuf.NullValue")
	all.add("r_null", 113, lRepeated, tEnum, ".google.protobuf.NullValue")
	all.add("json_named", 120, lOptional, tString, "").JsonName = proto.String("customName")

	return &descriptorpb.FileDescriptorProto{
		Name:    proto.String("jsonwire/test/all.proto"),
		Package: proto.String("jsoncodec.test"),
		Syntax:  proto.String("proto3"),
		Dependency: []string{
			"google/protobuf/any.proto", "google/protobuf/duration.proto", "google/protobuf/empty.proto",
			"google/protobuf/field_mask.proto", "google/protobuf/struct.proto",
			"google/protobuf/timestamp.proto", "google/protobuf/wrappers.proto",
		},
		EnumType:    []*descriptorpb.EnumDescriptorProto{enumProto("Color", "COLOR_UNSPECIFIED", "COLOR_RED", "COLOR_GREEN")},
		MessageType: []*descriptorpb.DescriptorProto{all.m},
	}
}

func legacyFile() *descriptorpb.FileDescriptorProto {
	closed := &descriptorpb.EnumDescriptorProto{Name: proto.String("Closed")}
	for i, v := range []string{"CLOSED_ONE", "CLOSED_TWO"} {
		closed.Value = append(closed.Value, &descriptorpb.EnumValueDescriptorProto{Name: proto.String(v), Number: proto.Int32(int32(i + 1))})
	}
	legacy := msgBuilder{&descriptorpb.DescriptorProto{Name: proto.String("Legacy")}}
	legacy.add("e", 1, lOptional, tEnum, ".jsoncodec.test2.Closed")
	legacy.add("re", 2, lRepeated, tEnum, ".jsoncodec.test2.Closed")
	legacy.add("unpacked", 3, lRepeated, tInt32, "")
	legacy.add("opt", 4, lOptional, tInt32, "")
	legacy.add("name", 5, lOptional, tString, "")

	required := msgBuilder{&descriptorpb.DescriptorProto{Name: proto.String("Required")}}
	required.add("req", 1, lRequired, tInt32, "")

	grouped := msgBuilder{&descriptorpb.DescriptorProto{Name: proto.String("Grouped")}}
	g := msgBuilder{&descriptorpb.DescriptorProto{Name: proto.String("G")}}
	g.add("x", 2, lOptional, tInt32, "")
	grouped.m.NestedType = append(grouped.m.NestedType, g.m)
	grouped.add("g", 1, lOptional, tGroup, ".jsoncodec.test2.Grouped.G")

	return &descriptorpb.FileDescriptorProto{
		Name:        proto.String("jsonwire/test/legacy.proto"),
		Package:     proto.String("jsoncodec.test2"),
		Syntax:      proto.String("proto2"),
		EnumType:    []*descriptorpb.EnumDescriptorProto{closed},
		MessageType: []*descriptorpb.DescriptorProto{legacy.m, required.m, grouped.m},
	}
}

// testTypes holds the message types of the test files.
type testTypes struct {
	all, legacy, required, grouped protoreflect.MessageType
}

func newTestTypes(tb testing.TB) testTypes {
	tb.Helper()
	files := new(protoregistry.Files)
	var out []protoreflect.FileDescriptor
	for _, fdp := range []*descriptorpb.FileDescriptorProto{allFile(), legacyFile()} {
		fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
		if err != nil {
			tb.Fatalf("build %s: %v", fdp.GetName(), err)
		}
		if err := files.RegisterFile(fd); err != nil {
			tb.Fatal(err)
		}
		out = append(out, fd)
	}
	msgs := out[1].Messages()
	return testTypes{
		all:      dynamicpb.NewMessageType(out[0].Messages().ByName("All")),
		legacy:   dynamicpb.NewMessageType(msgs.ByName("Legacy")),
		required: dynamicpb.NewMessageType(msgs.ByName("Required")),
		grouped:  dynamicpb.NewMessageType(msgs.ByName("Grouped")),
	}
}

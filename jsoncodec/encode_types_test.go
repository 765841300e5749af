package jsoncodec_test

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	// Registers the well-known types the test files import.
	_ "google.golang.org/protobuf/types/known/durationpb"
	_ "google.golang.org/protobuf/types/known/emptypb"
	_ "google.golang.org/protobuf/types/known/fieldmaskpb"
	_ "google.golang.org/protobuf/types/known/structpb"
	_ "google.golang.org/protobuf/types/known/timestamppb"
	_ "google.golang.org/protobuf/types/known/wrapperspb"
)

// Test-only schemas, built from descriptors so proto/ stays the demo API:
// wjtest.Rich (proto3: every kind, repeated, optional, oneof, maps of every
// key kind, well-known types, declaration order unlike number order) and
// wjtest.P2 (proto2: presence, defaults, closed enums, unpacked repeated,
// extensions, groups, required fields).

type fieldSpec struct {
	name     string
	num      int32
	label    descriptorpb.FieldDescriptorProto_Label
	typ      descriptorpb.FieldDescriptorProto_Type
	typeName string
	oneof    *int32
	opt3     bool
	jsonName string
	packed   *bool
	def      string
}

const (
	opt = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
	rep = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
	req = descriptorpb.FieldDescriptorProto_LABEL_REQUIRED
)

var richScalars = []struct {
	name string
	typ  descriptorpb.FieldDescriptorProto_Type
}{
	{"i32", descriptorpb.FieldDescriptorProto_TYPE_INT32},
	{"i64", descriptorpb.FieldDescriptorProto_TYPE_INT64},
	{"u32", descriptorpb.FieldDescriptorProto_TYPE_UINT32},
	{"u64", descriptorpb.FieldDescriptorProto_TYPE_UINT64},
	{"s32", descriptorpb.FieldDescriptorProto_TYPE_SINT32},
	{"s64", descriptorpb.FieldDescriptorProto_TYPE_SINT64},
	{"f32", descriptorpb.FieldDescriptorProto_TYPE_FIXED32},
	{"f64", descriptorpb.FieldDescriptorProto_TYPE_FIXED64},
	{"sf32", descriptorpb.FieldDescriptorProto_TYPE_SFIXED32},
	{"sf64", descriptorpb.FieldDescriptorProto_TYPE_SFIXED64},
	{"fl", descriptorpb.FieldDescriptorProto_TYPE_FLOAT},
	{"db", descriptorpb.FieldDescriptorProto_TYPE_DOUBLE},
	{"b", descriptorpb.FieldDescriptorProto_TYPE_BOOL},
	{"s", descriptorpb.FieldDescriptorProto_TYPE_STRING},
	{"by", descriptorpb.FieldDescriptorProto_TYPE_BYTES},
}

const (
	tMsg = descriptorpb.FieldDescriptorProto_TYPE_MESSAGE
)

func (f fieldSpec) proto() *descriptorpb.FieldDescriptorProto {
	fd := &descriptorpb.FieldDescriptorProto{
		Name:       proto.String(f.name),
		Number:     proto.Int32(f.num),
		Label:      f.label.Enum(),
		Type:       f.typ.Enum(),
		OneofIndex: f.oneof,
	}
	if f.typeName != "" {
		fd.TypeName = proto.String(f.typeName)
	}
	if f.opt3 {
		fd.Proto3Optional = proto.Bool(true)
	}
	if f.jsonName != "" {
		fd.JsonName = proto.String(f.jsonName)
	}
	if f.packed != nil {
		fd.Options = &descriptorpb.FieldOptions{Packed: f.packed}
	}
	if f.def != "" {
		fd.DefaultValue = proto.String(f.def)
	}
	return fd
}

func fields(specs ...fieldSpec) []*descriptorpb.FieldDescriptorProto {
	out := make([]*descriptorpb.FieldDescriptorProto, len(specs))
	for i, s := range specs {
		out[i] = s.proto()
	}
	return out
}

// mapEntry declares the nested entry message of a map field.
func mapEntry(name string, key descriptorpb.FieldDescriptorProto_Type, val descriptorpb.FieldDescriptorProto_Type, valType string) *descriptorpb.DescriptorProto {
	return &descriptorpb.DescriptorProto{
		Name: proto.String(name),
		Field: fields(
			fieldSpec{name: "key", num: 1, label: opt, typ: key},
			fieldSpec{name: "value", num: 2, label: opt, typ: val, typeName: valType},
		),
		Options: &descriptorpb.MessageOptions{MapEntry: proto.Bool(true)},
	}
}

func richFile() *descriptorpb.FileDescriptorProto {
	var specs []fieldSpec
	// Declared first, numbered last: protojson orders by declaration.
	specs = append(specs, fieldSpec{name: "json_named", num: 99, label: opt, typ: descriptorpb.FieldDescriptorProto_TYPE_STRING, jsonName: "customName"})
	for i, s := range richScalars {
		specs = append(specs, fieldSpec{name: s.name, num: int32(1 + i), label: opt, typ: s.typ})
	}
	specs = append(specs,
		fieldSpec{name: "color", num: 16, label: opt, typ: tEnum, typeName: ".wjtest.Color"},
		fieldSpec{name: "child", num: 17, label: opt, typ: tMsg, typeName: ".wjtest.Rich"},
	)
	for i, s := range richScalars {
		specs = append(specs, fieldSpec{name: "r_" + s.name, num: int32(21 + i), label: rep, typ: s.typ})
	}
	specs = append(specs,
		fieldSpec{name: "r_color", num: 36, label: rep, typ: tEnum, typeName: ".wjtest.Color"},
		fieldSpec{name: "children", num: 37, label: rep, typ: tMsg, typeName: ".wjtest.Rich"},
		fieldSpec{name: "opt_i32", num: 40, label: opt, typ: descriptorpb.FieldDescriptorProto_TYPE_INT32, oneof: proto.Int32(1), opt3: true},
		fieldSpec{name: "opt_s", num: 41, label: opt, typ: descriptorpb.FieldDescriptorProto_TYPE_STRING, oneof: proto.Int32(2), opt3: true},
		fieldSpec{name: "opt_color", num: 42, label: opt, typ: tEnum, typeName: ".wjtest.Color", oneof: proto.Int32(3), opt3: true},
		fieldSpec{name: "c_i32", num: 50, label: opt, typ: descriptorpb.FieldDescriptorProto_TYPE_INT32, oneof: proto.Int32(0)},
		fieldSpec{name: "c_s", num: 51, label: opt, typ: descriptorpb.FieldDescriptorProto_TYPE_STRING, oneof: proto.Int32(0)},
		fieldSpec{name: "c_msg", num: 52, label: opt, typ: tMsg, typeName: ".wjtest.Rich", oneof: proto.Int32(0)},
		fieldSpec{name: "c_color", num: 53, label: opt, typ: tEnum, typeName: ".wjtest.Color", oneof: proto.Int32(0)},
		fieldSpec{name: "c_by", num: 54, label: opt, typ: descriptorpb.FieldDescriptorProto_TYPE_BYTES, oneof: proto.Int32(0)},
	)
	mapKeys := []descriptorpb.FieldDescriptorProto_Type{
		descriptorpb.FieldDescriptorProto_TYPE_INT32, descriptorpb.FieldDescriptorProto_TYPE_INT64,
		descriptorpb.FieldDescriptorProto_TYPE_UINT32, descriptorpb.FieldDescriptorProto_TYPE_UINT64,
		descriptorpb.FieldDescriptorProto_TYPE_SINT32, descriptorpb.FieldDescriptorProto_TYPE_SINT64,
		descriptorpb.FieldDescriptorProto_TYPE_FIXED32, descriptorpb.FieldDescriptorProto_TYPE_FIXED64,
		descriptorpb.FieldDescriptorProto_TYPE_SFIXED32, descriptorpb.FieldDescriptorProto_TYPE_SFIXED64,
		descriptorpb.FieldDescriptorProto_TYPE_BOOL, descriptorpb.FieldDescriptorProto_TYPE_STRING,
	}
	mapVals := []struct {
		typ      descriptorpb.FieldDescriptorProto_Type
		typeName string
	}{
		{descriptorpb.FieldDescriptorProto_TYPE_STRING, ""},
		{descriptorpb.FieldDescriptorProto_TYPE_INT64, ""},
		{tEnum, ".wjtest.Color"},
		{descriptorpb.FieldDescriptorProto_TYPE_BYTES, ""},
		{descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, ""},
		{descriptorpb.FieldDescriptorProto_TYPE_FLOAT, ""},
		{descriptorpb.FieldDescriptorProto_TYPE_BOOL, ""},
		{descriptorpb.FieldDescriptorProto_TYPE_UINT64, ""},
		{descriptorpb.FieldDescriptorProto_TYPE_SINT32, ""},
		{tMsg, ".wjtest.Rich"},
		{descriptorpb.FieldDescriptorProto_TYPE_STRING, ""},
		{tMsg, ".wjtest.Rich"},
	}
	var nested []*descriptorpb.DescriptorProto
	for i, k := range mapKeys {
		name := "m_" + scalarName(k)
		entry := mapEntryName(name)
		nested = append(nested, mapEntry(entry, k, mapVals[i].typ, mapVals[i].typeName))
		specs = append(specs, fieldSpec{name: name, num: int32(60 + i), label: rep, typ: tMsg, typeName: ".wjtest.Rich." + entry})
	}
	nested = append(nested, mapEntry("MValEntry", descriptorpb.FieldDescriptorProto_TYPE_STRING, tMsg, ".google.protobuf.Value"))
	wkts := []struct{ name, typeName string }{
		{"ts", "Timestamp"}, {"dur", "Duration"}, {"st", "Struct"}, {"val", "Value"}, {"lv", "ListValue"},
		{"fm", "FieldMask"}, {"w_bool", "BoolValue"}, {"w_i32", "Int32Value"}, {"w_i64", "Int64Value"},
		{"w_u32", "UInt32Value"}, {"w_u64", "UInt64Value"}, {"w_fl", "FloatValue"}, {"w_db", "DoubleValue"},
		{"w_s", "StringValue"}, {"w_by", "BytesValue"}, {"empty", "Empty"},
	}
	for i, w := range wkts {
		specs = append(specs, fieldSpec{name: w.name, num: int32(80 + i), label: opt, typ: tMsg, typeName: ".google.protobuf." + w.typeName})
	}
	specs = append(specs,
		fieldSpec{name: "nv", num: 96, label: opt, typ: tEnum, typeName: ".google.protobuf.NullValue"},
		fieldSpec{name: "r_ts", num: 97, label: rep, typ: tMsg, typeName: ".google.protobuf.Timestamp"},
		fieldSpec{name: "m_val", num: 98, label: rep, typ: tMsg, typeName: ".wjtest.Rich.MValEntry"},
		fieldSpec{name: "any", num: 100, label: opt, typ: tMsg, typeName: ".google.protobuf.Any"},
		fieldSpec{name: "r_val", num: 101, label: rep, typ: tMsg, typeName: ".google.protobuf.Value"},
	)
	return &descriptorpb.FileDescriptorProto{
		Name:    proto.String("wjtest/rich.proto"),
		Package: proto.String("wjtest"),
		Syntax:  proto.String("proto3"),
		Dependency: []string{
			"google/protobuf/timestamp.proto", "google/protobuf/duration.proto", "google/protobuf/struct.proto",
			"google/protobuf/field_mask.proto", "google/protobuf/wrappers.proto", "google/protobuf/empty.proto",
			"google/protobuf/any.proto",
		},
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Color"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("COLOR_UNSPECIFIED"), Number: proto.Int32(0)},
				{Name: proto.String("RED"), Number: proto.Int32(1)},
				{Name: proto.String("GREEN"), Number: proto.Int32(2)},
				{Name: proto.String("CRIMSON"), Number: proto.Int32(1)},
				{Name: proto.String("FAR"), Number: proto.Int32(1000)},
				{Name: proto.String("NEGATIVE"), Number: proto.Int32(-3)},
			},
			Options: &descriptorpb.EnumOptions{AllowAlias: proto.Bool(true)},
		}},
		MessageType: []*descriptorpb.DescriptorProto{{
			Name:       proto.String("Rich"),
			Field:      fields(specs...),
			NestedType: nested,
			OneofDecl: []*descriptorpb.OneofDescriptorProto{
				{Name: proto.String("choice")}, {Name: proto.String("_opt_i32")},
				{Name: proto.String("_opt_s")}, {Name: proto.String("_opt_color")},
			},
		}},
	}
}

func p2File() *descriptorpb.FileDescriptorProto {
	i32 := descriptorpb.FieldDescriptorProto_TYPE_INT32
	return &descriptorpb.FileDescriptorProto{
		Name:    proto.String("wjtest/p2.proto"),
		Package: proto.String("wjtest"),
		Syntax:  proto.String("proto2"),
		EnumType: []*descriptorpb.EnumDescriptorProto{{
			Name: proto.String("Shade"),
			Value: []*descriptorpb.EnumValueDescriptorProto{
				{Name: proto.String("DARK"), Number: proto.Int32(1)},
				{Name: proto.String("LIGHT"), Number: proto.Int32(2)},
			},
		}},
		MessageType: []*descriptorpb.DescriptorProto{
			{
				Name: proto.String("P2"),
				Field: fields(
					fieldSpec{name: "i32", num: 1, label: opt, typ: i32, def: "7"},
					fieldSpec{name: "s", num: 2, label: opt, typ: descriptorpb.FieldDescriptorProto_TYPE_STRING, def: "hi"},
					fieldSpec{name: "shade", num: 3, label: opt, typ: tEnum, typeName: ".wjtest.Shade"},
					fieldSpec{name: "by", num: 4, label: opt, typ: descriptorpb.FieldDescriptorProto_TYPE_BYTES},
					fieldSpec{name: "d", num: 5, label: opt, typ: descriptorpb.FieldDescriptorProto_TYPE_DOUBLE, def: "nan"},
					fieldSpec{name: "unpacked", num: 6, label: rep, typ: i32},
					fieldSpec{name: "packed", num: 7, label: rep, typ: i32, packed: proto.Bool(true)},
					fieldSpec{name: "shades", num: 8, label: rep, typ: tEnum, typeName: ".wjtest.Shade"},
					fieldSpec{name: "child", num: 9, label: opt, typ: tMsg, typeName: ".wjtest.P2"},
					fieldSpec{name: "m", num: 10, label: rep, typ: tMsg, typeName: ".wjtest.P2.MEntry"},
					fieldSpec{name: "f", num: 11, label: opt, typ: descriptorpb.FieldDescriptorProto_TYPE_FLOAT, def: "-inf"},
					fieldSpec{name: "g", num: 12, label: opt, typ: descriptorpb.FieldDescriptorProto_TYPE_GROUP, typeName: ".wjtest.P2.G"},
					fieldSpec{name: "b", num: 13, label: opt, typ: descriptorpb.FieldDescriptorProto_TYPE_BOOL},
				),
				NestedType: []*descriptorpb.DescriptorProto{
					mapEntry("MEntry", descriptorpb.FieldDescriptorProto_TYPE_STRING, descriptorpb.FieldDescriptorProto_TYPE_SINT64, ""),
					{Name: proto.String("G"), Field: fields(fieldSpec{name: "x", num: 1, label: opt, typ: i32})},
				},
				ExtensionRange: []*descriptorpb.DescriptorProto_ExtensionRange{{Start: proto.Int32(100), End: proto.Int32(200)}},
			},
			{
				Name: proto.String("Req"),
				Field: fields(
					fieldSpec{name: "id", num: 1, label: req, typ: i32},
					fieldSpec{name: "name", num: 2, label: opt, typ: descriptorpb.FieldDescriptorProto_TYPE_STRING},
				),
			},
			{
				Name:  proto.String("HasReq"),
				Field: fields(fieldSpec{name: "r", num: 1, label: opt, typ: tMsg, typeName: ".wjtest.Req"}),
			},
		},
	}
}

func scalarName(t descriptorpb.FieldDescriptorProto_Type) string {
	for _, s := range richScalars {
		if s.typ == t {
			return s.name
		}
	}
	return "x"
}

// testFiles builds the test schemas once per test binary.
func testFiles(tb testing.TB) (rich, p2, hasReq protoreflect.MessageDescriptor) {
	tb.Helper()
	files := new(protoregistry.Files)
	for _, fdp := range []*descriptorpb.FileDescriptorProto{richFile(), p2File()} {
		fd, err := protodesc.NewFile(fdp, protoregistry.GlobalFiles)
		if err != nil {
			tb.Fatalf("build %s: %v", fdp.GetName(), err)
		}
		if err := files.RegisterFile(fd); err != nil {
			tb.Fatal(err)
		}
	}
	find := func(name protoreflect.FullName) protoreflect.MessageDescriptor {
		d, err := files.FindDescriptorByName(name)
		if err != nil {
			tb.Fatal(err)
		}
		return d.(protoreflect.MessageDescriptor)
	}
	return find("wjtest.Rich"), find("wjtest.P2"), find("wjtest.HasReq")
}

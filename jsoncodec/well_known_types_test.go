package jsoncodec

import (
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/known/anypb"
	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/fieldmaskpb"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

func TestWellKnownOf(t *testing.T) {
	t.Parallel()
	for name, want := range map[protoreflect.FullName]wkt{
		"google.protobuf.Any": wktAny, "google.protobuf.Timestamp": wktTimestamp,
		"google.protobuf.Duration": wktDuration, "google.protobuf.UInt64Value": wktWrapper,
		"google.protobuf.BytesValue": wktWrapper, "google.protobuf.Struct": wktStruct,
		"google.protobuf.ListValue": wktListValue, "google.protobuf.Value": wktValue,
		"google.protobuf.FieldMask": wktFieldMask, "google.protobuf.Empty": wktEmpty,
		"google.protobuf.FileDescriptorProto": wktNone, "library.v1.Timestamp": wktNone,
		"google.protobuf.sub.Timestamp": wktNone, "Timestamp": wktNone,
	} {
		if got := wellKnownOf(name); got != want {
			t.Errorf("wellKnownOf(%s) = %d, want %d", name, got, want)
		}
	}
}

// lookAlike builds a message named google.protobuf.<name> with the given
// fields, as a descriptor set could carry one.
func lookAlike(t *testing.T, name string, fields ...*descriptorpb.FieldDescriptorProto) protoreflect.MessageDescriptor {
	t.Helper()
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{
		Name: proto.String("fake/" + name + ".proto"), Package: proto.String("google.protobuf"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{{Name: proto.String(name), Field: fields}},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return fd.Messages().Get(0)
}

func TestWellFormed(t *testing.T) {
	t.Parallel()
	field := func(name string, num int32, typ descriptorpb.FieldDescriptorProto_Type, label descriptorpb.FieldDescriptorProto_Label) *descriptorpb.FieldDescriptorProto {
		return &descriptorpb.FieldDescriptorProto{Name: proto.String(name), Number: proto.Int32(num), Type: typ.Enum(), Label: label.Enum(), JsonName: proto.String(name)}
	}
	const (
		opt      = descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL
		rep      = descriptorpb.FieldDescriptorProto_LABEL_REPEATED
		tInt64   = descriptorpb.FieldDescriptorProto_TYPE_INT64
		tInt32   = descriptorpb.FieldDescriptorProto_TYPE_INT32
		tString  = descriptorpb.FieldDescriptorProto_TYPE_STRING
		tBoolean = descriptorpb.FieldDescriptorProto_TYPE_BOOL
	)
	tests := []struct {
		name string
		md   protoreflect.MessageDescriptor
		want bool
	}{
		{"Timestamp", (&timestamppb.Timestamp{}).ProtoReflect().Descriptor(), true},
		{"Duration", (&durationpb.Duration{}).ProtoReflect().Descriptor(), true},
		{"BoolValue", (&wrapperspb.BoolValue{}).ProtoReflect().Descriptor(), true},
		{"BytesValue", (&wrapperspb.BytesValue{}).ProtoReflect().Descriptor(), true},
		{"Struct", (&structpb.Struct{}).ProtoReflect().Descriptor(), true},
		{"ListValue", (&structpb.ListValue{}).ProtoReflect().Descriptor(), true},
		{"Value", (&structpb.Value{}).ProtoReflect().Descriptor(), true},
		{"FieldMask", (&fieldmaskpb.FieldMask{}).ProtoReflect().Descriptor(), true},
		{"Any", (&anypb.Any{}).ProtoReflect().Descriptor(), true},
		{"Empty", (&emptypb.Empty{}).ProtoReflect().Descriptor(), true},
		{"wrapper without value", lookAlike(t, "BoolValue"), false},
		{"wrapper with a second field", lookAlike(t, "BoolValue", field("value", 1, tBoolean, opt), field("x", 2, tBoolean, opt)), false},
		{"wrapper value repeated", lookAlike(t, "StringValue", field("value", 1, tString, rep)), false},
		{"timestamp nanos int64", lookAlike(t, "Timestamp", field("seconds", 1, tInt64, opt), field("nanos", 2, tInt64, opt)), false},
		{"duration without nanos", lookAlike(t, "Duration", field("seconds", 1, tInt64, opt)), false},
		{"field mask singular", lookAlike(t, "FieldMask", field("paths", 1, tString, opt)), false},
		{"struct without fields", lookAlike(t, "Struct"), false},
		{"list value of strings", lookAlike(t, "ListValue", field("values", 1, tString, rep)), false},
		{"value without oneof", lookAlike(t, "Value", field("number_value", 2, tInt32, opt)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := wellFormed(tt.md); got != tt.want {
				t.Errorf("wellFormed(%s) = %v, want %v", tt.md.FullName(), got, tt.want)
			}
		})
	}
}

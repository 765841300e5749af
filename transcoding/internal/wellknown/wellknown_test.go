package wellknown_test

import (
	"testing"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/sluice-dev/sluice/transcoding/internal/wellknown"
)

func TestOf(t *testing.T) {
	t.Parallel()
	for name, want := range map[protoreflect.FullName]wellknown.Kind{
		"google.protobuf.Any": wellknown.Any, "google.protobuf.Timestamp": wellknown.Timestamp,
		"google.protobuf.Duration": wellknown.Duration, "google.protobuf.UInt64Value": wellknown.Wrapper,
		"google.protobuf.BytesValue": wellknown.Wrapper, "google.protobuf.Struct": wellknown.Struct,
		"google.protobuf.ListValue": wellknown.ListValue, "google.protobuf.Value": wellknown.Value,
		"google.protobuf.FieldMask": wellknown.FieldMask, "google.protobuf.Empty": wellknown.Empty,
		"google.protobuf.FileDescriptorProto": wellknown.None, "library.v1.Timestamp": wellknown.None,
		"google.protobuf.sub.Timestamp": wellknown.None, "Timestamp": wellknown.None,
	} {
		if got := wellknown.Of(name); got != want {
			t.Errorf("Of(%s) = %d, want %d", name, got, want)
		}
	}
}

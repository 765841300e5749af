package transcoding

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/dynamicpb"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
)

// A map entry that repeats its key with another wire type makes
// proto.Unmarshal into a dynamicpb message panic; a response decoded for
// a contract loaded at run time must fail with an error instead.
func TestUnmarshalResponseRecoversDynamicpbPanic(t *testing.T) {
	t.Parallel()
	var entry []byte
	entry = protowire.AppendTag(entry, 1, protowire.BytesType)
	entry = protowire.AppendString(entry, "a")
	entry = protowire.AppendTag(entry, 1, protowire.VarintType)
	entry = protowire.AppendVarint(entry, 5)
	labels := (&libraryv1.Book{}).ProtoReflect().Descriptor().Fields().ByName("labels")
	data := protowire.AppendTag(nil, labels.Number(), protowire.BytesType)
	data = protowire.AppendBytes(data, entry)

	m := dynamicpb.NewMessage(labels.ContainingMessage())
	if err := unmarshalResponse(data, m, protoregistry.GlobalTypes); err == nil {
		t.Fatal("a malformed map entry decoded without an error")
	}
	if err := unmarshalResponse(data[:len(data)-1], m, protoregistry.GlobalTypes); err == nil {
		t.Fatal("a truncated message decoded without an error")
	}
}

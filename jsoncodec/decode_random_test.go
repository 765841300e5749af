package jsoncodec_test

import (
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/jsoncodec"
)

// TestRandomMessages marshals random messages with protojson, in every
// option combination, and requires the fast path to decode each of them
// (these types hold nothing it leaves to protojson) as protojson does, and
// back to the original.
func TestRandomMessages(t *testing.T) {
	t.Parallel()
	types := newTestTypes(t)
	for _, mt := range []protoreflect.MessageType{
		(&libraryv1.Book{}).ProtoReflect().Type(),
		(&libraryv1.CreateBookRequest{}).ProtoReflect().Type(),
		(&libraryv1.UpdateBookRequest{}).ProtoReflect().Type(),
		(&libraryv1.ListBooksResponse{}).ProtoReflect().Type(),
		(&libraryv1.UploadBookRequest{}).ProtoReflect().Type(),
		types.all,
		types.legacy,
	} {
		t.Run(string(mt.Descriptor().Name()), func(t *testing.T) {
			t.Parallel()
			dec := jsoncodec.NewDecoder(jsoncodec.UnmarshalOptions{})
			r := rand.New(rand.NewPCG(1, uint64(len(mt.Descriptor().FullName()))))
			for i := range 100 {
				m := mt.New()
				// All nests All in many fields: keep it to two levels.
				g := gen{r: r, maxDepth: 2, roundTrip: true}
				if mt == types.all {
					g.maxDepth = 1
				}
				g.fill(m, 0)
				opts := protojson.MarshalOptions{
					UseProtoNames:   i%2 == 1,
					EmitUnpopulated: i%4 >= 2,
				}
				if i%8 >= 4 {
					opts.Indent = "  "
				}
				data, err := opts.Marshal(m.Interface())
				if err != nil {
					t.Fatalf("protojson.Marshal(%v): %v", prototext.Format(m.Interface()), err)
				}
				if checkContract(t, dec, false, mt, data) {
					t.Fatalf("fast path fell back on %s", data)
				}
				if opts.EmitUnpopulated {
					// An unset google.protobuf.Value is written as null,
					// which decodes to a null Value: no round trip, but
					// checkContract compared with protojson's decoding.
					continue
				}
				wire, _ := dec.AppendMessage(nil, data, mt.Descriptor())
				got := mt.New().Interface()
				if err := proto.Unmarshal(wire, got); err != nil {
					t.Fatal(err)
				}
				if !proto.Equal(got, m.Interface()) {
					t.Fatalf("decoded %s as\n%v\nwant\n%v", data, prototext.Format(got), prototext.Format(m.Interface()))
				}
			}
		})
	}
}

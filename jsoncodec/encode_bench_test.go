package jsoncodec_test

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/jsoncodec"
)

// The REST adapter's response path before jsoncodec: proto.Unmarshal into
// the linked generated type (or dynamicpb) + protojson.MarshalAppend,
// against AppendMessage on the same wire bytes.

func BenchmarkEncodeBook(b *testing.B) {
	benchmarkEncode(b, demoBook())
}

func BenchmarkEncodeLargeBytes(b *testing.B) {
	benchmarkEncode(b, &libraryv1.GetShelfFileResponse{File: &libraryv1.ShelfFile{
		Name:        "shelves/classics/files/cover.png",
		ContentType: "image/png",
		Content:     bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 64<<10/4),
		SizeBytes:   64 << 10,
	}})
}

func benchmarkEncode(b *testing.B, msg proto.Message) {
	data := mustMarshal(b, msg)
	md := msg.ProtoReflect().Descriptor()
	opts := protojson.MarshalOptions{}
	b.Run("protojson", func(b *testing.B) {
		var buf []byte
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			m := msg.ProtoReflect().New().Interface()
			if err := proto.Unmarshal(data, m); err != nil {
				b.Fatal(err)
			}
			var err error
			if buf, err = opts.MarshalAppend(buf[:0], m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("protojson-dynamicpb", func(b *testing.B) {
		var buf []byte
		b.SetBytes(int64(len(data)))
		b.ReportAllocs()
		for b.Loop() {
			m := dynamicpb.NewMessage(md)
			if err := proto.Unmarshal(data, m); err != nil {
				b.Fatal(err)
			}
			var err error
			if buf, err = opts.MarshalAppend(buf[:0], m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jsoncodec", func(b *testing.B) {
		enc := jsoncodec.NewEncoder(jsoncodec.MarshalOptions{})
		benchmarkEncoder(b, enc, data, md)
	})
	b.Run("jsoncodec-emit-unpopulated", func(b *testing.B) {
		enc := jsoncodec.NewEncoder(jsoncodec.MarshalOptions{EmitUnpopulated: true})
		benchmarkEncoder(b, enc, data, md)
	})
}

func benchmarkEncoder(b *testing.B, enc *jsoncodec.Encoder, data []byte, md protoreflect.MessageDescriptor) {
	var buf []byte
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = enc.AppendMessage(buf[:0], data, md); err != nil {
			b.Fatal(err)
		}
	}
}

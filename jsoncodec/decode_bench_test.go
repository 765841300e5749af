package jsoncodec_test

import (
	"crypto/rand"
	"encoding/base64"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/jsoncodec"
)

// BenchmarkDecode compares the fast path with what it replaces,
// protojson.Unmarshal followed by proto.Marshal, on a typical CreateBook
// body and on a body carrying a 64 KiB bytes field.
func BenchmarkDecode(b *testing.B) {
	cover := make([]byte, 64<<10)
	if _, err := rand.Read(cover); err != nil {
		b.Fatal(err)
	}
	bodies := []struct {
		name string
		data []byte
	}{
		{"Book", []byte(createBookBody)},
		{"Book64KiB", []byte(`{"title": "Cover", "coverImage": "` + base64.StdEncoding.EncodeToString(cover) + `"}`)},
	}
	md := (&libraryv1.Book{}).ProtoReflect().Descriptor()
	for _, body := range bodies {
		b.Run(body.name+"/jsoncodec", func(b *testing.B) {
			dec := jsoncodec.NewDecoder(jsoncodec.UnmarshalOptions{})
			var buf []byte
			b.SetBytes(int64(len(body.data)))
			b.ReportAllocs()
			for b.Loop() {
				var err error
				buf, err = dec.AppendMessage(buf[:0], body.data, md)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(body.name+"/protojson", func(b *testing.B) {
			var buf []byte
			b.SetBytes(int64(len(body.data)))
			b.ReportAllocs()
			for b.Loop() {
				m := new(libraryv1.Book)
				if err := protojson.Unmarshal(body.data, m); err != nil {
					b.Fatal(err)
				}
				var err error
				buf, err = proto.MarshalOptions{}.MarshalAppend(buf[:0], m)
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDecodeNoAllocations pins what BenchmarkDecode reports: with warm scratch
// and a large enough dst, decoding allocates nothing.
func TestDecodeNoAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops items at random under the race detector")
	}
	md := (&libraryv1.Book{}).ProtoReflect().Descriptor()
	body := []byte(createBookBody)
	for _, discard := range []bool{false, true} {
		dec := jsoncodec.NewDecoder(jsoncodec.UnmarshalOptions{DiscardUnknown: discard})
		buf := make([]byte, 0, 4096)
		if _, err := dec.AppendMessage(buf, body, md); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			_, _ = dec.AppendMessage(buf, body, md)
		})
		if allocs > 0 {
			t.Errorf("DiscardUnknown=%v: %v allocations per call, want 0", discard, allocs)
		}
	}
}

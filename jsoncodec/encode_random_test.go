package jsoncodec_test

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/jsoncodec"
)

// topFields splits a message's wire bytes into its top-level fields.
func topFields(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil
		}
		m := protowire.ConsumeFieldValue(num, wt, b[n:])
		if m < 0 {
			return nil
		}
		out = append(out, b[:n+m])
		b = b[n+m:]
	}
	return out
}

// unpack rewrites a packed run of a packable field as single values.
func unpack(md protoreflect.MessageDescriptor, field []byte) []byte {
	num, wt, n := protowire.ConsumeTag(field)
	fd := md.Fields().ByNumber(num)
	if fd == nil || !fd.IsList() || wt != protowire.BytesType || fd.Kind() == protoreflect.StringKind ||
		fd.Kind() == protoreflect.BytesKind || fd.Kind() == protoreflect.MessageKind {
		return field
	}
	run, _ := protowire.ConsumeBytes(field[n:])
	var out []byte
	for len(run) > 0 {
		var m int
		switch fd.Kind() {
		case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
			out = protowire.AppendTag(out, num, protowire.Fixed32Type)
			m = 4
		case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
			out = protowire.AppendTag(out, num, protowire.Fixed64Type)
			m = 8
		default:
			out = protowire.AppendTag(out, num, protowire.VarintType)
			_, m = protowire.ConsumeVarint(run)
		}
		if m < 0 || m > len(run) {
			return field
		}
		out = append(out, run[:m]...)
		run = run[m:]
	}
	return out
}

// mutate reshapes valid wire data the ways the wire format allows: fields
// reordered, duplicated, unpacked, unknown fields added, two messages
// concatenated (merged).
func mutate(r *rand.Rand, md protoreflect.MessageDescriptor, data, other []byte) []byte {
	fs := topFields(data)
	if r.IntN(3) == 0 {
		r.Shuffle(len(fs), func(i, j int) { fs[i], fs[j] = fs[j], fs[i] })
	}
	var out []byte
	for _, f := range fs {
		if r.IntN(3) == 0 {
			f = unpack(md, f)
		}
		out = append(out, f...)
		if r.IntN(8) == 0 {
			out = append(out, f...)
		}
		if r.IntN(8) == 0 {
			out = protowire.AppendVarint(protowire.AppendTag(out, protowire.Number(3000+r.IntN(100)), protowire.VarintType), randUint(r))
		}
	}
	if r.IntN(3) == 0 {
		out = append(out, other...)
	}
	return out
}

// rareShapes are fallback reasons that are acceptable even when protojson
// prints the message: wire shapes whose dropped data would need validating.
var rareShapes = []string{"oneof message member", "duplicate key in map", "carries its value twice", "overwritten invalid UTF-8"}

func TestRandomDifferential(t *testing.T) {
	t.Parallel()
	rich, p2, _ := testFiles(t)
	types := []protoreflect.MessageDescriptor{rich, p2,
		(&libraryv1.Book{}).ProtoReflect().Descriptor(),
		(&libraryv1.ListBooksResponse{}).ProtoReflect().Descriptor(),
		(&libraryv1.ImportBooksResponse{}).ProtoReflect().Descriptor(),
	}
	r := newRand(42)
	opts := allOptions()
	iterations := 3000
	if raceEnabled {
		iterations = 500 // the race detector slows the reference path tenfold
	}
	fallbacks := 0
	for i := range iterations {
		md := types[i%len(types)]
		m, other := dynamicpb.NewMessage(md), dynamicpb.NewMessage(md)
		fill(r, m, 0)
		fill(r, other, 0)
		data := mustMarshal(t, m)
		if i%2 == 1 {
			data = mutate(r, md, data, mustMarshal(t, other))
		}
		o := opts[r.IntN(len(opts))]
		err := differ(t, md, data, o)
		if err == nil {
			continue
		}
		fallbacks++
		if testing.Verbose() {
			t.Logf("fallback: %v", err)
		}
		if _, werr := reference(md, data, o); werr != nil {
			continue // protojson rejects it: falling back reports its error
		}
		rare := false
		for _, s := range rareShapes {
			rare = rare || strings.Contains(err.Error(), s)
		}
		if !rare {
			t.Errorf("%s %+v data %x: unexpected fallback %v", md.FullName(), o, data, err)
		}
	}
	if fallbacks > iterations/10 {
		t.Errorf("%d of %d messages fell back", fallbacks, iterations)
	}
	t.Logf("%d of %d messages fell back", fallbacks, iterations)
}

func FuzzEncode(f *testing.F) {
	rich, p2, _ := testFiles(f)
	book := (&libraryv1.Book{}).ProtoReflect().Descriptor()
	f.Add(mustMarshal(f, demoBook()), uint8(0))
	f.Add(mustMarshal(f, demoBook()), uint8(7))
	f.Add([]byte{0x08, 0x80}, uint8(1))
	f.Add([]byte{0x72, 0x05, 'a'}, uint8(2))
	r := newRand(3)
	for i := range 16 {
		md := []protoreflect.MessageDescriptor{rich, p2, book}[i%3]
		m := dynamicpb.NewMessage(md)
		fill(r, m, 0)
		f.Add(mustMarshal(f, m), uint8(i))
	}
	types := []protoreflect.MessageDescriptor{rich, p2, book}
	f.Fuzz(func(t *testing.T, data []byte, sel uint8) {
		o := allOptions()[sel%8]
		md := types[int(sel/8)%len(types)]
		got, err := encoders[o].AppendMessage(nil, data, md)
		want, werr := reference(md, data, o)
		switch {
		case errors.Is(werr, errReferencePanicked), errors.Is(err, jsoncodec.ErrFallback):
		case err != nil:
			if werr == nil {
				t.Errorf("AppendMessage: %v; protojson printed %s", err, want)
			}
		case werr != nil:
			t.Errorf("AppendMessage printed %s; protojson failed: %v", got, werr)
		default:
			if g, w := compact(t, got), compact(t, want); g != w {
				t.Errorf("\n got %s\nwant %s", g, w)
			}
		}
	})
}

package wirejson_test

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/transcoding/wirejson"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

var runePalette = []rune{'a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', '\b', '\f', '\r', 0, 0x1f, 0x7f, 'é', 0x2028, 0xfffd, 0x1f600, '<', '&', '_'}

func randString(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(6) {
		b.WriteRune(runePalette[r.IntN(len(runePalette))])
	}
	return b.String()
}

func randUint(r *rand.Rand) uint64 {
	switch r.IntN(6) {
	case 0:
		return 0
	case 1:
		return uint64(r.IntN(300))
	case 2:
		return math.MaxUint64 - uint64(r.IntN(3))
	case 3:
		return 1 << r.IntN(64)
	default:
		return r.Uint64() >> r.IntN(64)
	}
}

func randFloat(r *rand.Rand) float64 {
	edges := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), 1e21, 1e20, 1e-6, 1e-7, 0.1, -2.5, 5e-324, math.MaxFloat64, 123456.789}
	if r.IntN(2) == 0 {
		return edges[r.IntN(len(edges))]
	}
	return math.Float64frombits(r.Uint64())
}

var fieldMaskPaths = []string{"a", "foo_bar", "foo_bar.baz", "x1.y2_z", "_a", "display_name"}

// fill sets random fields of m, keeping within what protojson prints: no
// Any, valid well-known types, bounded depth.
func fill(r *rand.Rand, m protoreflect.Message, depth int) {
	md := m.Descriptor()
	fds := md.Fields()
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		m.Set(fds.ByNumber(1), protoreflect.ValueOfInt64(-62135596800+r.Int64N(253402300799+62135596800+1)))
		m.Set(fds.ByNumber(2), protoreflect.ValueOfInt32(randNanos(r)))
		return
	case "google.protobuf.Duration":
		secs, nanos := r.Int64N(315576000001), randNanos(r)
		if r.IntN(2) == 0 {
			secs, nanos = -secs, -nanos
		}
		m.Set(fds.ByNumber(1), protoreflect.ValueOfInt64(secs))
		m.Set(fds.ByNumber(2), protoreflect.ValueOfInt32(nanos))
		return
	case "google.protobuf.Value":
		kind := r.IntN(6)
		if depth > 3 {
			kind = r.IntN(4)
		}
		fd := fds.ByNumber(protowire.Number(kind + 1))
		switch kind {
		case 0:
			m.Set(fd, protoreflect.ValueOfEnum(0))
		case 1:
			f := randFloat(r)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				f = 1.5
			}
			m.Set(fd, protoreflect.ValueOfFloat64(f))
		case 2:
			m.Set(fd, protoreflect.ValueOfString(randString(r)))
		case 3:
			m.Set(fd, protoreflect.ValueOfBool(r.IntN(2) == 0))
		default:
			sub := m.NewField(fd).Message()
			fill(r, sub, depth+1)
			m.Set(fd, protoreflect.ValueOfMessage(sub))
		}
		return
	case "google.protobuf.FieldMask":
		l := m.Mutable(fds.ByNumber(1)).List()
		for range r.IntN(3) {
			l.Append(protoreflect.ValueOfString(fieldMaskPaths[r.IntN(len(fieldMaskPaths))]))
		}
		return
	}
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		if r.IntN(2) == 0 || fd.Kind() == protoreflect.GroupKind {
			continue
		}
		if fd.Message() != nil && (fd.Message().FullName() == "google.protobuf.Any" || depth > 2 || (depth > 0 && r.IntN(2) == 0)) {
			continue
		}
		if od := fd.ContainingOneof(); od != nil && m.WhichOneof(od) != nil {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range r.IntN(4) {
				l.Append(randValue(r, fd, l.NewElement, depth))
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range r.IntN(4) {
				k := randValue(r, fd.MapKey(), nil, depth).MapKey()
				mp.Set(k, randValue(r, fd.MapValue(), mp.NewValue, depth))
			}
		default:
			m.Set(fd, randValue(r, fd, func() protoreflect.Value { return m.NewField(fd) }, depth))
		}
	}
}

func randNanos(r *rand.Rand) int32 {
	switch r.IntN(4) {
	case 0:
		return 0
	case 1:
		return int32(r.IntN(1000)) * 1e6
	case 2:
		return int32(r.IntN(1e6)) * 1e3
	}
	return int32(r.IntN(1e9))
}

func randValue(r *rand.Rand, fd protoreflect.FieldDescriptor, newMsg func() protoreflect.Value, depth int) protoreflect.Value {
	u := randUint(r)
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(u&1 == 1)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		if r.IntN(5) == 0 {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(int32(u)))
		}
		return protoreflect.ValueOfEnum(vals.Get(r.IntN(vals.Len())).Number())
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(u))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(int64(u))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(u))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return protoreflect.ValueOfUint64(u)
	case protoreflect.FloatKind:
		return protoreflect.ValueOfFloat32(float32(randFloat(r)))
	case protoreflect.DoubleKind:
		return protoreflect.ValueOfFloat64(randFloat(r))
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(randString(r))
	case protoreflect.BytesKind:
		b := make([]byte, r.IntN(8))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return protoreflect.ValueOfBytes(b)
	}
	v := newMsg()
	fill(r, v.Message(), depth+1)
	return v
}

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

func FuzzAppendMessage(f *testing.F) {
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
		case errors.Is(werr, errReferencePanicked), errors.Is(err, wirejson.ErrFallback):
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

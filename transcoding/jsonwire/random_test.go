package jsonwire_test

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	libraryv1 "github.com/sluice-dev/sluice/gen/go/sluice/demo/library/v1"
	"github.com/sluice-dev/sluice/transcoding/jsonwire"
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
			dec := jsonwire.NewDecoder(jsonwire.Options{})
			r := rand.New(rand.NewPCG(1, uint64(len(mt.Descriptor().FullName()))))
			for i := range 100 {
				m := mt.New()
				// All nests All in many fields: keep it to two levels.
				depth := 3
				if mt == types.all {
					depth = 2
				}
				populate(r, m, depth)
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

// populate sets random values in about half the fields of m, nesting
// messages up to depth levels.
func populate(r *rand.Rand, m protoreflect.Message, depth int) {
	md := m.Descriptor()
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		set(m, "seconds", protoreflect.ValueOfInt64(-62135596800+r.Int64N(253402300799+62135596800+1)))
		set(m, "nanos", protoreflect.ValueOfInt32(randNanos(r)))
		return
	case "google.protobuf.Duration":
		secs, nanos := r.Int64N(315576000001), randNanos(r)
		if r.IntN(2) == 0 {
			secs, nanos = -secs, -nanos
		}
		set(m, "seconds", protoreflect.ValueOfInt64(secs))
		set(m, "nanos", protoreflect.ValueOfInt32(nanos))
		return
	case "google.protobuf.FieldMask":
		paths := m.Mutable(md.Fields().ByName("paths")).List()
		for range r.IntN(4) {
			paths.Append(protoreflect.ValueOfString(randPath(r)))
		}
		return
	case "google.protobuf.Value":
		randValue(r, m, depth)
		return
	case "google.protobuf.Any":
		return
	}
	fds := md.Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if r.IntN(2) == 0 || (fd.Message() != nil && fd.Message().FullName() == "google.protobuf.Any") {
			continue
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() && m.WhichOneof(od) != nil {
			continue
		}
		switch {
		case fd.IsList():
			if fd.Message() != nil && depth == 0 {
				continue
			}
			l := m.Mutable(fd).List()
			for range r.IntN(4) {
				l.Append(randField(r, m, fd, l.NewElement, depth))
			}
		case fd.IsMap():
			if fd.MapValue().Message() != nil && depth == 0 {
				continue
			}
			mp := m.Mutable(fd).Map()
			for range r.IntN(4) {
				k := randScalar(r, fd.MapKey()).MapKey()
				mp.Set(k, randField(r, m, fd.MapValue(), mp.NewValue, depth))
			}
		default:
			if fd.Message() != nil && depth == 0 {
				continue
			}
			m.Set(fd, randField(r, m, fd, func() protoreflect.Value { return m.NewField(fd) }, depth))
		}
	}
}

func set(m protoreflect.Message, name protoreflect.Name, v protoreflect.Value) {
	m.Set(m.Descriptor().Fields().ByName(name), v)
}

func randNanos(r *rand.Rand) int32 {
	switch r.IntN(4) {
	case 0:
		return 0
	case 1:
		return int32(r.IntN(1000)) * 1000000
	}
	return int32(r.IntN(1000000000))
}

// randPath returns a field mask path that survives the lowerCamelCase
// round trip: lower-case words joined by single underscores and dots.
func randPath(r *rand.Rand) string {
	var b strings.Builder
	for i := range 1 + r.IntN(3) {
		if i > 0 {
			b.WriteByte('.')
		}
		for j := range 1 + r.IntN(3) {
			if j > 0 {
				b.WriteByte('_')
			}
			for range 1 + r.IntN(4) {
				b.WriteByte(byte('a' + r.IntN(26)))
			}
		}
	}
	return b.String()
}

// randValue sets a random kind in the google.protobuf.Value m.
func randValue(r *rand.Rand, m protoreflect.Message, depth int) {
	fds := m.Descriptor().Fields()
	kind := r.IntN(6)
	if depth == 0 {
		kind = r.IntN(4)
	}
	switch kind {
	case 0:
		m.Set(fds.ByName("null_value"), protoreflect.ValueOfEnum(0))
	case 1:
		m.Set(fds.ByName("number_value"), protoreflect.ValueOfFloat64(r.NormFloat64()*1e6))
	case 2:
		m.Set(fds.ByName("string_value"), protoreflect.ValueOfString(randString(r)))
	case 3:
		m.Set(fds.ByName("bool_value"), protoreflect.ValueOfBool(r.IntN(2) == 0))
	case 4:
		fd := fds.ByName("struct_value")
		s := m.NewField(fd)
		mp := s.Message().Mutable(s.Message().Descriptor().Fields().ByName("fields")).Map()
		for range r.IntN(4) {
			v := mp.NewValue()
			randValue(r, v.Message(), depth-1)
			mp.Set(protoreflect.ValueOfString(randString(r)).MapKey(), v)
		}
		m.Set(fd, s)
	case 5:
		fd := fds.ByName("list_value")
		lv := m.NewField(fd)
		l := lv.Message().Mutable(lv.Message().Descriptor().Fields().ByName("values")).List()
		for range r.IntN(4) {
			v := l.NewElement()
			randValue(r, v.Message(), depth-1)
			l.Append(v)
		}
		m.Set(fd, lv)
	}
}

// randField returns a random value for fd (or a list element or map value
// of it); newMsg makes the message for message kinds.
func randField(r *rand.Rand, parent protoreflect.Message, fd protoreflect.FieldDescriptor, newMsg func() protoreflect.Value, depth int) protoreflect.Value {
	if fd.Kind() != protoreflect.MessageKind {
		return randScalar(r, fd)
	}
	v := newMsg()
	populate(r, v.Message(), depth-1)
	return v
}

func randString(r *rand.Rand) string {
	pieces := []string{"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x00", "\x1f", "\u007f", "é", "中", "😀", "\u2028", "<>&"}
	var b strings.Builder
	for range r.IntN(6) {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

// randScalar returns a random value of the scalar or enum field fd,
// favouring edge values.
func randScalar(r *rand.Rand, fd protoreflect.FieldDescriptor) protoreflect.Value {
	edge := r.IntN(3) == 0
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(r.IntN(2) == 0)
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		if edge {
			return protoreflect.ValueOfInt32([]int32{0, -1, math.MaxInt32, math.MinInt32}[r.IntN(4)])
		}
		return protoreflect.ValueOfInt32(int32(r.Uint32()) >> r.IntN(32))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		if edge {
			return protoreflect.ValueOfInt64([]int64{0, -1, math.MaxInt64, math.MinInt64}[r.IntN(4)])
		}
		return protoreflect.ValueOfInt64(int64(r.Uint64()) >> r.IntN(64))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		if edge {
			return protoreflect.ValueOfUint32([]uint32{0, 1, math.MaxUint32}[r.IntN(3)])
		}
		return protoreflect.ValueOfUint32(r.Uint32() >> r.IntN(32))
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if edge {
			return protoreflect.ValueOfUint64([]uint64{0, 1, math.MaxUint64}[r.IntN(3)])
		}
		return protoreflect.ValueOfUint64(r.Uint64() >> r.IntN(64))
	case protoreflect.FloatKind:
		if edge {
			return protoreflect.ValueOfFloat32([]float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), math.MaxFloat32, math.SmallestNonzeroFloat32}[r.IntN(7)])
		}
		return protoreflect.ValueOfFloat32(float32(r.NormFloat64() * math.Pow(10, float64(r.IntN(60)-30))))
	case protoreflect.DoubleKind:
		if edge {
			return protoreflect.ValueOfFloat64([]float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, math.SmallestNonzeroFloat64}[r.IntN(7)])
		}
		return protoreflect.ValueOfFloat64(r.NormFloat64() * math.Pow(10, float64(r.IntN(600)-300)))
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(randString(r))
	case protoreflect.BytesKind:
		b := make([]byte, r.IntN(8))
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return protoreflect.ValueOfBytes(b)
	case protoreflect.EnumKind:
		vals := fd.Enum().Values()
		// protojson writes every NullValue as null.
		if !fd.Enum().IsClosed() && edge && fd.Enum().FullName() != "google.protobuf.NullValue" {
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(r.Int32N(1000) - 500))
		}
		return protoreflect.ValueOfEnum(vals.Get(r.IntN(vals.Len())).Number())
	}
	panic("unexpected kind " + fd.Kind().String())
}

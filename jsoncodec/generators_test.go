package jsoncodec_test

import (
	"math"
	"math/rand/v2"
	"strings"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The random message generator both directions' differential tests use:
// the encoder's prints messages it makes (and reshaped wire forms of them)
// and compares with protojson; the decoder's has protojson print them and
// reads the JSON back.

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

// gen makes random messages within what protojson prints: no Any, valid
// well-known types, bounded depth.
type gen struct {
	r *rand.Rand
	// maxDepth is the deepest nesting level whose messages still get
	// message fields.
	maxDepth int
	// roundTrip keeps to values whose JSON reads back as the same message:
	// only declared numbers for closed enums (an undeclared one is read
	// back as an unknown field) and for google.protobuf.NullValue (always
	// written as null).
	roundTrip bool
}

// fill sets random fields of m with the encoder tests' settings.
func fill(r *rand.Rand, m protoreflect.Message, depth int) {
	gen{r: r, maxDepth: 2}.fill(m, depth)
}

var runePalette = []rune{'a', 'Z', '0', ' ', '"', '\\', '/', '\n', '\t', '\b', '\f', '\r', 0, 0x1f, 0x7f, 'é', '中', 0x2028, 0xfffd, 0x1f600, '<', '&', '_'}

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

// fieldMaskPaths are edge paths; randPath makes more.
var fieldMaskPaths = []string{"a", "foo_bar", "foo_bar.baz", "x1.y2_z", "_a", "display_name"}

// randPath returns a field mask path that survives the lowerCamelCase
// round trip: lower-case words joined by single underscores and dots.
func randPath(r *rand.Rand) string {
	if r.IntN(2) == 0 {
		return fieldMaskPaths[r.IntN(len(fieldMaskPaths))]
	}
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

// fill sets random fields of m, a message at nesting level depth.
func (g gen) fill(m protoreflect.Message, depth int) {
	r := g.r
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
		if depth > g.maxDepth+1 {
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
			g.fill(sub, depth+1)
			m.Set(fd, protoreflect.ValueOfMessage(sub))
		}
		return
	case "google.protobuf.FieldMask":
		l := m.Mutable(fds.ByNumber(1)).List()
		for range r.IntN(3) {
			l.Append(protoreflect.ValueOfString(randPath(r)))
		}
		return
	}
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		if r.IntN(2) == 0 || fd.Kind() == protoreflect.GroupKind {
			continue
		}
		if fd.Message() != nil && (fd.Message().FullName() == "google.protobuf.Any" || depth > g.maxDepth || (depth > 0 && r.IntN(2) == 0)) {
			continue
		}
		if od := fd.ContainingOneof(); od != nil && m.WhichOneof(od) != nil {
			continue
		}
		switch {
		case fd.IsList():
			l := m.Mutable(fd).List()
			for range r.IntN(4) {
				l.Append(g.value(fd, l.NewElement, depth))
			}
		case fd.IsMap():
			mp := m.Mutable(fd).Map()
			for range r.IntN(4) {
				k := g.value(fd.MapKey(), nil, depth).MapKey()
				mp.Set(k, g.value(fd.MapValue(), mp.NewValue, depth))
			}
		default:
			m.Set(fd, g.value(fd, func() protoreflect.Value { return m.NewField(fd) }, depth))
		}
	}
}

// value returns a random value of fd (or of a list element or map value
// of it); newMsg makes the message for message kinds.
func (g gen) value(fd protoreflect.FieldDescriptor, newMsg func() protoreflect.Value, depth int) protoreflect.Value {
	r := g.r
	u := randUint(r)
	switch fd.Kind() {
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(u&1 == 1)
	case protoreflect.EnumKind:
		ed := fd.Enum()
		vals := ed.Values()
		undeclared := r.IntN(5) == 0
		if g.roundTrip && (ed.IsClosed() || ed.FullName() == "google.protobuf.NullValue") {
			undeclared = false
		}
		if undeclared {
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
	g.fill(v.Message(), depth+1)
	return v
}

// mapEntryName is the entry message name protoc derives from a map field
// name: CamelCase plus "Entry".
func mapEntryName(field string) string {
	var out []byte
	upper := true
	for i := 0; i < len(field); i++ {
		c := field[i]
		switch {
		case c == '_':
			upper = true
		case upper && 'a' <= c && c <= 'z':
			out = append(out, c-'a'+'A')
			upper = false
		default:
			out = append(out, c)
			upper = false
		}
	}
	return string(out) + "Entry"
}

package jsoncodec

import (
	"math"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// msgPlan is everything needed to print one message type, built once.
type msgPlan struct {
	md     protoreflect.MessageDescriptor
	wkt    wkt
	fields []fieldPlan // in declaration order, which is protojson's order
	// Field number to index+1 (0: not a field): dense when numbers are
	// small, a map otherwise.
	dense     []int32
	sparse    map[protowire.Number]int32
	empty     []fieldState // len(fields) unset states, copied in per message
	nOneofs   int
	required  []int32 // indexes of proto2 required fields
	hasExt    bool    // the message declares extension ranges
	forbidden string  // non-empty: always fall back, and why
}

// fieldPlan is one field (or a map entry's key or value).
type fieldPlan struct {
	fd       protoreflect.FieldDescriptor
	kind     protoreflect.Kind
	name     []byte         // `"name":`
	unset    []byte         // what EmitUnpopulated prints when unset
	zero     []byte         // the JSON of the field's default value (map values, wrappers)
	wt       protowire.Type // wire type of one element
	list     bool
	isMap    bool
	packable bool // repeated scalar that may come packed
	presence bool // explicit presence: a zero value still counts as set
	narrow   bool // varint kind whose value is the low 32 bits
	oneof    int32
	msg      *msgPlan   // message kinds, map values of message kind
	enum     *enumPlan  // enum kinds
	key, val *fieldPlan // maps
}

// enumPlan holds an enum's quoted value names.
type enumPlan struct {
	null    bool     // google.protobuf.NullValue prints as null
	numbers bool     // UseEnumNumbers
	dense   [][]byte // quoted names by number, for numbers in [0, len)
	sparse  map[protoreflect.EnumNumber][]byte
}

// lookup returns the index of field number num, or -1.
func (p *msgPlan) lookup(num protowire.Number) int {
	if uint64(num) < uint64(len(p.dense)) {
		return int(p.dense[num]) - 1
	}
	if p.sparse != nil {
		if i, ok := p.sparse[num]; ok {
			return int(i) - 1
		}
	}
	return -1
}

// plan returns the cached plan for md, building it (and the plans of every
// message type it reaches) on first use.
func (e *Encoder) plan(md protoreflect.MessageDescriptor) *msgPlan {
	if p, ok := e.plans.load(md); ok {
		return p
	}
	return e.plans.get(md, e.build)
}

// build makes the plan of md and of every message type it reaches.
func (e *Encoder) build(md protoreflect.MessageDescriptor) (*msgPlan, map[protoreflect.MessageDescriptor]*msgPlan) {
	b := &encodeBuilder{e: e, done: map[protoreflect.MessageDescriptor]*msgPlan{}, enums: map[protoreflect.EnumDescriptor]*enumPlan{}}
	return b.message(md), b.done
}

type encodeBuilder struct {
	e     *Encoder
	done  map[protoreflect.MessageDescriptor]*msgPlan
	enums map[protoreflect.EnumDescriptor]*enumPlan
}

func (b *encodeBuilder) message(md protoreflect.MessageDescriptor) *msgPlan {
	if p, ok := b.e.plans.load(md); ok {
		return p
	}
	if p, ok := b.done[md]; ok {
		return p // recursive type: the plan is being filled in
	}
	p := &msgPlan{md: md}
	b.done[md] = p
	fds := md.Fields()
	p.fields = make([]fieldPlan, fds.Len())
	p.empty = make([]fieldState, fds.Len())
	p.nOneofs = md.Oneofs().Len()
	p.hasExt = md.ExtensionRanges().Len() > 0
	if opts, ok := md.Options().(*descriptorpb.MessageOptions); ok && opts.GetMessageSetWireFormat() {
		p.forbidden = "proto1 MessageSet"
	}
	maxNum := protowire.Number(0)
	for i := range p.fields {
		fd := fds.Get(i)
		p.empty[i] = fieldState{first: -1, last: -1}
		b.field(&p.fields[i], fd)
		if fd.Cardinality() == protoreflect.Required {
			p.required = append(p.required, int32(i))
		}
		maxNum = max(maxNum, fd.Number())
	}
	if maxNum < 1024 {
		p.dense = make([]int32, maxNum+1)
		for i := range p.fields {
			p.dense[p.fields[i].fd.Number()] = int32(i + 1)
		}
	} else {
		p.sparse = make(map[protowire.Number]int32, len(p.fields))
		for i := range p.fields {
			p.sparse[p.fields[i].fd.Number()] = int32(i + 1)
		}
	}
	p.wkt = wellKnown(md)
	if !wellFormed(md) {
		p.forbidden = "unexpected shape of " + string(md.FullName())
	}
	return p
}

func (b *encodeBuilder) field(fp *fieldPlan, fd protoreflect.FieldDescriptor) {
	opts := b.e.opts
	fp.fd = fd
	fp.kind = fd.Kind()
	fp.oneof = -1
	if od := fd.ContainingOneof(); od != nil {
		fp.oneof = int32(od.Index())
	}
	name := fd.JSONName()
	if opts.UseProtoNames {
		name = fd.TextName()
	}
	// A name that is not valid UTF-8 cannot come from a valid descriptor;
	// protojson would fail on it, so print nothing and fall back.
	if q, err := appendString(nil, []byte(name)); err == nil {
		fp.name = append(q, ':')
	}
	fp.list = fd.IsList()
	fp.isMap = fd.IsMap()
	fp.presence = fd.HasPresence()
	fp.wt = wireType(fp.kind)
	switch fp.kind {
	case protoreflect.Int32Kind, protoreflect.Uint32Kind, protoreflect.Sint32Kind, protoreflect.EnumKind:
		fp.narrow = true
	}
	fp.packable = fp.list && fp.wt != protowire.BytesType && fp.wt != protowire.StartGroupType
	switch {
	case fp.isMap:
		fp.key, fp.val = &fieldPlan{}, &fieldPlan{}
		b.field(fp.key, fd.MapKey())
		b.field(fp.val, fd.MapValue())
	case fp.kind == protoreflect.MessageKind || fp.kind == protoreflect.GroupKind:
		fp.msg = b.message(fd.Message())
	case fp.kind == protoreflect.EnumKind:
		fp.enum = b.enum(fd.Enum())
	}
	switch {
	case fp.isMap:
		fp.unset = []byte("{}")
	case fp.list:
		fp.unset = []byte("[]")
	case fp.presence:
		fp.unset = []byte("null")
	}
	if !fp.list && !fp.isMap && fp.msg == nil {
		fp.zero = b.scalarJSON(fp, fd.Default())
		if fp.unset == nil {
			fp.unset = fp.zero
		}
	}
}

func (b *encodeBuilder) enum(ed protoreflect.EnumDescriptor) *enumPlan {
	if ep, ok := b.enums[ed]; ok {
		return ep
	}
	ep := &enumPlan{null: ed.FullName() == "google.protobuf.NullValue", numbers: b.e.opts.UseEnumNumbers}
	b.enums[ed] = ep
	vals := ed.Values()
	maxNum := protoreflect.EnumNumber(-1)
	dense := true
	for i := 0; i < vals.Len(); i++ {
		n := vals.Get(i).Number()
		if n < 0 || n >= 256 {
			dense = false
		}
		maxNum = max(maxNum, n)
	}
	if dense {
		ep.dense = make([][]byte, maxNum+1)
	} else {
		ep.sparse = make(map[protoreflect.EnumNumber][]byte, vals.Len())
	}
	for i := 0; i < vals.Len(); i++ {
		v := vals.Get(i)
		// The first value declared with a number wins, as ByNumber does.
		if ed.Values().ByNumber(v.Number()) != v {
			continue
		}
		q, err := appendString(nil, []byte(v.Name()))
		if err != nil {
			continue
		}
		if dense {
			ep.dense[v.Number()] = q
		} else {
			ep.sparse[v.Number()] = q
		}
	}
	return ep
}

// scalarJSON prints a scalar value the way the encoder prints wire values.
func (b *encodeBuilder) scalarJSON(fp *fieldPlan, v protoreflect.Value) []byte {
	var raw uint64
	var bs []byte
	switch fp.kind {
	case protoreflect.BoolKind:
		if v.Bool() {
			raw = 1
		}
	case protoreflect.EnumKind:
		raw = uint64(v.Enum())
	case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
		raw = uint64(v.Int())
	case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
		raw = protowire.EncodeZigZag(v.Int())
	case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
		raw = v.Uint()
	case protoreflect.FloatKind:
		raw = uint64(math.Float32bits(float32(v.Float())))
	case protoreflect.DoubleKind:
		raw = math.Float64bits(v.Float())
	case protoreflect.StringKind:
		bs = []byte(v.String())
	case protoreflect.BytesKind:
		bs = v.Bytes()
	default:
		return []byte("null")
	}
	out, err := appendScalar(nil, fp, raw, bs)
	if err != nil {
		return []byte(`""`)
	}
	return out
}

// wellKnown reports which well-known type md is, by name as protojson
// does. Empty prints as the empty message it is.
func wellKnown(md protoreflect.MessageDescriptor) wkt {
	if k := wellKnownOf(md.FullName()); k != wktEmpty {
		return k
	}
	return wktNone
}

package jsoncodec

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
)

// wktUnsupported marks a decode plan left to protojson: Any (its mapping
// needs a type resolver) and the messages the fast path does not decode.
const wktUnsupported = wktAny

// decodePlan is what the decoder needs of one message type, computed once per
// descriptor. Plans are immutable once published.
type decodePlan struct {
	wkt    wkt
	fields []decodeField
	// names maps every name protojson resolves (JSON name first, then the
	// text name) to an index in fields.
	names map[string]int32
	// nOneofs is the number of oneofs, real or synthetic.
	nOneofs int
}

// decodeField is what the decoder needs of one decodeField (or of a map entry's key or
// value).
type decodeField struct {
	num      protowire.Number
	kind     protoreflect.Kind
	list     bool
	packed   bool
	presence bool
	// nullable is set when JSON null is a value of the field rather than
	// "unset": google.protobuf.Value and google.protobuf.NullValue.
	nullable bool
	// nullEnum is set for google.protobuf.NullValue.
	nullEnum bool
	oneof    int32 // index of the containing oneof, or -1
	// jsonName is the field's JSON name; ownsJSONName is set when protojson
	// resolves that name to this field.
	jsonName     string
	ownsJSONName bool
	tag          []byte
	lenTag       []byte      // the tag with the length-delimited wire type
	msg          *decodePlan // for message fields and map values
	// enumNames maps enum value names to numbers; closed lists the numbers
	// of a closed enum (nil for an open one).
	enumNames map[string]int32
	closed    map[int32]bool
	// key and val describe a map field's entries.
	key, val *decodeField
}

// decodeBuilder computes the plans reachable from one message type; plans of
// recursive types refer to each other.
type decodeBuilder struct {
	d     *Decoder
	local map[protoreflect.MessageDescriptor]*decodePlan
}

func (b *decodeBuilder) build(md protoreflect.MessageDescriptor) *decodePlan {
	if p, ok := b.d.plans.load(md); ok {
		return p
	}
	if p, ok := b.local[md]; ok {
		return p
	}
	p := &decodePlan{wkt: wellKnownOf(md.FullName())}
	b.local[md] = p
	if p.wkt == wktUnsupported || !supported(md) || !wellFormed(md) {
		p.wkt = wktUnsupported
		return p
	}
	fds := md.Fields()
	p.fields = make([]decodeField, fds.Len())
	p.names = make(map[string]int32, 2*fds.Len())
	p.nOneofs = md.Oneofs().Len()
	for i := range fds.Len() {
		fd := fds.Get(i)
		b.field(&p.fields[i], fd)
		if fd.IsMap() {
			f := &p.fields[i]
			f.key, f.val = new(decodeField), new(decodeField)
			b.field(f.key, fd.MapKey())
			b.field(f.val, fd.MapValue())
		}
	}
	// Resolve names exactly as protojson does, so that a name shared by
	// two fields (one's JSON name, another's proto name) lands where
	// protojson puts it.
	for i := range fds.Len() {
		fd := fds.Get(i)
		for _, name := range [2]string{fd.JSONName(), fd.TextName()} {
			r := fds.ByJSONName(name)
			if r == nil {
				r = fds.ByTextName(name)
			}
			if r != nil {
				p.names[name] = int32(r.Index())
			}
		}
		f := &p.fields[i]
		f.jsonName = fd.JSONName()
		f.ownsJSONName = p.names[f.jsonName] == int32(i)
	}
	return p
}

// supported reports whether the fast path can decode messages of type md:
// proto2 required fields (protojson checks them after decoding), groups
// and MessageSets are left to protojson.
func supported(md protoreflect.MessageDescriptor) bool {
	if opts, ok := md.Options().(*descriptorpb.MessageOptions); ok && opts.GetMessageSetWireFormat() {
		return false
	}
	fds := md.Fields()
	for i := range fds.Len() {
		fd := fds.Get(i)
		if fd.Cardinality() == protoreflect.Required || fd.Kind() == protoreflect.GroupKind {
			return false
		}
		if fd.IsMap() && fd.MapValue().Kind() == protoreflect.GroupKind {
			return false
		}
	}
	return true
}

func (b *decodeBuilder) field(f *decodeField, fd protoreflect.FieldDescriptor) {
	f.num = fd.Number()
	f.kind = fd.Kind()
	f.list = fd.IsList()
	f.packed = fd.IsPacked()
	f.presence = fd.HasPresence()
	f.oneof = -1
	if od := fd.ContainingOneof(); od != nil {
		f.oneof = int32(od.Index())
	}
	f.tag = protowire.AppendTag(nil, f.num, wireType(f.kind))
	f.lenTag = protowire.AppendTag(nil, f.num, protowire.BytesType)
	switch f.kind {
	case protoreflect.MessageKind:
		if !fd.IsMap() {
			f.msg = b.build(fd.Message())
			f.nullable = fd.Message().FullName() == "google.protobuf.Value"
		}
	case protoreflect.EnumKind:
		ed := fd.Enum()
		f.nullEnum = ed.FullName() == "google.protobuf.NullValue"
		f.nullable = f.nullEnum
		vals := ed.Values()
		f.enumNames = make(map[string]int32, vals.Len())
		if ed.IsClosed() {
			f.closed = make(map[int32]bool, vals.Len())
		}
		for i := range vals.Len() {
			v := vals.Get(i)
			// ByName semantics: the first value of a name wins (names are
			// unique within an enum anyway).
			if _, dup := f.enumNames[string(v.Name())]; !dup {
				f.enumNames[string(v.Name())] = int32(v.Number())
			}
			if f.closed != nil {
				f.closed[int32(v.Number())] = true
			}
		}
	}
}

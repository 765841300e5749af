package jsonwire

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/sluice-dev/sluice/transcoding/internal/wellknown"
)

// wkt is a message's JSON mapping.
type wkt = wellknown.Kind

const (
	wktNone        = wellknown.None
	wktUnsupported = wellknown.Any // its mapping needs a type resolver: left to protojson
	wktTimestamp   = wellknown.Timestamp
	wktDuration    = wellknown.Duration
	wktWrapper     = wellknown.Wrapper
	wktStruct      = wellknown.Struct
	wktListValue   = wellknown.ListValue
	wktValue       = wellknown.Value
	wktFieldMask   = wellknown.FieldMask
	wktEmpty       = wellknown.Empty
)

// plan is what the decoder needs of one message type, computed once per
// descriptor. Plans are immutable once published.
type plan struct {
	wkt    wkt
	fields []field
	// names maps every name protojson resolves (JSON name first, then the
	// text name) to an index in fields.
	names map[string]int32
	// nOneofs is the number of oneofs, real or synthetic.
	nOneofs int
}

// field is what the decoder needs of one field (or of a map entry's key or
// value).
type field struct {
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
	lenTag       []byte // the tag with the length-delimited wire type
	msg          *plan  // for message fields and map values
	// enumNames maps enum value names to numbers; closed lists the numbers
	// of a closed enum (nil for an open one).
	enumNames map[string]int32
	closed    map[int32]bool
	// key and val describe a map field's entries.
	key, val *field
}

// wireType returns the wire type of one value of kind k.
func wireType(k protoreflect.Kind) protowire.Type {
	switch k {
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		return protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		return protowire.Fixed64Type
	case protoreflect.StringKind, protoreflect.BytesKind, protoreflect.MessageKind:
		return protowire.BytesType
	}
	return protowire.VarintType
}

// builder computes the plans reachable from one message type; plans of
// recursive types refer to each other.
type builder struct {
	d     *Decoder
	local map[protoreflect.MessageDescriptor]*plan
}

func (b *builder) build(md protoreflect.MessageDescriptor) *plan {
	if p, ok := b.d.plans.Load(md); ok {
		return p.(*plan)
	}
	if p, ok := b.local[md]; ok {
		return p
	}
	p := &plan{wkt: wellknown.Of(md.FullName())}
	b.local[md] = p
	if p.wkt == wktUnsupported || !supported(md) || !wellknown.WellFormed(md) {
		p.wkt = wktUnsupported
		return p
	}
	fds := md.Fields()
	p.fields = make([]field, fds.Len())
	p.names = make(map[string]int32, 2*fds.Len())
	p.nOneofs = md.Oneofs().Len()
	for i := range fds.Len() {
		fd := fds.Get(i)
		b.field(&p.fields[i], fd)
		if fd.IsMap() {
			f := &p.fields[i]
			f.key, f.val = new(field), new(field)
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

func (b *builder) field(f *field, fd protoreflect.FieldDescriptor) {
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
